"""The audit page in a real browser: it lists entries without checking the chain; asked to verify,
it finds the log intact at first; after one entry is edited in the database behind the
application's back, verifying says the log is broken and marks that entry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_server import Server, add_people, screenshot, serve, sign_in
from playwright.sync_api import expect
from sqlalchemy import select, update

from kaitiaki.store import open_store
from kaitiaki.store.models import AuditEvent


@pytest.fixture(scope="module")
def site(
    module_store_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, dict[str, str], str]]:
    folder = tmp_path_factory.mktemp("audit")
    store = open_store(module_store_url)
    people = add_people(store)
    store.close()
    with serve(module_store_url, folder) as server:
        yield server, people, module_store_url


def test_a_tampered_entry_is_shown_as_broken(
    browser: Any, site: tuple[Server, dict[str, str], str]
) -> None:
    server, people, store_url = site
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        # Some history first: two people sign in and out.
        for role in ("investigator", "reviewer"):
            sign_in(page, server.url, people[role])
            with page.expect_navigation():
                page.get_by_test_id("logout").click()
        sign_in(page, server.url, people["auditor"])
        page.get_by_test_id("nav-audit").click()
        expect(page.get_by_test_id("audit-row").first).to_be_visible()
        expect(page.get_by_test_id("audit-ok")).to_have_count(0)
        # Sign-outs are in the log too.
        logouts = page.get_by_test_id("audit-row").filter(has_text="logout")
        expect(logouts).to_have_count(2)
        with page.expect_navigation():
            page.get_by_test_id("audit-verify-submit").click()
        expect(page.get_by_test_id("audit-ok")).to_be_visible()
        expect(page.locator("tr.broken")).to_have_count(0)

        store = open_store(store_url)
        try:
            with store.session() as session:
                entry = session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.action == "login", AuditEvent.target_id == people["reviewer"])
                    .order_by(AuditEvent.id)
                ).first()
                assert entry is not None
                victim = entry.id
                # Someone rewrites history: the reviewer never signed in, says the row now.
                session.execute(
                    update(AuditEvent).where(AuditEvent.id == victim).values(action="login.failed")
                )
        finally:
            store.close()

        page.reload()  # the verified page again: it checks the chain once more
        expect(page.get_by_test_id("audit-broken")).to_be_visible()
        expect(page.get_by_test_id("audit-ok")).to_have_count(0)
        problems = page.get_by_test_id("audit-problems").inner_text()
        assert f"entry {victim}" in problems
        row = page.locator(f'[data-testid="audit-row"][data-entry-id="{victim}"]')
        expect(row).to_have_class("broken")
        expect(row.get_by_test_id("audit-row-broken")).to_have_text("BROKEN")
        expect(page.locator("tr.broken")).to_have_count(1)
        check = page.request.get(f"{server.url}/api/audit/verify").json()
        assert check["ok"] is False and check["broken_ids"] == [victim]
        screenshot(page, "audit-broken")
    finally:
        context.close()
