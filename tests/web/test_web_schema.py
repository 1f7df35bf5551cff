"""Schemathesis over /api with a signed-in admin: no server errors, and every response matches
the OpenAPI document (status codes, content types, bodies)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from web_helpers import PASSWORD, make_app

from kaitiaki.store import open_store
from kaitiaki.users import Role, add_user
from kaitiaki.users.tokens import SCOPES, create_token
from kaitiaki.web.sessions import COOKIE, create_session

# Signing out would end the session the rest of the run uses.
SKIP = {("POST", "/api/auth/logout")}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


# Schemathesis needs the schema when the module is collected, so the app is built here, over
# its own SQLite store in a temporary folder (a PostgreSQL run adds nothing to the HTTP surface).
_FOLDER = Path(tempfile.mkdtemp(prefix="kaitiaki-schema-"))
_STORE = open_store(f"sqlite:///{_FOLDER / 'kaitiaki.db'}")
_APP = make_app(_STORE, _FOLDER)
_ADMIN = add_user(_STORE, "schema-admin", Role.ADMIN, PASSWORD, actor="cli:test")
_TOKEN, _CSRF = create_session(
    _STORE, _ADMIN.id, "test", _APP.state.settings, audit_as=("test:setup", _ADMIN.name)
)
# The HMA-compatible routes take an API token instead of the session: one with every scope.
_API_TOKEN = create_token(_STORE, "schema-client", SCOPES, actor="cli:test")[1]
_HEADERS = {
    "Cookie": f"{COOKIE}={_TOKEN}",
    "X-CSRF-Token": _CSRF,
    "Authorization": f"Bearer {_API_TOKEN}",
}
# The schema itself is served to signed-in users only.
schema = schemathesis.openapi.from_asgi("/openapi.json", _APP, headers=_HEADERS)


@pytest.fixture(scope="module")
def admin_headers() -> dict[str, str]:
    return _HEADERS


@schema.parametrize()
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_api_conforms(case: schemathesis.Case, admin_headers: dict[str, str]) -> None:
    if (case.method.upper(), case.path) in SKIP:
        return
    case.call_and_validate(headers=admin_headers, checks=CHECKS)
