"""Smaller trust-boundary fixes: ids that cannot exist are 404, a password change ends the
account's sessions, the OpenAPI schema is for signed-in users, and the web verification of the
audit log checks the newest anchor kept outside the database."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select
from web_helpers import PASSWORD, make_app

from kaitiaki.audit import AnchorError, AnchorKeeper, keep_anchor, latest_anchor, record
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, WebSession
from kaitiaki.users import Role, add_user
from kaitiaki.users.accounts import set_password
from kaitiaki.users.tokens import SCOPES, create_token


def _signed_in(app: FastAPI, store: Store, role: Role = Role.ADMIN) -> tuple[TestClient, str]:
    name = f"{role.value}-user"
    add_user(store, name, role, PASSWORD, actor="cli:test")
    client = TestClient(app)
    signed = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
    assert signed.status_code == 200, signed.text
    # And an API token with every scope, for the token routes (the HMA-compatible API).
    _view, raw = create_token(store, f"{role.value}-token", SCOPES, actor="cli:test")
    client.headers["Authorization"] = f"Bearer {raw}"
    return client, str(signed.json()["csrf_token"])


def _id_routes(app: FastAPI) -> list[tuple[str, str, bool]]:
    """(method, path template, whether the id is an integer) of every route with an id or
    key in its path."""
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        for param in route.dependant.path_params:
            if param.name.endswith("_id") or param.name == "sha256":
                numeric = param.field_info.annotation is int
                found.extend((method, route.path, numeric) for method in sorted(route.methods))
    return found


# Not a key of any kind: too long, or holding control characters (PostgreSQL refuses NUL).
NO_KEY = ["9" * 400, "x" * 5000, "a\x00b", "\x7f"]
# Not an id: negative, or past what the databases' integers hold.
NO_ID = [str(2**63), str(2**64 + 1), "-1", str(2**31), *NO_KEY]


def _call(client: TestClient, csrf: str, method: str, template: str, value: str) -> int:
    path = template.replace(
        "{" + re.findall(r"\{(\w+)\}", template)[0] + "}", quote(value, safe="")
    )
    if path.endswith("/thumbnail"):
        path += "?evidence_id=1"
    return client.request(method, path, json={}, headers={"X-CSRF-Token": csrf}).status_code


def test_ids_that_cannot_exist_are_404(app: FastAPI, store: Store) -> None:
    client, csrf = _signed_in(app, store)
    routes = _id_routes(app)
    # API and pages alike: evidence, jobs, review, files, subjects and referrals.
    assert {"/api/jobs/{job_id}", "/evidence/{evidence_id}", "/referrals/{referral_id}"} <= {
        path for _, path, _ in routes
    }
    assert any(numeric for _, _, numeric in routes)
    for method, template, numeric in routes:
        for value in NO_ID if numeric else NO_KEY:
            status = _call(client, csrf, method, template, value)
            assert status == 404, f"{method} {template} with {value[:20]!r}: {status}"


def test_every_api_route_with_a_path_parameter_documents_404(app: FastAPI) -> None:
    undocumented = [
        f"{sorted(r.methods)} {r.path}"
        for r in app.routes
        if isinstance(r, APIRoute)
        and r.include_in_schema
        and r.dependant.path_params
        and 404 not in r.responses
    ]
    assert undocumented == []


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    number=st.one_of(st.integers(max_value=-1), st.integers(min_value=2**31)),
    key=st.one_of(
        st.text(min_size=201, max_size=600),
        st.text(st.characters(max_codepoint=31), min_size=1, max_size=5),
    ),
)
def test_any_impossible_id_is_404_never_500(
    app: FastAPI, store: Store, number: int, key: str
) -> None:
    if not hasattr(app.state, "test_admin"):
        app.state.test_admin = _signed_in(app, store)
    client, csrf = app.state.test_admin
    for method, template, numeric in _id_routes(app):
        value = str(number) if numeric else key
        assert _call(client, csrf, method, template, value) == 404, (template, value)


def test_a_password_change_ends_every_session(store: Store, tmp_path: Path) -> None:
    # No session cache: the next request must look the session up and find it gone.
    app = make_app(store, tmp_path, session_cache_seconds=0)
    first, _ = _signed_in(app, store, Role.INVESTIGATOR)
    second = TestClient(app)
    login = {"name": "investigator-user", "password": PASSWORD}
    assert second.post("/api/auth/login", json=login).status_code == 200
    assert first.get("/api/auth/me").status_code == 200
    set_password(store, "investigator-user", "a brand new long password", actor="test:setup")
    assert first.get("/api/auth/me").status_code == 401
    assert second.get("/api/auth/me").status_code == 401
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(WebSession)) == 0
    # The new password works; the old one does not.
    assert second.post("/api/auth/login", json=login).status_code == 401
    new = {"name": "investigator-user", "password": "a brand new long password"}
    assert second.post("/api/auth/login", json=new).status_code == 200


def test_the_openapi_schema_is_for_signed_in_users(app: FastAPI, store: Store) -> None:
    anonymous = TestClient(app)
    assert anonymous.get("/openapi.json").status_code == 401
    assert anonymous.get("/docs").status_code in (401, 404)
    client, _ = _signed_in(app, store, Role.REVIEWER)
    schema = client.get("/openapi.json")
    assert schema.status_code == 200
    assert "/api/stats" in schema.json()["paths"]
    # The schema route itself is not advertised in the schema.
    assert "/openapi.json" not in schema.json()["paths"]


def _auditor_verify(app: FastAPI, store: Store) -> dict[str, object]:
    client, _ = _signed_in(app, store, Role.AUDITOR)
    response = client.get("/api/audit/verify")
    assert response.status_code == 200
    found: dict[str, object] = response.json()
    return found


def test_verification_says_when_no_anchor_is_kept(app: FastAPI, store: Store) -> None:
    found = _auditor_verify(app, store)
    assert found["ok"] is True
    assert found["anchor"] is None
    assert "truncation is not checked" in str(found["anchor_note"])


def test_the_server_keeps_anchors_and_the_web_checks_the_newest(
    store: Store, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors"
    app = make_app(store, tmp_path, anchor_dir=anchors)
    add_user(store, "someone", Role.REVIEWER, PASSWORD, actor="cli:test")
    with TestClient(app):  # the lifespan starts the anchor keeper
        taken = latest_anchor(anchors)
        assert taken is not None, "no anchor written at start"
        with store.session() as session:
            head = session.scalar(select(func.max(AuditEvent.id)))
        assert taken[1].id == head
        auditor, _ = _signed_in(app, store, Role.AUDITOR)
        found = auditor.get("/api/audit/verify").json()
        assert found["ok"] is True
        assert found["anchor"]["id"] == taken[1].id
        page = auditor.get("/audit?verify=1").text
        assert 'data-testid="audit-anchor"' in page and f"entry {taken[1].id}" in page
        # Truncate the log from the anchored entry on: the chain that is left is still valid,
        # and only the anchor shows what happened.
        with store.session() as session:
            session.execute(delete(AuditEvent).where(AuditEvent.id >= taken[1].id))
        found = auditor.get("/api/audit/verify").json()
        assert found["ok"] is False
        assert any(f"entry {taken[1].id} is gone" in p for p in found["problems"])
        page = auditor.get("/audit?verify=1").text
        assert 'data-testid="audit-broken"' in page and "is gone" in page
        # New entries past the truncation: the keeper must not anchor over the evidence.
        for i in range(taken[1].id + 3):
            with store.session() as session:
                record(session, actor="cli:test", action="test", target_type="t", target_id=str(i))
        with pytest.raises(AnchorError, match="no longer holds entry"):
            keep_anchor(store, anchors)
    # Nor at shutdown: the newest anchor is still the one that shows the truncation.
    after = latest_anchor(anchors)
    assert after is not None and after[1] == taken[1]
    assert auditor.get("/api/audit/verify").json()["ok"] is False


def test_a_changed_anchored_entry_and_a_damaged_anchor_fail_loudly(
    store: Store, tmp_path: Path
) -> None:
    anchors = tmp_path / "anchors"
    with store.session() as session:
        record(session, actor="cli:test", action="test", target_type="t", target_id="1")
    written = keep_anchor(store, anchors)
    assert written is not None
    assert keep_anchor(store, anchors) is None  # nothing new: no second file
    app = make_app(store, tmp_path, anchor_dir=anchors)
    auditor, _ = _signed_in(app, store, Role.AUDITOR)
    anchored = latest_anchor(anchors)
    assert anchored is not None
    # The anchored entry rewritten with a fresh, self-consistent hash.
    with store.session() as session:
        event = session.get(AuditEvent, anchored[1].id)
        assert event is not None
        event.hash = "f" * 64
    found = auditor.get("/api/audit/verify").json()
    assert found["ok"] is False
    assert any("no longer has the anchored hash" in p for p in found["problems"])
    written.write_text("{ not an anchor", encoding="utf-8")
    found = auditor.get("/api/audit/verify").json()
    assert found["ok"] is False
    assert any(p.startswith("anchor:") and "cannot read" in p for p in found["problems"])


def test_the_keeper_anchors_new_entries_on_its_schedule(store: Store, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors"
    with store.session() as session:
        record(session, actor="cli:test", action="test", target_type="t", target_id="1")
    keeper = AnchorKeeper(store, anchors, timedelta(milliseconds=50))
    keeper.start()
    try:
        first = latest_anchor(anchors)
        assert first is not None
        with store.session() as session:
            newer = record(session, actor="cli:test", action="test", target_type="t", target_id="2")
            newer_id = newer.id
        deadline = time.monotonic() + 30
        while (found := latest_anchor(anchors)) is None or found[1].id != newer_id:
            assert time.monotonic() < deadline, "no anchor of the new head"
            time.sleep(0.05)
    finally:
        keeper.stop()
    assert len(list(anchors.glob("anchor-*.json"))) == 2


@pytest.mark.parametrize("path", ["/openapi.json"])
def test_the_schema_route_is_signed_in_in_the_route_table(app: FastAPI, path: str) -> None:
    from kaitiaki.web.authz import requirement_of

    route = next(r for r in app.routes if isinstance(r, APIRoute) and r.path == path)
    requirement = requirement_of(route)
    assert requirement is not None and not requirement.public
