"""Every route against every role, driven by the PERMISSIONS table and the routes' own
declared requirements: 401 anonymous, 403 without the permission, neither with it."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from web_helpers import route_calls

from kaitiaki.users.roles import PERMISSIONS, Permission, Role
from kaitiaki.web.authz import Requirement, requirement_of

PUBLIC = {("GET", "/login"), ("POST", "/login"), ("POST", "/api/auth/login")}
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


def test_path_parameters_are_filled() -> None:
    assert re.sub(r"\{[^}]+\}", "x", "/a/{b}/c") == "/a/x/c"
