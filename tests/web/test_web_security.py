"""Headers, cookies, CSRF, sign-in rate limits and session expiry."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from web_helpers import PASSWORD, add_role_user, make_app, sign_in

from kaitiaki.store import Store
from kaitiaki.store.models import WebSession
from kaitiaki.users import Role


def test_security_headers_on_pages_and_api(app: FastAPI, login) -> None:  # type: ignore[no-untyped-def]
    client, _ = login(Role.ADMIN)
    for path in ("/", "/api/stats", "/login", "/dashboard"):
        headers = client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "unsafe-inline" not in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in headers  # plain http
    page = client.get("/dashboard").text
    assert "<script>" not in page and " style=" not in page  # nothing inline


def test_https_gets_hsts_and_secure_cookie(app: FastAPI, store: Store) -> None:
    name = add_role_user(store, Role.AUDITOR)
    client = TestClient(app, base_url="https://testserver")
    response = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" in cookie
    assert response.headers["strict-transport-security"].startswith("max-age=")


def test_only_the_token_hash_is_stored_and_login_rotates(app: FastAPI, store: Store) -> None:
    name = add_role_user(store, Role.REVIEWER)
    client, _ = sign_in(app, name)
    token = client.cookies["kaitiaki_session"]
    with store.session() as session:
        stored = session.scalars(select(WebSession.token_sha256)).all()
    assert stored == [hashlib.sha256(token.encode()).hexdigest()]
    # Signing in again replaces the session: the old token no longer works.
    old = TestClient(app, cookies={"kaitiaki_session": token})
    client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert client.cookies["kaitiaki_session"] != token
    assert old.get("/api/auth/me").status_code == 401
    assert client.get("/api/auth/me").status_code == 200


def test_csrf_required_on_unsafe_methods(app: FastAPI, login) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.ADMIN)
    body = {"name": "new-person", "role": "auditor", "password": "another long password"}
    assert client.post("/api/users", json=body).status_code == 403
    assert (
        client.post("/api/users", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    )
    assert client.post("/api/users", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    # A plain form post needs the token in its field.
    assert client.post("/logout", data={}).status_code == 403
    assert (
        client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    )


def test_login_form_needs_its_double_submit_token(app: FastAPI, store: Store) -> None:
    name = add_role_user(store, Role.INVESTIGATOR)
    client = TestClient(app)
    refused = client.post("/login", data={"name": name, "password": PASSWORD, "login_token": "x"})
    assert refused.status_code == 403
    form = client.get("/login").text
    token = form.split('name="login_token" value="')[1].split('"')[0]
    ok = client.post(
        "/login",
        data={"name": name, "password": PASSWORD, "login_token": token, "next": "//evil.example"},
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/"


def test_failed_sign_ins_are_limited_per_name_and_per_address(store: Store, tmp_path: Path) -> None:
    name = add_role_user(store, Role.AUDITOR)
    client = TestClient(make_app(store, tmp_path, login_address_failures=8))
    wrong = {"name": name, "password": "wrong password!"}
    for _ in range(5):
        assert client.post("/api/auth/login", json=wrong).status_code == 401
    limited = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    # Other names from the same address go on until the address's own limit (8 here) ...
    for i in range(3):
        other = {"name": f"someone-{i}", "password": "x" * 12}
        assert client.post("/api/auth/login", json=other).status_code == 401
    # ... and then that address is refused whatever name it tries.
    other = client.post("/api/auth/login", json={"name": "someone-else", "password": "x" * 12})
    assert other.status_code == 429


def test_idle_and_absolute_expiry(store: Store, tmp_path: Path) -> None:
    name = add_role_user(store, Role.AUDITOR)
    idle = make_app(store, tmp_path, session_idle=timedelta(0))
    client, _ = sign_in(idle, name)
    assert client.get("/api/auth/me").status_code == 401
    absolute = make_app(store, tmp_path, session_absolute=timedelta(0))
    client, _ = sign_in(absolute, name)
    assert client.get("/api/auth/me").status_code == 401
    fresh = make_app(store, tmp_path)
    client, _ = sign_in(fresh, name)
    assert client.get("/api/auth/me").status_code == 200


def test_pages_ask_anonymous_visitors_to_sign_in(app: FastAPI) -> None:
    response = TestClient(app).get("/referrals")
    assert response.status_code == 401
    assert 'data-testid="login-form"' in response.text
    assert 'name="next" value="/referrals"' in response.text
