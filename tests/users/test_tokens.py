"""API tokens on both engines: made once, stored as a SHA-256, scoped, revoked for good, every
change audited without the token; the CLI and the ``token_scope`` dependency over them."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from in_process import kaitiaki
from kaitiaki.store import Store
from kaitiaki.store.models import ApiToken, AuditEvent
from kaitiaki.users.tokens import (
    TokenError,
    TokenPrincipal,
    authenticate_token,
    create_token,
    list_tokens,
    revoke_token,
)
from kaitiaki.web.authz import Requirement
from kaitiaki.web.security import BodyLimit
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.tokens import Scoped, token_scope

ACTOR = "test:admin"


def _audit(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        return list(session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id)))


def test_create_authenticate_and_scopes(store: Store) -> None:
    view, raw = create_token(store, " HMA-Client ", ["match", "hash", "match"], actor=ACTOR)
    assert view.name == "hma-client" and view.scopes == ("hash", "match")
    assert raw.startswith("kt_") and not view.revoked
    principal = authenticate_token(store, raw)
    assert principal == TokenPrincipal("hma-client", frozenset({"hash", "match"}))
    assert principal.actor == "token:hma-client"
    assert principal.can("match") and not principal.can("curate")
    # Each token is its own: a second one neither equals nor opens the first.
    _, other = create_token(store, "exchange-bot", ["exchange"], actor=ACTOR)
    assert other != raw
    assert authenticate_token(store, other) == TokenPrincipal(
        "exchange-bot", frozenset({"exchange"})
    )
    assert [t.name for t in list_tokens(store)] == ["exchange-bot", "hma-client"]


def test_stored_only_as_its_sha256_and_audited_without_it(store: Store) -> None:
    _, raw = create_token(store, "client", ["curate"], actor=ACTOR)
    revoke_token(store, "client", actor="test:other")
    with store.engine.connect() as conn:
        [row] = [tuple(r) for r in conn.execute(sa.text("SELECT * FROM api_tokens"))]
    assert not any(raw in str(value) for value in row)
    assert hashlib.sha256(raw.encode()).hexdigest() in row
    entries = _audit(store)
    assert [(e.actor, e.action, e.target_id) for e in entries] == [
        (ACTOR, "token.created", "client"),
        ("test:other", "token.revoked", "client"),
    ]
    assert entries[0].details == {"scopes": ["curate"]}
    assert not any(raw in str(e.details) or raw[3:] in str(e.details) for e in entries)


def test_revoked_never_authenticates_again(store: Store) -> None:
    _, raw = create_token(store, "client", ["hash"], actor=ACTOR)
    view = revoke_token(store, "CLIENT", actor=ACTOR)
    assert view.revoked and view.revoked_by == ACTOR
    assert authenticate_token(store, raw) is None
    with pytest.raises(TokenError, match="already revoked"):
        revoke_token(store, "client", actor=ACTOR)
    # The name stays taken, so the audit log's "client" means one token.
    with pytest.raises(TokenError, match="already exists"):
        create_token(store, "client", ["hash"], actor=ACTOR)
    assert [e.action for e in _audit(store)] == ["token.created", "token.revoked"]


def test_wrong_garbage_and_overlong_tokens_refused(store: Store) -> None:
    _, raw = create_token(store, "client", ["hash"], actor=ACTOR)
    flipped = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    digest = hashlib.sha256(raw.encode()).hexdigest()
    for wrong in ("", "kt_", flipped, raw + "x", raw[3:], " " + raw, digest, raw * 100, "é" * 46):
        assert authenticate_token(store, wrong) is None, wrong[:60]
    assert authenticate_token(store, None) is None


def test_bad_requests_refused_and_nothing_stored(store: Store) -> None:
    for name, scopes, why in (
        ("client", ["hash", "admin"], "unknown scope 'admin'"),
        ("client", [], "at least one scope"),
        ("x", ["hash"], "3-64 characters"),
        ("bad name", ["hash"], "3-64 characters"),
    ):
        with pytest.raises(TokenError, match=why):
            create_token(store, name, scopes, actor=ACTOR)
    with pytest.raises(TokenError, match="no token named 'ghost'"):
        revoke_token(store, "ghost", actor=ACTOR)
    assert list_tokens(store) == [] and _audit(store) == []


def test_last_used_written_at_most_once_a_minute(store: Store) -> None:
    _, raw = create_token(store, "client", ["hash"], actor=ACTOR)
    assert list_tokens(store)[0].last_used_at is None
    authenticate_token(store, raw)
    [first] = list_tokens(store)
    assert first.last_used_at is not None
    authenticate_token(store, raw)
    assert list_tokens(store)[0].last_used_at == first.last_used_at
    # A use over a minute after the last one recorded is recorded again.
    long_ago = datetime.now(UTC) - timedelta(minutes=5)
    with store.session() as session:
        session.execute(sa.update(ApiToken).values(last_used_at=long_ago))
    authenticate_token(store, raw)
    later = list_tokens(store)[0].last_used_at
    assert later is not None and later > long_ago + timedelta(minutes=4)


def test_cli_prints_the_token_as_its_last_line(sqlite_store: Store) -> None:
    db = ["--db", sqlite_store.url]
    env = {"KAITIAKI_USER": "alice"}
    made = kaitiaki("tokens", "create", "Bot", "--scope", "match", "--scope", "hash", *db, env=env)
    assert made.exit_code == 0, made.stderr
    raw = made.stdout.splitlines()[-1]
    assert authenticate_token(sqlite_store, raw) == TokenPrincipal(
        "bot", frozenset({"hash", "match"})
    )
    listed = kaitiaki("tokens", "list", *db)
    assert (
        "bot" in listed.stdout and "hash, match" in listed.stdout and "cli:alice" in listed.stdout
    )
    assert raw not in listed.stdout
    refused = kaitiaki("tokens", "create", "other", "--scope", "root", *db)
    assert refused.exit_code == 1 and "unknown scope 'root'" in refused.stderr
    revoked = kaitiaki("tokens", "revoke", "bot", *db, env=env)
    assert revoked.exit_code == 0 and "revoked token bot" in revoked.stdout
    assert authenticate_token(sqlite_store, raw) is None
    actors = [(e.actor, e.action) for e in _audit(sqlite_store)]
    assert actors == [("cli:alice", "token.created"), ("cli:alice", "token.revoked")]


def _app(store: Store) -> FastAPI:
    app = FastAPI()
    app.state.store = store

    @app.post("/m/lookup")
    def lookup(body: dict[str, str], who: TokenPrincipal = Scoped.MATCH) -> dict[str, str]:
        return {"actor": who.actor, **body}

    # As in the real application: a body is read only once its sender is known.
    app.add_middleware(BodyLimit, settings=WebSettings(max_body=100))
    return app


def test_token_scope_dependency(sqlite_store: Store) -> None:
    _, matcher = create_token(sqlite_store, "matcher", ["match"], actor=ACTOR)
    _, hasher = create_token(sqlite_store, "hasher", ["hash"], actor=ACTOR)
    _, gone = create_token(sqlite_store, "gone", ["match"], actor=ACTOR)
    revoke_token(sqlite_store, "gone", actor=ACTOR)
    client = TestClient(_app(sqlite_store))

    def call(
        authorization: str | None, body: str = '{"q": "1"}'
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        response = client.post("/m/lookup", content=body, headers=headers)
        return response.status_code, dict(response.headers), response.text

    for authorization in (
        None,
        "",
        "Bearer",
        "Bearer nonsense",
        f"Basic {matcher}",
        f"Bearer {gone}",
    ):
        status, headers, text = call(authorization)
        assert status == 401 and headers["www-authenticate"] == "Bearer", (authorization, text)
        assert text.startswith("{")  # JSON for a machine client, not an HTML page
    status, _, text = call(f"Bearer {hasher}")
    assert status == 403 and "'match' scope" in text
    status, _, text = call(f"bearer {matcher}")
    assert status == 200 and '"actor":"token:matcher"' in text
    status, _, _ = call(f"Bearer {matcher}", '{"q": "' + "x" * 200 + '"}')
    assert status == 413


def test_token_routes_are_requirements() -> None:
    requirement = token_scope("curate")
    assert isinstance(requirement, Requirement) and not requirement.public
    assert requirement.token_scope == "curate" and requirement.permission is None
    with pytest.raises(ValueError, match="unknown token scope"):
        token_scope("admin")
