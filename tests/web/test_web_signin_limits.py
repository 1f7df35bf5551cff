"""Sign-in limits under attack: concurrent guesses, a shared proxy address, a restart.

The counts live in the store (``kaitiaki.web.ratelimit``), an attempt is counted before its
password is checked, and the real client behind a trusted proxy is what the address limit keys
on. Run on SQLite and PostgreSQL through the ``store`` fixture."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import PASSWORD, make_app

from kaitiaki.cli.serve import server_config
from kaitiaki.store import Store
from kaitiaki.users import Role, add_user
from kaitiaki.web.ratelimit import Limit, Refused, SignInLimiter

WRONG = "not the password at all"


def _user(store: Store, name: str) -> str:
    add_user(store, name, Role.AUDITOR, PASSWORD, actor="cli:test")
    return name


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: FastAPI, forwarded_allow_ips: str | None = None) -> Iterator[str]:
    """``app`` behind a real uvicorn, configured exactly as ``kaitiaki serve`` configures it."""
    port = _free_port()
    config = server_config(app, "127.0.0.1", port, forwarded_allow_ips)
    config.log_level = "warning"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every argon2 verification the server runs, counted (one entry per call)."""
    calls: list[int] = []
    lock = threading.Lock()
    real: Callable[..., Any] = PasswordHasher.verify

    def counting(self: PasswordHasher, *args: Any, **kwargs: Any) -> Any:
        with lock:
            calls.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(PasswordHasher, "verify", counting)
    return calls


def test_concurrent_wrong_passwords_get_at_most_the_limit_of_guesses(
    store: Store, tmp_path: Path, verifications: list[int]
) -> None:
    name = _user(store, "target-user")
    app = make_app(store, tmp_path)
    start = threading.Barrier(12)

    def guess(base: str) -> int:
        with httpx.Client(base_url=base, timeout=120) as client:
            start.wait()
            response = client.post("/api/auth/login", json={"name": name, "password": WRONG})
            return response.status_code

    with serving(app) as base, ThreadPoolExecutor(12) as pool:
        statuses = list(pool.map(guess, [base] * 12))
    assert sorted(set(statuses)) == [401, 429], statuses
    assert statuses.count(401) <= 5
    assert statuses.count(429) == 12 - statuses.count(401)
    # The point of the limit: no more than five passwords were actually tried.
    assert 1 <= len(verifications) <= 5


def test_the_limiter_itself_lets_exactly_the_limit_through_concurrently(store: Store) -> None:
    limiter = SignInLimiter(store, timedelta(minutes=15))
    start = threading.Barrier(12)

    def attempt(_: int) -> list[int] | Refused:
        start.wait()
        return limiter.begin([Limit("name:raced", 5), Limit("addr:192.0.2.1", 100)])

    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(attempt, range(12)))
    assert sum(isinstance(r, list) for r in results) == 5
    assert all(r.retry_after > 0 for r in results if isinstance(r, Refused))
    # Pending attempts count until they are settled; successes then stop counting.
    assert limiter.failures("name:raced") == 5
    for result in results:
        if isinstance(result, list):
            limiter.finish(result, succeeded=True)
    assert limiter.failures("name:raced") == 0


def test_users_behind_one_trusted_proxy_are_limited_by_their_own_address(
    store: Store, tmp_path: Path
) -> None:
    alice = _user(store, "alice-user")
    bob = _user(store, "bob-user")
    app = make_app(store, tmp_path, login_address_failures=5)
    attacker = {"X-Forwarded-For": "203.0.113.5"}
    with serving(app, forwarded_allow_ips="127.0.0.1") as base, httpx.Client(base_url=base) as c:
        for i in range(5):
            body = {"name": f"sprayed-{i}", "password": WRONG}
            assert c.post("/api/auth/login", json=body, headers=attacker).status_code == 401
        # The attacker's address is spent, whatever name it tries next ...
        again = c.post("/api/auth/login", json={"name": alice, "password": WRONG}, headers=attacker)
        assert again.status_code == 429
        # ... while another person behind the same proxy signs in as usual.
        signed = c.post(
            "/api/auth/login",
            json={"name": bob, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7"},
        )
        assert signed.status_code == 200, signed.text


def test_forwarded_addresses_from_an_untrusted_peer_are_ignored(
    store: Store, tmp_path: Path
) -> None:
    app = make_app(store, tmp_path, login_address_failures=5)
    # The proxy is elsewhere: this client's X-Forwarded-For is its own invention.
    with serving(app, forwarded_allow_ips="10.9.9.9") as base, httpx.Client(base_url=base) as c:
        for i in range(5):
            forged = {"X-Forwarded-For": f"198.51.100.{i}"}
            body = {"name": f"sprayed-{i}", "password": WRONG}
            assert c.post("/api/auth/login", json=body, headers=forged).status_code == 401
        forged = {"X-Forwarded-For": "198.51.100.99"}
        body = {"name": "sprayed-new", "password": WRONG}
        assert c.post("/api/auth/login", json=body, headers=forged).status_code == 429


def test_a_restart_keeps_the_count(store: Store, tmp_path: Path) -> None:
    name = _user(store, "restart-user")
    with TestClient(make_app(store, tmp_path)) as client:
        for _ in range(5):
            body = {"name": name, "password": WRONG}
            assert client.post("/api/auth/login", json=body).status_code == 401
    # A new application over the same store: the server restarted.
    with TestClient(make_app(store, tmp_path)) as client:
        refused = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0


def test_successes_neither_count_nor_clear_failures(store: Store, tmp_path: Path) -> None:
    name = _user(store, "mistyping-user")
    client = TestClient(make_app(store, tmp_path))
    for _ in range(6):  # more successes than the limit: none of them counts
        assert client.post("/api/auth/login", json={"name": name, "password": PASSWORD}).is_success
    for _ in range(4):
        assert (
            client.post("/api/auth/login", json={"name": name, "password": WRONG}).status_code
            == 401
        )
    assert client.post("/api/auth/login", json={"name": name, "password": PASSWORD}).is_success
    # The success above did not wipe the four failures: one more reaches the limit.
    assert client.post("/api/auth/login", json={"name": name, "password": WRONG}).status_code == 401
    refused = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert refused.status_code == 429


def test_old_attempts_are_swept(store: Store) -> None:
    from sqlalchemy import func, select

    from kaitiaki.store.models import SignInAttempt

    limiter = SignInLimiter(store, timedelta(0))
    for _ in range(3):
        begun = limiter.begin([Limit("name:old", 5)])
        assert isinstance(begun, list)
        limiter.finish(begun, succeeded=False)
    with store.session() as session:
        left = session.scalar(select(func.count()).select_from(SignInAttempt))
    # Each settle sweeps what is past the (here empty) window, its own rows included.
    assert left == 0
