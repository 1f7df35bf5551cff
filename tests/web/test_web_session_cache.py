"""The short in-process memory of valid sessions: it expires, and sign-out, re-sign-in and
disabling an account forget it at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from web_helpers import PASSWORD, add_role_user, make_app, sign_in

from kaitiaki.store import Store
from kaitiaki.users import Role
from kaitiaki.web.session_cache import SessionCache
from kaitiaki.web.sessions import COOKIE, SessionUser, token_hash

LATER = datetime.now(UTC) + timedelta(hours=1)


def _user(token: str, user_id: int = 1) -> SessionUser:
    return SessionUser(user_id, "ana", "reviewer", frozenset(), token_hash(token), "csrf", LATER)


def test_an_entry_lives_for_its_ttl_and_never_past_the_session() -> None:
    now = [100.0]
    cache = SessionCache(2.0, clock=lambda: now[0])
    cache.put(_user("t1"), LATER)
    assert cache.get("t1") == _user("t1")
    assert cache.get("t2") is None and cache.get("") is None
    now[0] += 2.0
    assert cache.get("t1") is None
    cache.put(_user("t1"), datetime.now(UTC) - timedelta(seconds=1))
    assert cache.get("t1") is None
    off = SessionCache(0)
    off.put(_user("t1"), LATER)
    assert off.get("t1") is None


def test_forgetting_a_token_or_a_user() -> None:
    cache = SessionCache(60.0)
    for token, user_id in (("a", 1), ("b", 1), ("c", 2)):
        cache.put(_user(token, user_id), LATER)
    cache.forget("a")
    assert cache.get("a") is None and cache.get("b") is not None
    cache.forget_user(1)
    assert cache.get("b") is None and cache.get("c") is not None


def test_a_remembered_session_ends_on_sign_out_and_on_a_new_sign_in(
    store: Store, tmp_path: Path
) -> None:
    app = make_app(store, tmp_path, session_cache_seconds=3600.0)
    name = add_role_user(store, Role.REVIEWER)
    client, csrf = sign_in(app, name)
    token = client.cookies[COOKIE]
    assert client.get("/api/auth/me").status_code == 200  # now remembered
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    stale = TestClient(app, cookies={COOKIE: token})
    assert stale.get("/api/auth/me").status_code == 401

    first, _ = sign_in(app, name)
    old = first.cookies[COOKIE]
    assert first.get("/api/auth/me").status_code == 200
    again = first.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert again.status_code == 200 and first.cookies[COOKIE] != old
    assert TestClient(app, cookies={COOKIE: old}).get("/api/auth/me").status_code == 401
    assert first.get("/api/auth/me").status_code == 200
