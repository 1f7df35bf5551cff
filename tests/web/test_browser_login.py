"""Signing in through the form in a real browser, per role: each role finds exactly its pages in
the navigation, can open them, and is refused (403) the others; a wrong password is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_server import NAV_PAGES, Server, add_people, serve, sign_in

from kaitiaki.store import open_store

# What each role should see, written out rather than derived from the code under test.
EXPECTED_NAV = {
    "admin": set(NAV_PAGES),
    "investigator": set(NAV_PAGES) - {"audit"},
    "reviewer": {"home", "evidence", "files", "review", "exchanges"},
    "liaison": {"home", "referrals", "received"},
    "auditor": set(NAV_PAGES) - {"review"},
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str]]]:
    folder = tmp_path_factory.mktemp("login")
    url = f"sqlite:///{folder / 'kaitiaki.db'}"
    store = open_store(url)
    people = add_people(store)
    store.close()
    with serve(url, folder) as server:
        yield server, people


@pytest.mark.parametrize("role", sorted(EXPECTED_NAV))
def test_each_role_sees_its_pages_and_is_refused_the_others(
    browser: Any, site: tuple[Server, dict[str, str]], role: str
) -> None:
    server, people = site
    context = browser.new_context()
    page = context.new_page()
    try:
        sign_in(page, server.url, people[role])
        assert (
            page.get_by_test_id("current-user").inner_text().startswith(f"{people[role]} ({role}")
        )
        nav = page.get_by_test_id("nav").locator("a")
        shown = {str(a.get_attribute("data-testid")).removeprefix("nav-") for a in nav.all()}
        assert shown == EXPECTED_NAV[role]
        for name in NAV_PAGES:
            path = "/" if name == "home" else f"/{name}"
            response = page.goto(f"{server.url}{path}")
            assert response is not None
            if name in EXPECTED_NAV[role]:
                assert response.status == 200, (path, page.content()[:500])
                assert page.get_by_test_id("error-status").count() == 0
            else:
                assert response.status == 403, (path, response.status)
                assert page.get_by_test_id("error-status").inner_text() == "403"
            # Refused or not, the page still knows who is signed in.
            assert page.get_by_test_id("current-user").is_visible()
        with page.expect_navigation():
            page.get_by_test_id("logout").click()
        assert page.url.endswith("/login")
        response = page.goto(f"{server.url}/")
        assert response is not None and response.status == 401
        assert page.get_by_test_id("login-form").is_visible()
    finally:
        context.close()


def test_a_wrong_password_is_refused_on_the_form(
    browser: Any, site: tuple[Server, dict[str, str]]
) -> None:
    server, people = site
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{server.url}/login")
        page.get_by_test_id("login-name").fill(people["auditor"])
        page.get_by_test_id("login-password").fill("not the password at all")
        with page.expect_navigation():
            page.get_by_test_id("login-submit").click()
        assert "wrong user name or password" in page.get_by_test_id("login-error").inner_text()
        assert page.get_by_test_id("nav").count() == 0
        assert not [c for c in context.cookies() if c["name"] == "kaitiaki_session"]
    finally:
        context.close()
