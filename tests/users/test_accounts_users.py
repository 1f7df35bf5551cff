"""Local accounts on both engines: argon2id hashes, the policy, sign-in, disabling."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher, Type

from kaitiaki.store import Store
from kaitiaki.store.models import User
from kaitiaki.users import (
    Role,
    UserError,
    accounts,
    add_user,
    authenticate,
    disable_user,
    list_users,
    set_password,
)

PASSWORD = "correct horse battery staple"


def _rows(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text("SELECT * FROM users"))]


def test_add_and_authenticate(store: Store) -> None:
    added = add_user(store, "  Alice.Smith ", Role.INVESTIGATOR, PASSWORD)
    assert added.name == "alice.smith"
    user = authenticate(store, "alice.smith", PASSWORD)
    assert user is not None and user.id == added.id and user.role == "investigator"
    assert authenticate(store, "ALICE.SMITH ", PASSWORD) is not None
    assert [u.name for u in list_users(store)] == ["alice.smith"]


def test_password_stored_only_as_argon2id(store: Store) -> None:
    add_user(store, "bob", "reviewer", PASSWORD)
    [row] = _rows(store)
    assert not any(PASSWORD in str(value) for value in row)
    with store.session() as session:
        stored = session.scalars(sa.select(User.password_hash)).one()
    assert stored.startswith("$argon2id$")


def test_refused_sign_ins(store: Store) -> None:
    add_user(store, "carol", "admin", PASSWORD)
    add_user(store, "dave", "admin", PASSWORD)
    assert authenticate(store, "carol", PASSWORD + "x") is None
    assert authenticate(store, "carol", "") is None
    assert authenticate(store, "nobody", PASSWORD) is None
    assert authenticate(store, "bad name!", PASSWORD) is None
    assert authenticate(store, "carol", "x" * 5000) is None
    disable_user(store, "carol")
    assert authenticate(store, "carol", PASSWORD) is None
    assert authenticate(store, "dave", PASSWORD) is not None


@pytest.mark.parametrize(
    ("name", "role", "password", "agency", "message"),
    [
        ("ab", "admin", PASSWORD, None, "3-64 characters"),
        ("x" * 65, "admin", PASSWORD, None, "3-64 characters"),
        ("eve smith", "admin", PASSWORD, None, "3-64 characters"),
        ("eve", "root", PASSWORD, None, "unknown role"),
        ("eve", "admin", "short", None, "at least 12"),
        ("eve", "admin", "x" * 1025, None, "at most 1024"),
        ("eve.longname", "admin", "EVE.LONGNAME", None, "not be the user name"),
        ("eve", "liaison", PASSWORD, None, "needs --agency"),
        ("eve", "liaison", PASSWORD, "  ", "needs --agency"),
        ("eve", "auditor", PASSWORD, "AFP", "has no agency"),
    ],
)
def test_policy_violations_store_nothing(
    sqlite_store: Store, name: str, role: str, password: str, agency: str | None, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        add_user(sqlite_store, name, role, password, agency=agency)
    assert _rows(sqlite_store) == []


def test_duplicate_refused(store: Store) -> None:
    add_user(store, "frank", "admin", PASSWORD)
    with pytest.raises(UserError, match="already exists"):
        add_user(store, "FRANK", "auditor", "another long password")
    assert len(_rows(store)) == 1
    assert authenticate(store, "frank", PASSWORD) is not None


def test_liaison_keeps_its_agency(store: Store) -> None:
    user = add_user(store, "gina@nz", "liaison", PASSWORD, agency=" NZ Police ")
    assert user.agency == "NZ Police"


def test_set_password(store: Store) -> None:
    add_user(store, "hana", "reviewer", PASSWORD)
    with pytest.raises(UserError, match="at least 12"):
        set_password(store, "hana", "short")
    with pytest.raises(UserError, match="no user named"):
        set_password(store, "nobody", "a new long password")
    set_password(store, "hana", "a new long password")
    assert authenticate(store, "hana", PASSWORD) is None
    assert authenticate(store, "hana", "a new long password") is not None


def test_last_admin_cannot_be_disabled(store: Store) -> None:
    add_user(store, "ivan", "admin", PASSWORD)
    with pytest.raises(UserError, match="last enabled admin"):
        disable_user(store, "ivan")
    add_user(store, "jane", "admin", PASSWORD)
    assert disable_user(store, "ivan").disabled
    assert disable_user(store, "ivan").disabled  # idempotent
    with pytest.raises(UserError, match="no user named"):
        disable_user(store, "nobody")


def test_old_parameters_are_rehashed_on_sign_in(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    with monkeypatch.context() as patch:
        patch.setattr(accounts, "HASHER", weak)
        add_user(sqlite_store, "kiri", "auditor", PASSWORD)
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
