"""A received case in a real browser: the receiving agency's liaison officer imports a partner's
signed package through the upload form, works the case to an arrest and children safeguarded,
adds a note, and downloads the outcome file, which verifies against the server's own key.

SQLite only: the same routes run on both engines in test_web_received.py; here the browser and
its pages are what is tested, and Chromium's start-up is what costs.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from browser_server import PageProblems, Server, add_people, screenshot, serve, sign_in
from package_samples import US_AGENCY, document, key_pair, make_package
from playwright.sync_api import expect

from kaitiaki.refer.outcome_file import read_outcome_file
from kaitiaki.refer.signing import DEFAULT_KEY_NAME, generate_key, public_path
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import open_store
from kaitiaki.users import Jurisdiction

REFERENCE = "KAI-US-20261203-1"


@dataclass(frozen=True)
class Site:
    server: Server
    liaison: str
    package: Path  # the ZIP the partner sent
    server_public: Path  # the public half of the key the server signs outcome files with


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("received")
    url = f"sqlite:///{folder / 'kaitiaki.db'}"
    store = open_store(url)
    people = add_people(store, liaison=Jurisdiction("US", US_AGENCY))
    sender_key, sender_public = key_pair(folder, "lead-unit")
    add_trusted_key(store, "NZ lead unit", sender_public, actor="test:setup")
    store.close()
    package = make_package(folder / "out" / REFERENCE, sender_key, document(REFERENCE))
    archive = Path(shutil.make_archive(str(folder / REFERENCE), "zip", package.parent, REFERENCE))
    server_key = generate_key(folder / "keys" / DEFAULT_KEY_NAME)  # where serve() points
    with serve(url, folder) as server:
        yield Site(server, people["liaison"], archive, public_path(server_key))


def _record(page: Any, kind: str, count: int | None = None) -> None:
    page.get_by_test_id("step-kind").select_option(kind)
    page.get_by_test_id("step-count").fill("" if count is None else str(count))
    with page.expect_navigation():  # the page reloads once the API has taken the step
        page.get_by_test_id("step-submit").click()


def test_a_liaison_works_a_received_case_and_reports_back(browser: Any, site: Site) -> None:
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    try:
        sign_in(page, site.server.url, site.liaison)
        page.get_by_test_id("nav-received").click()
        expect(page.get_by_test_id("received-table")).to_contain_text("No received cases.")
        page.get_by_test_id("package-file").set_input_files(str(site.package))
        with page.expect_navigation():
            page.get_by_test_id("package-submit").click()
        row = page.get_by_test_id("received-row").filter(has_text=REFERENCE)
        expect(row).to_have_count(1)
        expect(row.get_by_test_id("received-status")).to_have_text("received")
        expect(row).to_contain_text("NZ lead unit")
        row.get_by_test_id("received-link").click()

        expect(page.get_by_test_id("case-reference")).to_have_text(REFERENCE)
        expect(page.get_by_test_id("sender-name")).to_have_text("NZ lead unit")
        expect(page.get_by_test_id("case-subject")).to_have_count(1)
        expect(page.get_by_test_id("subject-ip-events")).to_contain_text("2026-01-02T03:04:05Z")
        assert page.locator("main img").count() == 0  # hashes only, never images
        _record(page, "legal_request")
        expect(page.get_by_test_id("case-status")).to_have_text("investigating")
        _record(page, "arrest", 1)
        expect(page.get_by_test_id("case-status")).to_have_text("arrest")
        _record(page, "children_safeguarded", 2)
        page.get_by_test_id("note-text").fill("the ISP answered within a day")
        with page.expect_navigation():
            page.get_by_test_id("note-submit").click()
        expect(page.get_by_test_id("case-status")).to_have_text("arrest")
        steps = page.get_by_test_id("case-step")
        expect(steps).to_have_count(5)  # received, three steps, the note
        kinds = {str(steps.nth(i).get_attribute("data-kind")) for i in range(5)}
        assert kinds == {"received", "legal_request", "arrest", "children_safeguarded", "note"}
        note = page.get_by_test_id("case-step").filter(has_text="the ISP answered")
        expect(note).to_contain_text(f"web:{site.liaison}")
        screenshot(page, "received-case")

        with page.expect_download() as downloading:
            page.get_by_test_id("outcome-download").click()
        download = downloading.value
        assert download.suggested_filename == f"outcome-{REFERENCE}.json"
        outcome = read_outcome_file(Path(download.path()), store=None, pinned=site.server_public)
        assert outcome.referral_id == REFERENCE
        assert outcome.issued_by == f"web:{site.liaison}"
        assert outcome.totals["arrested"] == 1 and outcome.totals["children_safeguarded"] == 2
        assert problems.messages == []
    finally:
        context.close()
