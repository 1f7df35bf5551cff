"""Referrals in a real browser: an investigator builds the packages (a job) and sends one; the
liaison officer of that referral's agency moves it along and records its outcome, which the
investigator then sees; a liaison of another agency cannot see it at all (not listed, 404 on the
page and through the API, for status changes and outcomes alike)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_server import (
    Server,
    add_people,
    analyse,
    csrf_of,
    screenshot,
    serve,
    sign_in,
    subject_jurisdictions,
)
from playwright.sync_api import expect
from web_helpers import PASSWORD

from kaitiaki.refer.signing import DEFAULT_KEY_NAME, generate_key
from kaitiaki.store import open_store
from kaitiaki.users import Role, add_user


@dataclass(frozen=True)
class Site:
    server: Server
    people: dict[str, str]
    analysis: Path
    agency: str  # the liaison's
    other_liaison: str


@pytest.fixture(scope="module")
def site(
    module_store_url: str,
    simulated_operation: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("referrals")
    store = open_store(module_store_url)
    analysis = analyse(store, simulated_operation, folder / "analysis")
    ours, theirs = subject_jurisdictions(store)[:2]
    people = add_people(store, liaison=ours)
    add_user(
        store, "other.liaison", Role.LIAISON, PASSWORD, actor="test:setup", jurisdictions=[theirs]
    )
    store.close()
    generate_key(folder / "keys" / DEFAULT_KEY_NAME)  # where serve() points KAITIAKI_KEYS
    with serve(module_store_url, folder) as server:
        yield Site(server, people, analysis, ours.agency, "other.liaison")


def _referral_of(page: Any, agency: str) -> str:
    row = page.get_by_test_id("referral-row").filter(has_text=agency)
    expect(row).to_have_count(1)
    return str(row.get_attribute("data-referral-id"))


def _set_status(page: Any, status: str, note: str) -> None:
    page.get_by_test_id("status-select").select_option(status)
    page.get_by_test_id("status-note").fill(note)
    with page.expect_navigation():  # the page reloads once the API has taken the change
        page.get_by_test_id("status-submit").click()
    expect(page.get_by_test_id("referral-status")).to_have_text(status)


def test_build_send_update_and_isolate_a_referral(browser: Any, site: Site) -> None:
    base = site.server.url
    investigator = browser.new_context()
    page = investigator.new_page()
    sign_in(page, base, site.people["investigator"])
    page.get_by_test_id("nav-referrals").click()
    page.get_by_test_id("build-analysis").fill(str(site.analysis))
    page.get_by_test_id("build-submit").click()
    expect(page.get_by_test_id("form-result").get_by_test_id("job")).to_be_visible()
    status = page.get_by_test_id("form-result").get_by_test_id("job-status")
    expect(status).to_have_text("done", timeout=90_000)
    page.reload()
    referral = _referral_of(page, site.agency)
    page.get_by_test_id("referral-row").filter(has_text=site.agency).get_by_role("link").click()
    expect(page.get_by_test_id("referral-id")).to_have_text(referral)
    expect(page.get_by_test_id("referral-status")).to_have_text("draft")
    expect(page.get_by_test_id("status-submit")).to_have_text("Send")
    _set_status(page, "sent", "sent through the secure portal")

    liaison = browser.new_context()
    officer = liaison.new_page()
    sign_in(officer, base, site.people["liaison"])
    officer.get_by_test_id("nav-referrals").click()
    rows = officer.get_by_test_id("referral-row")
    assert rows.count() >= 1
    assert all(site.agency in rows.nth(i).inner_text() for i in range(rows.count()))
    officer.get_by_test_id("referral-row").filter(has_text=referral).get_by_role("link").click()
    expect(officer.get_by_test_id("referral-id")).to_have_text(referral)
    for step in ("acknowledged", "investigating", "warrant", "arrest"):
        _set_status(officer, step, f"{step}: reported by the liaison officer")
    history = officer.get_by_test_id("referral-history").locator("tbody tr")
    expect(history).to_have_count(6)  # draft, sent, and the liaison's four steps
    last = history.last.inner_text()
    assert "arrest" in last and f"web:{site.people['liaison']}" in last
    # A step skipped is refused, and the page says so.
    api = officer.request.post(
        f"{base}/api/referrals/{referral}/status",
        data={"status": "convicted"},
        headers={"X-CSRF-Token": csrf_of(officer)},
    )
    assert api.status == 409

    # The liaison officer reports the outcome on the referral's page; the investigator sees it.
    officer.reload()
    officer.get_by_test_id("outcome-kind").select_option("arrested")
    officer.get_by_test_id("outcome-count").fill("1")
    with officer.expect_navigation():
        officer.get_by_test_id("outcome-submit").click()
    outcome = officer.get_by_test_id("referral-outcomes").locator("tbody tr")
    expect(outcome).to_have_count(1)
    assert "arrested" in outcome.inner_text()
    assert f"web:{site.people['liaison']}" in outcome.inner_text()
    page.reload()
    seen = page.get_by_test_id("referral-outcomes").locator("tbody tr")
    expect(seen).to_have_count(1)
    assert "arrested" in seen.inner_text()
    screenshot(officer, "referral-detail")
    investigator.close()
    liaison.close()

    stranger = browser.new_context()
    other = stranger.new_page()
    try:
        sign_in(other, base, site.other_liaison)
        other.get_by_test_id("nav-referrals").click()
        expect(other.get_by_test_id("referrals-table")).to_be_visible()
        assert referral not in other.get_by_test_id("referrals-table").inner_text()
        response = other.goto(f"{base}/referrals/{referral}")
        assert response is not None and response.status == 404
        expect(other.get_by_test_id("error-status")).to_have_text("404")
        assert site.agency not in other.content()
        listed = other.request.get(f"{base}/api/referrals")
        assert listed.status == 200 and referral not in [r["id"] for r in listed.json()]
        assert other.request.get(f"{base}/api/referrals/{referral}").status == 404
        moved = other.request.post(
            f"{base}/api/referrals/{referral}/status",
            data={"status": "charged"},
            headers={"X-CSRF-Token": csrf_of(other)},
        )
        assert moved.status == 404
        reported = other.request.post(
            f"{base}/api/referrals/{referral}/outcomes",
            data={"kind": "children_safeguarded", "count": 2},
            headers={"X-CSRF-Token": csrf_of(other)},
        )
        assert reported.status == 404
    finally:
        stranger.close()
