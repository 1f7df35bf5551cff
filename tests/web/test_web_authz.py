"""Every route against every role, driven by the PERMISSIONS table and the routes' own
declared requirements: 401 anonymous, 403 without the permission, neither with it."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_helpers import route_calls

from kaitiaki.store import Store
from kaitiaki.users.roles import PERMISSIONS, Permission, Role
from kaitiaki.users.tokens import SCOPES, create_token
from kaitiaki.web.authz import Requirement, requirement_of

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/api/auth/login")} | {
    # HMA's health checks and the orchestrators' probes (kaitiaki.web.hma.status).
    ("GET", path)
    for path in ("/status", "/status/live", "/livez", "/readyz")
}
SIGN_OUT = {"/logout", "/api/auth/logout"}


def test_every_route_declares_a_requirement(app: FastAPI) -> None:
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert len(routes) > 40
    public = set()
    for route in routes:
        requirement = requirement_of(route)
        assert isinstance(requirement, Requirement), route.path
        if requirement.public:
            public |= {(m, route.path) for m in route.methods}
    assert public == PUBLIC
    # Every permission of the table guards at least one route.
    used = {requirement_of(r).permission for r in routes}  # type: ignore[union-attr]
    assert set(Permission) - {Permission.VIEW_PRIORITY} <= used


def test_every_route_for_every_role(app: FastAPI, login) -> None:  # type: ignore[no-untyped-def]
    calls = route_calls(app)
    anonymous = TestClient(app)
    for method, path, requirement in calls:
        if requirement.public:
            continue
        status = anonymous.request(method, path, json={}).status_code
        assert status == 401, f"anonymous {method} {path}: {status}"
    for role in Role:
        client, csrf = login(role)
        for method, path, requirement in calls:
            if requirement.public:
                continue
            if path in SIGN_OUT:
                client, csrf = login(role)
            response = client.request(method, path, json={}, headers={"X-CSRF-Token": csrf})
            if requirement.token_scope is not None:
                # A token route (HMA API) takes a bearer token only, never a browser session.
                where = f"{role} {method} {path}: {response.status_code}"
                assert response.status_code == 401, where
                assert response.headers["WWW-Authenticate"] == "Bearer", where
                continue
            permitted = (
                requirement.permission is None or requirement.permission in PERMISSIONS[role]
            )
            where = f"{role} {method} {path}: {response.status_code} {response.text[:200]}"
            if permitted:
                assert response.status_code not in (401, 403), where
                assert response.status_code < 500, where
            else:
                assert response.status_code == 403, where
            if path in SIGN_OUT:
                client, csrf = login(role)


def test_every_token_route_for_every_scope(app: FastAPI, store: Store) -> None:
    """A token route answers a token holding its scope, and 403 to one holding all the others."""
    calls = [c for c in route_calls(app) if c[2].token_scope is not None]
    assert calls, "the HMA API's routes are token routes"
    for scope in SCOPES:
        _, holding = create_token(store, f"with-{scope}", [scope], actor="test:admin")
        others = [s for s in SCOPES if s != scope]
        _, lacking = create_token(store, f"without-{scope}", others, actor="test:admin")
        for token, allowed in ((holding, True), (lacking, False)):
            client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
            for method, path, requirement in calls:
                if requirement.token_scope != scope:
                    continue
                response = client.request(method, path, json={})
                where = f"{scope} {allowed} {method} {path}: {response.status_code}"
                if allowed:
                    assert response.status_code not in (401, 403), where
                    assert response.status_code < 500, where
                else:
                    assert response.status_code == 403, where


def test_path_parameters_are_filled() -> None:
    assert re.sub(r"\{[^}]+\}", "x", "/a/{b}/c") == "/a/x/c"
