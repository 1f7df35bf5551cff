"""Fixtures for the web application: an app over the ``store`` fixture, signed-in clients of
every role, and a scanned evidence item of benign images."""

from __future__ import annotations

import hashlib
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import add_role_user, jpeg, make_app, photo, sign_in

from kaitiaki.store import Store
from kaitiaki.users import Role

Login = Callable[..., tuple[TestClient, str]]

# The receiving side's package helpers (tests/receive/package_samples.py) make the packages the
# received-case pages import; importable by bare name here too, as this folder's helpers are.
RECEIVE = str(Path(__file__).resolve().parents[1] / "receive")
if RECEIVE not in sys.path:
    sys.path.append(RECEIVE)


@pytest.fixture
def app(store: Store, tmp_path: Path) -> FastAPI:
    # The test's folder is the evidence the web may read (test_web_paths attacks the roots).
    return make_app(store, tmp_path, evidence_roots=(tmp_path,))


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """The app behind a test client, its lifespan started (API-token tests need no sign-in)."""
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def credential_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The exchange-credential key file in the test's folder, never the user's home."""
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    monkeypatch.delenv("KAITIAKI_SECRET_KEY", raising=False)


@pytest.fixture
def login(app: FastAPI, store: Store) -> Iterator[Login]:
    """``login(role)``: a client signed in as a new user of that role, and its CSRF token;
    ``login(Role.LIAISON, "AU:Australian Federal Police")`` a liaison of that jurisdiction."""
    made: dict[tuple[Role, str | None], str] = {}
    clients: list[TestClient] = []

    def _login(role: Role, jurisdiction: str | None = None) -> tuple[TestClient, str]:
        key = (role, jurisdiction)
        if key not in made:
            made[key] = add_role_user(store, role, jurisdiction)
        client, csrf = sign_in(app, made[key])
        clients.append(client)
        return client, csrf

    yield _login
    for client in clients:
        client.close()


@pytest.fixture
def scanned(store: Store, tmp_path: Path) -> dict[str, object]:
    """Evidence "ev" holding two benign photos on disk and one inside a zip, all new."""
    from kaitiaki.scan.runner import run_scan

    root = tmp_path / "evidence"
    root.mkdir()
    (root / "astronaut.jpg").write_bytes(jpeg(photo("astronaut")))
    (root / "coffee.jpg").write_bytes(jpeg(photo("coffee")))
    with zipfile.ZipFile(root / "box.zip", "w") as archive:
        archive.writestr("inner/chelsea.jpg", jpeg(photo("chelsea")))
    result = run_scan(store, [root], "ev", workers=1, actor="test:setup")
    return {
        "evidence_id": result.evidence_id,
        "astronaut": hashlib.sha256((root / "astronaut.jpg").read_bytes()).hexdigest(),
        "coffee": hashlib.sha256((root / "coffee.jpg").read_bytes()).hexdigest(),
        "chelsea": hashlib.sha256(jpeg(photo("chelsea"))).hexdigest(),
        "root": root,
    }


# Browser tests: one Chromium for the session; a store per module on SQLite and PostgreSQL.


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from browser_server import launch_browser
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_browser(playwright)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_store_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty store for a whole module (one server serves its tests), on both engines."""
    from browser_server import store_url_for

    with store_url_for(request.param, tmp_path_factory.mktemp("store")) as url:
        yield url


@pytest.fixture(scope="session")
def simulated_operation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small simulated provider export, generated once for the browser tests."""
    from browser_server import simulate

    return simulate(tmp_path_factory.mktemp("operation"))
