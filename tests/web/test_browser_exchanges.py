"""The exchanges page in a real browser over a real ``kaitiaki serve``: an exchange on a schedule
is fetched by the server's own job runner, unasked, and the page shows its status, items,
schedule and next fetch; a role that may not see it has no link to it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_server import PageProblems, Server, add_people, serve, sign_in
from playwright.sync_api import expect

from kaitiaki.exchanges import add_exchange
from kaitiaki.store import open_store


@pytest.fixture(scope="module")
def site(
    module_store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("exchanges")
    store = open_store(module_store_url)
    people = add_people(store)
    # Never fetched and scheduled hourly: due the moment the server starts.
    add_exchange(store, "sample", "sample", every=3600, actor="test:setup")
    add_exchange(store, "manual", "sample", actor="test:setup")
    store.close()
    with serve(module_store_url, folder) as server:
        yield server, people


def test_the_server_fetches_a_due_exchange_and_the_page_shows_it(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, people = site
    context = browser.new_context()
    page = context.new_page()
    problems = PageProblems()
    problems.watch(page)
    try:
        sign_in(page, server.url, people["reviewer"])
        page.get_by_test_id("nav-exchanges").click()
        row = page.locator('[data-testid="exchange-row"][data-name="sample"]')
        deadline = time.monotonic() + 120
        while not row.get_by_test_id("exchange-status").inner_text().startswith("ok"):
            assert time.monotonic() < deadline, row.inner_text()
            page.wait_for_timeout(250)
            page.reload()
        assert int(row.get_by_test_id("exchange-items").inner_text()) > 0
        expect(row.get_by_test_id("exchange-schedule")).to_have_text("every 1h")
        expect(row.get_by_test_id("exchange-next")).to_contain_text("UTC")
        manual = page.locator('[data-testid="exchange-row"][data-name="manual"]')
        # Not scheduled: nobody fetched it.
        expect(manual.get_by_test_id("exchange-status")).to_have_text("never fetched")
        expect(manual.get_by_test_id("exchange-next")).to_have_text("by hand")
        with page.expect_navigation():
            row.get_by_test_id("exchange-link").click()
        expect(page.get_by_test_id("exchange-detail")).to_contain_text("every 1h")
        assert not problems.messages, problems.messages

        with page.expect_navigation():
            page.get_by_test_id("logout").click()
        sign_in(page, server.url, people["liaison"])
        expect(page.get_by_test_id("nav-exchanges")).to_have_count(0)
    finally:
        context.close()
