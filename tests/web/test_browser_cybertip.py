"""The provider's desk in a real browser: an investigator drafts a CyberTipline report of an
analysed simulated operation's subject, reviews its document, revises it, submits it (a job the
server runs against NCMEC's stand-in on loopback) and sees it finished, then finds the year's
legal hold the finished report placed on itself. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_server import Server, add_people, analyse, screenshot, serve, sign_in
from playwright.sync_api import expect
from sqlalchemy import select

from kaitiaki.cybertip.credentials import set_credentials
from kaitiaki.cybertip.errors import CyberTipError
from kaitiaki.cybertip.gather import gather
from kaitiaki.cybertip.profile import set_profile
from kaitiaki.cybertip.schema import annotation_names
from kaitiaki.cybertip.standin import StandIn, serve_in_thread
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import Subject

USER, PASSWORD = "esp-browser-user", "Not-A-Real-Password-browser-2d"


@dataclass(frozen=True)
class Site:
    server: Server
    people: dict[str, str]
    analysis: Path
    subject: str
    standin: StandIn


def _reportable(store: Store, workspace: Path) -> str:
    with store.session() as session:
        subjects = sorted(session.scalars(select(Subject.id)))
    for subject in subjects:
        try:
            gather(store, workspace, subject)
        except CyberTipError:
            continue
        return str(subject)
    raise AssertionError("no subject of the analysis can be reported")


@pytest.fixture(scope="module")
def site(
    module_store_url: str,
    simulated_operation: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("cybertip")
    store = open_store(module_store_url)
    analysis = analyse(store, simulated_operation, folder / "analysis")
    people = add_people(store)
    standin = StandIn(USER, PASSWORD)
    with pytest.MonkeyPatch.context() as env, serve_in_thread(standin.app) as url:
        # The server (a process of its own) reads both from its environment: the credentials'
        # key beside its signing keys, and the stand-in's URL in place of NCMEC's.
        env.setenv("KAITIAKI_KEYS", str(folder / "keys"))
        env.setenv("KAITIAKI_CYBERTIP_URL", url)
        set_profile(
            store,
            actor="test:setup",
            first_name="Ana",
            last_name="Trust",
            email="ana.trust@example.org",
            esp_name="ExampleCloud",
        )
        set_credentials(store, USER, PASSWORD, production=False, actor="test:setup")
        subject = _reportable(store, analysis / "workspace")
        store.close()
        with serve(module_store_url, folder) as server:
            yield Site(server, people, analysis, subject, standin)


def test_draft_review_submit_and_see_the_hold(browser: Any, site: Site) -> None:
    base = site.server.url
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, base, site.people["investigator"])
        page.get_by_test_id("nav-reports").click()
        expect(page.get_by_test_id("reports-table")).to_be_visible()
        annotation = annotation_names("reportAnnotations")[0]
        page.get_by_test_id("draft-subject").fill(site.subject)
        page.get_by_test_id("draft-analysis").fill(str(site.analysis))
        page.get_by_test_id(f"draft-annotation-{annotation}").check()
        with page.expect_navigation(timeout=60_000):  # reloaded once the draft is stored
            page.get_by_test_id("draft-submit").click()
        row = page.get_by_test_id("report-row").filter(has_text=site.subject)
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("report-state")).to_have_text("draft")
        report_id = str(row.get_attribute("data-report-id"))
        row.get_by_role("link").first.click()

        # Review: the document as NCMEC will receive it, shown as text.
        expect(page.get_by_test_id("report-id")).to_have_text(report_id)
        expect(page.get_by_test_id("report-state")).to_have_text("draft")
        document = page.get_by_test_id("report-document").inner_text()
        assert document.lstrip().startswith("<?xml") and "<report" in document
        assert f"<{annotation}" in document
        expect(page.get_by_test_id("report-annotations")).to_have_text(annotation)
        page.get_by_test_id("revise-escalate").fill("the child is at immediate risk")
        with page.expect_navigation():
            page.get_by_test_id("revise-submit").click()
        expect(page.get_by_test_id("report-escalate")).to_have_text(
            "the child is at immediate risk"
        )
        assert "escalateToHighPriority" in page.get_by_test_id("report-document").inner_text()

        page.get_by_test_id("report-submit").click()
        result = page.get_by_test_id("submit-form").get_by_test_id("form-result")
        expect(result.get_by_test_id("job")).to_be_visible()
        expect(result.get_by_test_id("job-status")).to_have_text("done", timeout=90_000)
        page.reload()
        expect(page.get_by_test_id("report-state")).to_have_text("finished")
        ncmec_id = page.get_by_test_id("report-ncmec-id").inner_text()
        assert ncmec_id and int(ncmec_id) in site.standin.reports
        expect(page.get_by_test_id("submit-form")).to_have_count(0)
        screenshot(page, "cybertip-report")

        page.get_by_test_id("nav-holds").click()
        held = page.get_by_test_id("hold-row").filter(has_text=f"report {report_id}")
        expect(held).to_have_count(1)
        assert "ncmec_report" in held.inner_text() and ncmec_id in held.inner_text()
        expect(held.get_by_test_id("hold-standing")).to_have_text("yes")
    finally:
        context.close()
