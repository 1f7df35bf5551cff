"""A list in a real browser: a person sorts by clicking a column header (twice, for the other
way) and pages on with the pager's link; all of it plain links, working under the CSP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from browser_server import PageProblems, Server, add_people, serve, sign_in
from playwright.sync_api import expect

from kaitiaki.store import open_store
from kaitiaki.store.models import Referral

ROWS = 60  # more than one page of 50
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def site(
    module_store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    folder: Path = tmp_path_factory.mktemp("lists")
    store = open_store(module_store_url)
    people = add_people(store)
    with store.session() as session:
        for i in range(ROWS):
            session.add(
                Referral(
                    id=f"KAI-LIST-{i:03d}",
                    agency="New Zealand Police",
                    country="NZ",
                    status="sent",
                    created_at=START + timedelta(hours=i),
                    created_by="test:setup",
                )
            )
    store.close()
    with serve(module_store_url, folder) as server:
        yield server, people


def _ids(page: Any) -> list[str]:
    rows = page.get_by_test_id("referral-row")
    return [str(rows.nth(i).get_attribute("data-referral-id")) for i in range(rows.count())]


def test_a_header_sorts_and_the_pager_pages(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, people = site
    page = browser.new_context().new_page()
    problems = PageProblems()
    problems.watch(page)
    sign_in(page, server.url, people["investigator"])
    page.get_by_test_id("nav-referrals").click()
    # Newest first by default: the header of the creation time says so.
    expect(page.get_by_test_id("referral-row")).to_have_count(50)
    assert _ids(page)[0] == f"KAI-LIST-{ROWS - 1:03d}"
    created = page.locator("th", has=page.get_by_test_id("sort-created"))
    expect(created).to_have_attribute("aria-sort", "descending")

    with page.expect_navigation():
        page.get_by_test_id("sort-id").click()
    header = page.locator("th", has=page.get_by_test_id("sort-id"))
    expect(header).to_have_attribute("aria-sort", "ascending")
    assert _ids(page) == [f"KAI-LIST-{i:03d}" for i in range(50)]
    with page.expect_navigation():
        page.get_by_test_id("sort-id").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert _ids(page)[:2] == [f"KAI-LIST-{ROWS - 1:03d}", f"KAI-LIST-{ROWS - 2:03d}"]

    with page.expect_navigation():
        page.get_by_test_id("pager-next").click()
    # Page two holds the rest, still in the order chosen.
    assert _ids(page) == [f"KAI-LIST-{i:03d}" for i in range(ROWS - 51, -1, -1)]
    expect(header).to_have_attribute("aria-sort", "descending")
    expect(page.get_by_test_id("pager-range")).to_contain_text(f"51–{ROWS} of {ROWS}")
    expect(page.get_by_test_id("pager-next")).to_have_count(0)
    with page.expect_navigation():
        page.get_by_test_id("pager-prev").click()
    assert _ids(page)[0] == f"KAI-LIST-{ROWS - 1:03d}"
    assert problems.messages == []
