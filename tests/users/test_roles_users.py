"""The role -> permission table, checked cell by cell against an explicit expectation."""

from __future__ import annotations

import pytest

from kaitiaki.store import Store
from kaitiaki.store.models import Referral, User
from kaitiaki.users import (
    PERMISSIONS,
    READ_ONLY,
    Permission,
    Role,
    add_user,
    allowed,
    can_see_referral,
    can_update_referral,
)
from kaitiaki.users.roles import can_record_outcome

P = Permission
# Written out by hand, not derived from PERMISSIONS, so a change to the table must be deliberate.
EXPECTED: dict[Role, set[Permission]] = {
    Role.ADMIN: set(Permission),
    Role.INVESTIGATOR: set(Permission) - {P.MANAGE_USERS, P.VIEW_AUDIT},
    Role.REVIEWER: {P.VIEW_FILES, P.REVEAL_CONTENT, P.REVIEW},
    Role.LIAISON: {P.VIEW_REFERRALS, P.UPDATE_REFERRAL, P.RECORD_OUTCOMES},
    Role.AUDITOR: {
        P.VIEW_FILES,
        P.VIEW_HASH_SETS,
        P.VIEW_SUBJECTS,
        P.VIEW_PRIORITY,
        P.VIEW_REFERRALS,
        P.VIEW_STATISTICS,
        P.VIEW_AUDIT,
        P.VIEW_USERS,
    },
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_every_role_against_every_permission(role: Role, permission: Permission) -> None:
    assert allowed(role, permission) is (permission in EXPECTED[role])
    assert allowed(role.value, permission.value) is (permission in EXPECTED[role])


def test_table_covers_every_role() -> None:
    assert set(PERMISSIONS) == set(Role)


def test_auditor_changes_nothing_and_never_sees_content() -> None:
    for permission in Permission:
        if not permission.startswith("view_"):
            assert not allowed(Role.AUDITOR, permission), permission
    assert PERMISSIONS[Role.AUDITOR] == READ_ONLY
    assert not allowed(Role.AUDITOR, P.REVEAL_CONTENT)


def test_unknown_role_or_permission_is_refused() -> None:
    assert not allowed("superuser", P.VIEW_FILES)
    assert not allowed(Role.ADMIN, "launch_missiles")
    assert not allowed("", "")


def _user(role: Role, agency: str | None = None, *, disabled: bool = False) -> User:
    return User(
        name=f"u-{role}", role=role.value, agency=agency, password_hash="", disabled=disabled
    )


def test_liaison_sees_updates_and_records_outcomes_only_for_its_agency() -> None:
    ours = Referral(id="r1", agency="NZ Police", country="NZ")
    theirs = Referral(id="r2", agency="AFP", country="AU")
    liaison = _user(Role.LIAISON, "nz police ")
    assert can_see_referral(liaison, ours) and can_update_referral(liaison, ours)
    assert can_record_outcome(liaison, ours)
    assert not can_see_referral(liaison, theirs)
    assert not can_update_referral(liaison, theirs)
    assert not can_record_outcome(liaison, theirs)
    # A liaison without an agency (should never exist) sees nothing rather than everything.
    assert not can_see_referral(_user(Role.LIAISON), ours)
    assert not can_record_outcome(_user(Role.LIAISON), ours)
    assert not can_record_outcome(_user(Role.LIAISON, "NZ Police", disabled=True), ours)


def test_other_roles_follow_their_permissions() -> None:
    referral = Referral(id="r1", agency="AFP", country="AU")
    assert can_see_referral(_user(Role.ADMIN), referral)
    assert can_update_referral(_user(Role.INVESTIGATOR), referral)
    assert can_see_referral(_user(Role.AUDITOR), referral)
    assert not can_update_referral(_user(Role.AUDITOR), referral)
    assert can_record_outcome(_user(Role.INVESTIGATOR), referral)
    assert not can_record_outcome(_user(Role.AUDITOR), referral)
    assert not can_record_outcome(_user(Role.REVIEWER), referral)
    assert not can_see_referral(_user(Role.REVIEWER), referral)
    assert not can_see_referral(_user(Role.ADMIN, disabled=True), referral)


def test_referral_scope_with_stored_rows(sqlite_store: Store) -> None:
    liaison = add_user(sqlite_store, "liaison.nz", "liaison", "correct horse battery", agency="NZ")
    with sqlite_store.session() as session:
        session.add_all([Referral(id="a", agency="NZ"), Referral(id="b", agency="AU")])
    with sqlite_store.session() as session:
        from sqlalchemy import select

        visible = [r.id for r in session.scalars(select(Referral)) if can_see_referral(liaison, r)]
    assert visible == ["a"]
