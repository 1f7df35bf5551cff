"""The home page in a real browser, per role: "Your work" first, with the counts of a seeded
store written out here (not derived from the code under test), each linking to its list, and
nothing of another jurisdiction for the liaison. Then the operation's figures, for the roles that
may read them; ``/dashboard`` lands on the same page.

SQLite only: the counts go through the list pages' own functions, tested on both engines in
their own tests; here what is tested is the page a person sees.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from browser_server import (
    NZ_AGENCY,
    PageProblems,
    Server,
    add_people,
    review_evidence,
    screenshot,
    serve,
    sign_in,
)
from package_samples import document, key_pair, make_package, subject
from playwright.sync_api import expect

from kaitiaki.legal.holds import place_hold
from kaitiaki.receive.importing import import_package
from kaitiaki.receive.work import assign_case
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import open_store
from kaitiaki.store.models import CyberTipReport, Job, Referral
from kaitiaki.triage.review import decide
from kaitiaki.users import Scope

AU_AGENCY = "Australian Federal Police"
NZ_CASES = ("KAI-NZ-20261201-1", "KAI-NZ-20261201-2")
AU_CASE = "KAI-AU-20261201-1"

# What each role's "Your work" shows on the seeded store, in order: (key, count).
# Review: 7 new photos, one decided. Received: two NZ cases and one Australian, one NZ case
# assigned to the liaison. Referrals: NZ sent, AU sent, GB draft. Holds: one expiring in 10
# days, one in 90. Reports: two drafts, one failed, one finished. Jobs: the investigator's are
# all finished.
DESK = [("holds", 1), ("reports-draft", 2), ("reports-failed", 1)]
EXPECTED: dict[str, list[tuple[str, int]]] = {
    "admin": [
        ("review", 6),
        ("received", 3),
        ("assigned", 0),
        ("referrals-draft", 1),
        ("jobs", 0),
        *DESK,
    ],
    "investigator": [
        ("review", 6),
        ("received", 3),
        ("assigned", 0),
        ("referrals-draft", 1),
        ("jobs", 0),
        *DESK,
    ],
    "reviewer": [("review", 6)],
    "liaison": [("received", 2), ("assigned", 1), ("referrals-sent", 1)],
    "auditor": [("received", 3), ("jobs", 0), *DESK],
}
# Roles that see the operation's figures under their work.
FIGURES = {"admin", "investigator", "auditor"}
# The list each count links to, by the test id of its rows, where the link filters it exactly.
ROWS = {
    "received": "received-row",
    "assigned": "received-row",
    "referrals-sent": "referral-row",
    "referrals-draft": "referral-row",
    "reports-draft": "report-row",
    "reports-failed": "report-row",
}
OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"


def _import(store: Any, folder: Path, key: Path, reference: str, country: str, agency: str) -> None:
    number = int.from_bytes(reference.encode()) % 2**64
    doc = document(
        reference, country=country, agency=agency, subjects=[subject(f"S-{number:016x}")]
    )
    package = make_package(folder / reference, key, doc)
    import_package(store, package, actor="test:setup", scope=Scope.operator())


def _seed(store: Any, folder: Path, people: dict[str, str]) -> None:
    evidence = review_evidence(store, folder / "phone")
    decide(
        store,
        evidence_id=evidence.evidence_id,
        sha256=evidence.colour_photo,
        category="ignorable",
        by="test:setup",
        apply_to_group=False,
    )
    key, public = key_pair(folder, "partner")
    add_trusted_key(store, "partner unit", public, actor="test:setup")
    for reference in NZ_CASES:
        _import(store, folder / "packages", key, reference, "NZ", NZ_AGENCY)
    _import(store, folder / "packages", key, AU_CASE, "AU", AU_AGENCY)
    assign_case(store, NZ_CASES[0], people["liaison"], actor="test:setup", scope=Scope.operator())
    now = datetime.now(UTC)
    for days in (10, 90):
        place_hold(
            store,
            actor="test:setup",
            target_type="evidence",
            target_id="phone-01",
            basis_kind="other",
            basis_text=f"benign test hold, {days} days",
            reference=f"PR-{days}",
            expires_at=now + timedelta(days=days),
        )
    with store.session() as session:
        session.add_all(
            [
                Referral(id="REF-NZ-1", agency=NZ_AGENCY, country="NZ", status="sent"),
                Referral(id="REF-AU-1", agency=AU_AGENCY, country="AU", status="sent"),
                Referral(id="REF-GB-1", agency="National Crime Agency", country="GB"),
            ]
        )
        for n, state in enumerate(("draft", "draft", "failed", "finished")):
            session.add(
                CyberTipReport(
                    subject_id=f"S-{n}",
                    state=state,
                    document="<report/>",
                    document_sha256=f"{n}" * 64,
                    created_by="test",
                )
            )
        session.add(
            Job(
                kind="scan",
                params={},
                status="done",
                created_by=f"web:{people['investigator']}",
            )
        )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("home")
    url = f"sqlite:///{folder / 'kaitiaki.db'}"
    store = open_store(url)
    people = add_people(store)
    _seed(store, folder, people)
    store.close()
    shutil.rmtree(folder / "packages")
    with serve(url, folder) as server:
        yield server, people


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_each_role_sees_its_own_work_first(
    browser: Any, site: tuple[Server, dict[str, str]], role: str
) -> None:
    server, people = site
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    try:
        sign_in(page, server.url, people[role])
        assert page.url.rstrip("/") == server.url
        work = page.get_by_test_id("your-work")
        expect(work).to_be_visible()
        items = work.locator("li.work-item")
        shown = [
            (
                str(items.nth(i).get_attribute("data-testid")).removeprefix("work-"),
                int(items.nth(i).get_attribute("data-count") or -1),
            )
            for i in range(items.count())
        ]
        assert shown == EXPECTED[role]
        for key, count in EXPECTED[role]:
            expect(page.get_by_test_id(f"work-{key}-count")).to_have_text(f"{count:,}")
            # An empty item says what to do next; one with work waiting does not.
            expect(page.get_by_test_id(f"work-{key}-idle")).to_have_count(0 if count else 1)
        # "Your work" comes before the operation's figures, which only some roles may read.
        figures = page.get_by_test_id("figures")
        if role in FIGURES:
            assert work.bounding_box()["y"] < figures.bounding_box()["y"]
        else:
            expect(figures).to_have_count(0)
            expect(page.get_by_test_id("home-links")).to_be_visible()
        # Every count links to a list the role may open; a filtered list shows that many rows.
        links = {
            key: page.get_by_test_id(f"work-{key}-link").get_attribute("href")
            for key, _ in EXPECTED[role]
        }
        for key, count in EXPECTED[role]:
            response = page.goto(f"{server.url}{links[key]}")
            assert response is not None and response.status == 200, (key, links[key])
            if key in ROWS:
                expect(page.get_by_test_id(ROWS[key])).to_have_count(count)
        page.goto(f"{server.url}/")
        # A 13-inch laptop and a 1280 px screen: no horizontal page scroll on either.
        for size in ({"width": 1280, "height": 800}, {"width": 1440, "height": 900}):
            page.set_viewport_size(size)
            assert page.evaluate(OVERFLOW) <= 0, size
        page.wait_for_load_state("networkidle")
        screenshot(page, f"home-{role}")
        assert problems.messages == []
    finally:
        context.close()


def test_the_liaison_sees_nothing_of_another_jurisdiction(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, people = site
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        sign_in(page, server.url, people["liaison"])
        text = page.content()
        assert AU_CASE not in text and "REF-AU-1" not in text and AU_AGENCY not in text
        with page.expect_navigation():
            page.get_by_test_id("work-received-link").click()
        rows = page.get_by_test_id("received-row")
        listed = {rows.nth(i).get_attribute("data-reference") for i in range(rows.count())}
        assert listed == set(NZ_CASES)
    finally:
        context.close()


def test_the_old_dashboard_address_lands_on_the_home_page(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, people = site
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, server.url, people["auditor"])
        response = page.goto(f"{server.url}/dashboard")
        assert response is not None and response.status == 200
        assert page.url.rstrip("/") == server.url
        expect(page.get_by_test_id("figures")).to_be_visible()
        expect(page.get_by_test_id("expiring-hold")).to_have_count(1)
    finally:
        context.close()


def test_times_are_shown_in_the_readers_zone_with_utc_on_hover(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, people = site
    # The browser says where it is (timezone.js writes it in a cookie); the page follows.
    context = browser.new_context(timezone_id="Pacific/Auckland")
    page = context.new_page()
    try:
        sign_in(page, server.url, people["auditor"])
        cookie = {c["name"]: c["value"] for c in context.cookies()}.get("kaitiaki_tz")
        assert cookie == "Pacific/Auckland"
        page.reload()
        shown = page.get_by_test_id("expiring-hold").locator("time")
        stamp = str(shown.get_attribute("datetime"))
        title = str(shown.get_attribute("title"))
        text = shown.inner_text()
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        local = at.astimezone(ZoneInfo("Pacific/Auckland"))
        assert stamp.endswith("Z") and title == f"{at:%Y-%m-%d %H:%M:%S} UTC"
        assert text == f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
        assert local.utcoffset() != timedelta(0) and text.split()[1] != f"{at:%H:%M}"
    finally:
        context.close()
