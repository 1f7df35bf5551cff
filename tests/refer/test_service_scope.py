"""``refer.service`` reads within a scope, on both engines: whatever referrals exist, a liaison
lists, opens and counts exactly those whose (country, agency) is one of its pairs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from kaitiaki.refer.service import (
    ReferralNotFoundError,
    figures,
    list_referrals,
    referral_detail,
    view_referral,
)
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Referral
from kaitiaki.users import Jurisdiction, Role, Scope

COUNTRIES = ("NZ", "AU", "TO", "FJ")
AGENCIES = ("INTERPOL National Central Bureau", "Police", "police ", "Federal Police")
pairs = st.tuples(st.sampled_from(COUNTRIES), st.sampled_from(AGENCIES))


def _key(country: str | None, agency: str) -> tuple[str | None, str]:
    return country, " ".join(agency.split()).casefold()


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    referrals=st.lists(
        st.one_of(pairs, st.tuples(st.none(), st.sampled_from(AGENCIES))), max_size=8
    ),
    mine=st.frozensets(pairs, max_size=3),
)
def test_a_liaison_reaches_exactly_its_pairs(
    store: Store, referrals: list[tuple[str | None, str]], mine: frozenset[tuple[str, str]]
) -> None:
    with store.session() as session:
        session.execute(delete(Referral))
        session.add_all(
            Referral(
                id=f"R-{n}",
                agency=agency,
                country=country,
                status="sent",
                created_at=datetime(2024, 1, 1 + n, tzinfo=UTC),
            )
            for n, (country, agency) in enumerate(referrals)
        )
    scope = Scope(Role.LIAISON, frozenset(Jurisdiction(c, a.strip()) for c, a in mine))
    wanted = {_key(c, a) for c, a in mine}
    expected = {f"R-{n}" for n, (c, a) in enumerate(referrals) if _key(c, a) in wanted}
    listed = [r.id for r in list_referrals(store, scope=scope)]
    assert set(listed) == expected and len(listed) == len(expected)
    assert figures(store, scope=scope).referrals == len(expected)
    for n in range(len(referrals)):
        referral_id = f"R-{n}"
        if referral_id in expected:
            assert referral_detail(store, referral_id, scope=scope).id == referral_id
        else:
            with pytest.raises(ReferralNotFoundError):
                referral_detail(store, referral_id, scope=scope)
    everyone = list_referrals(store, scope=Scope(Role.AUDITOR))
    assert len(everyone) == len(referrals)
    assert list_referrals(store, scope=Scope(Role.REVIEWER)) == []


def test_a_refused_look_is_not_audited(store: Store) -> None:
    with store.session() as session:
        session.add(Referral(id="R-FJ", agency="Police", country="FJ", status="sent"))
    tonga = Scope(Role.LIAISON, frozenset({Jurisdiction("TO", "Police")}))
    with pytest.raises(ReferralNotFoundError, match="no referral 'R-FJ'"):
        view_referral(store, "R-FJ", actor="web:tonga", scope=tonga)
    with pytest.raises(ReferralNotFoundError, match="no referral"):
        view_referral(store, "x" * 500, actor="web:tonga", scope=tonga)
    view_referral(store, "R-FJ", actor="web:ian", scope=Scope(Role.INVESTIGATOR))
    with store.session() as session:
        seen = [(e.actor, e.action, e.target_id) for e in session.query(AuditEvent)]
    assert seen == [("web:ian", "view", "R-FJ")]
