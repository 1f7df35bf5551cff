"""The role -> permission table, checked cell by cell against an explicit expectation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaitiaki.store import Store
from kaitiaki.store.models import Referral
from kaitiaki.users import (
    PERMISSIONS,
    READ_ONLY,
    JurisdictionError,
    Permission,
    Role,
    Scope,
    allowed,
    can_record_outcome,
    can_see_referral,
    can_send,
    can_update_referral,
    jurisdiction,
    parse_jurisdiction,
)

P = Permission
# Written out by hand, not derived from PERMISSIONS, so a change to the table must be deliberate.
EXPECTED: dict[Role, set[Permission]] = {
    Role.ADMIN: set(Permission),
    Role.INVESTIGATOR: set(Permission) - {P.MANAGE_USERS, P.VIEW_AUDIT},
    Role.REVIEWER: {P.VIEW_FILES, P.REVEAL_CONTENT, P.REVIEW},
    Role.LIAISON: {P.VIEW_REFERRALS, P.UPDATE_REFERRAL, P.RECORD_OUTCOMES, P.RECEIVE_REFERRALS},
    Role.AUDITOR: {
        P.VIEW_FILES,
        P.VIEW_HASH_SETS,
        P.VIEW_SUBJECTS,
        P.VIEW_PRIORITY,
        P.VIEW_REFERRALS,
        P.VIEW_STATISTICS,
        P.VIEW_AUDIT,
        P.VIEW_USERS,
        P.VIEW_REPORTS,
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


NCB = "INTERPOL National Central Bureau"


def test_liaison_sees_updates_and_records_outcomes_only_for_its_jurisdiction() -> None:
    ours = Referral(id="r1", agency="NZ Police", country="NZ")
    theirs = Referral(id="r2", agency="AFP", country="AU")
    liaison = Scope(Role.LIAISON, frozenset({jurisdiction("nz", "nz police ")}))
    assert can_see_referral(liaison, ours) and can_update_referral(liaison, ours)
    assert can_record_outcome(liaison, ours)
    assert not can_see_referral(liaison, theirs)
    assert not can_update_referral(liaison, theirs)
    assert not can_record_outcome(liaison, theirs)
    # A liaison without a jurisdiction (never made by add_user) sees nothing, not everything.
    assert not can_see_referral(Scope(Role.LIAISON), ours)
    assert not can_record_outcome(Scope(Role.LIAISON), ours)
    assert not can_send(liaison) and can_send(Scope(Role.INVESTIGATOR))
    assert not can_send(Scope(Role.AUDITOR))


def test_one_agency_name_in_many_countries_is_many_jurisdictions() -> None:
    """The finding: 186 countries route to the INTERPOL NCB; a name is no boundary."""
    tonga = Referral(id="r-to", agency=NCB, country="TO")
    fiji = Referral(id="r-fj", agency=NCB, country="FJ")
    nameless = Referral(id="r-none", agency=NCB, country=None)
    liaison = Scope(Role.LIAISON, frozenset({jurisdiction("TO", NCB)}))
    assert can_see_referral(liaison, tonga)
    assert not can_see_referral(liaison, fiji) and not can_update_referral(liaison, fiji)
    assert not can_see_referral(liaison, nameless)
    # Same country, another agency: not its jurisdiction either.
    assert not can_see_referral(liaison, Referral(id="x", agency="Tonga Police", country="TO"))


def test_other_roles_follow_their_permissions() -> None:
    referral = Referral(id="r1", agency="AFP", country="AU")
    assert can_see_referral(Scope(Role.ADMIN), referral)
    assert can_update_referral(Scope(Role.INVESTIGATOR), referral)
    assert can_see_referral(Scope(Role.AUDITOR), referral)
    assert not can_update_referral(Scope(Role.AUDITOR), referral)
    assert can_record_outcome(Scope(Role.INVESTIGATOR), referral)
    assert not can_record_outcome(Scope(Role.AUDITOR), referral)
    assert not can_record_outcome(Scope(Role.REVIEWER), referral)
    assert not can_see_referral(Scope(Role.REVIEWER), referral)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NZ Police", "must be COUNTRY:AGENCY"),
        ("NZL:NZ Police", "two-letter"),
        ("QQ:NZ Police", "not an ISO 3166-1 country code"),
        ("1Z:NZ Police", "two-letter"),
        ("NZ:", "agency name is empty"),
        ("NZ:   ", "agency name is empty"),
        ("NZ:" + "x" * 201, "longer than 200"),
        ("NZ:NZ\x00Police", "control characters"),
    ],
)
def test_bad_jurisdictions_are_refused(text: str, message: str) -> None:
    with pytest.raises(JurisdictionError, match=message):
        parse_jurisdiction(text)


@given(
    country=st.sampled_from(["nz", "NZ", " nz ", "Nz"]),
    agency=st.sampled_from(["NZ Police", "nz  police", " NZ POLICE "]),
)
def test_case_and_spacing_do_not_make_another_jurisdiction(country: str, agency: str) -> None:
    pair = parse_jurisdiction(f"{country}:{agency}")
    assert pair.country == "NZ"
    assert pair.covers("NZ", "NZ Police") and pair.covers("nz", "nz police")
    assert not pair.covers("AU", "NZ Police") and not pair.covers("NZ", "NZ Police Dept")


def test_kosovo_is_a_country_here() -> None:
    assert parse_jurisdiction("xk:Kosovo Police").country == "XK"


def test_referral_scope_with_stored_rows(sqlite_store: Store) -> None:
    from sqlalchemy import select

    with sqlite_store.session() as session:
        session.add_all(
            [
                Referral(id="a", agency=NCB, country="TO"),
                Referral(id="b", agency=NCB, country="FJ"),
            ]
        )
    liaison = Scope(Role.LIAISON, frozenset({jurisdiction("TO", NCB)}))
    with sqlite_store.session() as session:
        visible = [r.id for r in session.scalars(select(Referral)) if can_see_referral(liaison, r)]
    assert visible == ["a"]
