"""Local accounts on both engines: argon2id hashes, the policy, sign-in, disabling."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type

from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, User
from kaitiaki.users import (
    Jurisdiction,
    Role,
    UserError,
    accounts,
    add_user,
    authenticate,
    disable_user,
    jurisdiction,
    list_users,
    set_jurisdictions,
    set_password,
)
from kaitiaki.users.accounts import jurisdictions_by_name
from kaitiaki.users.scope import jurisdiction_set

PASSWORD = "correct horse battery staple"
ACTOR = "test:admin"
NZ = Jurisdiction("NZ", "NZ Police")


def _rows(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text("SELECT * FROM users"))]


def test_add_and_authenticate(store: Store) -> None:
    added = add_user(store, "  Alice.Smith ", Role.INVESTIGATOR, PASSWORD, actor=ACTOR)
    assert added.name == "alice.smith"
    user = authenticate(store, "alice.smith", PASSWORD)
    assert user is not None and user.id == added.id and user.role == "investigator"
    assert authenticate(store, "ALICE.SMITH ", PASSWORD) is not None
    assert [u.name for u in list_users(store)] == ["alice.smith"]


def test_password_stored_only_as_argon2id(store: Store) -> None:
    add_user(store, "bob", "reviewer", PASSWORD, actor=ACTOR)
    [row] = _rows(store)
    assert not any(PASSWORD in str(value) for value in row)
    with store.session() as session:
        stored = session.scalars(sa.select(User.password_hash)).one()
    assert stored.startswith("$argon2id$")


def test_refused_sign_ins(store: Store) -> None:
    add_user(store, "carol", "admin", PASSWORD, actor=ACTOR)
    add_user(store, "dave", "admin", PASSWORD, actor=ACTOR)
    assert authenticate(store, "carol", PASSWORD + "x") is None
    assert authenticate(store, "carol", "") is None
    assert authenticate(store, "nobody", PASSWORD) is None
    assert authenticate(store, "bad name!", PASSWORD) is None
    assert authenticate(store, "carol", "x" * 5000) is None
    disable_user(store, "carol", actor=ACTOR)
    assert authenticate(store, "carol", PASSWORD) is None
    assert authenticate(store, "dave", PASSWORD) is not None


@pytest.mark.parametrize(
    ("name", "role", "password", "pair", "message"),
    [
        ("ab", "admin", PASSWORD, None, "3-64 characters"),
        ("x" * 65, "admin", PASSWORD, None, "3-64 characters"),
        ("eve smith", "admin", PASSWORD, None, "3-64 characters"),
        ("eve", "root", PASSWORD, None, "unknown role"),
        ("eve", "admin", "short", None, "at least 12"),
        ("eve", "admin", "x" * 1025, None, "at most 1024"),
        ("eve.longname", "admin", "EVE.LONGNAME", None, "not be the user name"),
        ("eve", "liaison", PASSWORD, None, "needs --jurisdiction"),
        ("eve", "auditor", PASSWORD, NZ, "has no jurisdiction"),
        ("eve", "admin", PASSWORD, NZ, "has no jurisdiction"),
    ],
)
def test_policy_violations_store_nothing(
    sqlite_store: Store,
    name: str,
    role: str,
    password: str,
    pair: Jurisdiction | None,
    message: str,
) -> None:
    with pytest.raises(UserError, match=message):
        add_user(
            sqlite_store, name, role, password, actor=ACTOR, jurisdictions=[pair] if pair else []
        )
    assert _rows(sqlite_store) == []
    with sqlite_store.session() as session:
        assert session.scalars(sa.select(AuditEvent)).all() == []


def test_duplicate_refused(store: Store) -> None:
    add_user(store, "frank", "admin", PASSWORD, actor=ACTOR)
    with pytest.raises(UserError, match="already exists"):
        add_user(store, "FRANK", "auditor", "another long password", actor=ACTOR)
    assert len(_rows(store)) == 1
    assert authenticate(store, "frank", PASSWORD) is not None


def test_liaison_keeps_its_jurisdictions_and_every_change_is_audited(store: Store) -> None:
    au = jurisdiction("au", " Australian  Federal Police ")
    user = add_user(store, "gina@nz", "liaison", PASSWORD, actor=ACTOR, jurisdictions=[NZ, au])
    assert user.agency is None  # the name alone bounds nothing any more
    assert jurisdictions_by_name(store, "gina@nz") == {
        Jurisdiction("NZ", "NZ Police"),
        Jurisdiction("AU", "Australian Federal Police"),
    }
    # Same pairs again (case and spacing aside) change nothing and record nothing.
    same = [Jurisdiction("NZ", "nz police"), au, au]
    _, kept = set_jurisdictions(store, "gina@nz", [NZ, au], actor="cli:boss")
    assert len(kept) == 2 and len(jurisdiction_set(same)) == 2
    _, now = set_jurisdictions(store, "GINA@nz", [au], actor="cli:boss")
    assert now == {au}
    with pytest.raises(UserError, match="needs --jurisdiction"):
        set_jurisdictions(store, "gina@nz", [], actor="cli:boss")
    add_user(store, "hemi", "investigator", PASSWORD, actor=ACTOR)
    with pytest.raises(UserError, match="has no jurisdiction"):
        set_jurisdictions(store, "hemi", [NZ], actor="cli:boss")
    with store.session() as session:
        events = [
            (e.actor, e.action, e.target_id, e.details)
            for e in session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id))
        ]
    assert events == [
        (
            ACTOR,
            "user.added",
            "gina@nz",
            {"role": "liaison", "jurisdictions": ["AU:Australian Federal Police", "NZ:NZ Police"]},
        ),
        (
            "cli:boss",
            "user.jurisdiction",
            "gina@nz",
            {
                "from": ["AU:Australian Federal Police", "NZ:NZ Police"],
                "to": ["AU:Australian Federal Police"],
            },
        ),
        (ACTOR, "user.added", "hemi", {"role": "investigator", "jurisdictions": []}),
    ]


def test_set_password(store: Store) -> None:
    add_user(store, "hana", "reviewer", PASSWORD, actor=ACTOR)
    with pytest.raises(UserError, match="at least 12"):
        set_password(store, "hana", "short", actor="test:setup")
    with pytest.raises(UserError, match="no user named"):
        set_password(store, "nobody", "a new long password", actor="test:setup")
    set_password(store, "hana", "a new long password", actor="test:setup")
    assert authenticate(store, "hana", PASSWORD) is None
    assert authenticate(store, "hana", "a new long password") is not None


def test_last_admin_cannot_be_disabled(store: Store) -> None:
    add_user(store, "ivan", "admin", PASSWORD, actor=ACTOR)
    with pytest.raises(UserError, match="last enabled admin"):
        disable_user(store, "ivan", actor=ACTOR)
    add_user(store, "jane", "admin", PASSWORD, actor=ACTOR)
    assert disable_user(store, "ivan", actor=ACTOR).disabled
    assert disable_user(store, "ivan", actor=ACTOR).disabled  # idempotent
    with pytest.raises(UserError, match="no user named"):
        disable_user(store, "nobody", actor=ACTOR)


def test_old_parameters_are_rehashed_on_sign_in(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    with monkeypatch.context() as patch:
        patch.setattr(accounts, "HASHER", weak)
        add_user(sqlite_store, "kiri", "auditor", PASSWORD, actor=ACTOR)
    [before] = [u.password_hash for u in list_users(sqlite_store)]
    assert "m=8," in before
    assert authenticate(sqlite_store, "kiri", PASSWORD) is not None
    [after] = [u.password_hash for u in list_users(sqlite_store)]
    assert after != before and not accounts.HASHER.check_needs_rehash(after)
    assert authenticate(sqlite_store, "kiri", PASSWORD) is not None


def test_unknown_user_still_costs_a_verification(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real = accounts._verify

    def counting(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(accounts, "_verify", counting)
    assert authenticate(sqlite_store, "nobody", PASSWORD) is None
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")
