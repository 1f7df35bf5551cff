"""`kaitiaki serve --demo`: a new user's way to a running server with an operation loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from web_helpers import PASSWORD, make_app, sign_in

from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Evidence, FileInstance, Referral, Subject, User
from kaitiaki.web.demo import ADMIN, EVIDENCE, prepare_demo


def _counts(store: Store) -> dict[str, int]:
    with store.session() as session:
        return {
            model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Evidence, FileInstance, Subject, Referral, User)
        }


def test_demo_loads_an_operation_and_an_admin_once(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAITIAKI_ADMIN_PASSWORD", PASSWORD)
    said: list[str] = []
    prepare_demo(sqlite_store, tmp_path / "demo", said.append)

    first = _counts(sqlite_store)
    assert first["Evidence"] == 1 and first["FileInstance"] > 50
    assert first["Subject"] > 0 and first["Referral"] > 0 and first["User"] == 1
    assert any("admin account 'admin' created" in line for line in said)
    assert not any(PASSWORD in line for line in said), "a chosen password is never printed"

    # Started again on the same folder: nothing is redone, nothing doubles.
    prepare_demo(sqlite_store, tmp_path / "demo", said.append)
    assert _counts(sqlite_store) == first

    app = make_app(sqlite_store, tmp_path)
    client, _ = sign_in(app, ADMIN)
    stats = client.get("/api/stats")
    assert stats.status_code == 200
    referrals = client.get("/api/referrals").json()
    assert len(referrals) == first["Referral"]
    evidence = client.get("/api/evidence").json()
    assert [e["name"] for e in evidence] == [EVIDENCE]
    with sqlite_store.session() as session:
        signed_in = session.scalar(select(func.count()).where(AuditEvent.action == "login"))
    assert signed_in == 1


def test_generated_password_is_shown_once(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaitiaki.users import authenticate
    from kaitiaki.web import demo

    monkeypatch.delenv("KAITIAKI_ADMIN_PASSWORD", raising=False)
    said: list[str] = []
    demo._admin(sqlite_store, said.append)
    (line,) = said
    password = line.rsplit(": ", 1)[1]
    assert authenticate(sqlite_store, ADMIN, password) is not None
    demo._admin(sqlite_store, said.append)
    assert len(said) == 1, "an existing admin is left alone and no password is printed again"
