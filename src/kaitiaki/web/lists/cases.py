"""Referrals and received cases: lists scoped to the caller's jurisdictions.

Their domain read functions (``refer.service.page_referrals``, ``receive.cases.page_cases``)
keep the scoping; the list's filters and order are applied on top of it, so no page and no
export of a liaison ever holds another jurisdiction's row.
"""

from __future__ import annotations

from kaitiaki.receive import cases
from kaitiaki.refer import service
from kaitiaki.refer.lifecycle import STATUSES
from kaitiaki.store import Store
from kaitiaki.store.models import ReceivedCase, Referral
from kaitiaki.web.api.received import CaseRow
from kaitiaki.web.api.referrals import ReferralRow
from kaitiaki.web.authz import CurrentUser
from kaitiaki.web.listing import (
    Column,
    Filter,
    Found,
    ListQuery,
    ListSpec,
    contains,
    domain_list,
    equals,
)


def _cell(name: str) -> Column:
    return Column(name, lambda row: getattr(row, name))


REFERRALS = ListSpec(
    name="referrals",
    sorts={
        "id": Referral.id,
        "agency": Referral.agency,
        "country": Referral.country,
        "status": Referral.status,
        "subjects": service.SUBJECT_COUNT,
        "created": Referral.created_at,
        "by": Referral.created_by,
    },
    default_sort="-created",
    tiebreak=Referral.id,
    filters={
        "q": Filter(contains(Referral.id, Referral.agency, Referral.created_by)),
        "status": Filter(equals(Referral.status), choices=STATUSES),
        "country": Filter(equals(Referral.country, upper=True), max_length=2),
    },
    columns=tuple(
        _cell(n)
        for n in ("id", "agency", "country", "status", "subjects", "created_at", "created_by")
    ),
)


def referrals(store: Store, user: CurrentUser, query: ListQuery) -> Found:
    def read(offset: int, limit: int | None) -> tuple[int, list[ReferralRow]]:
        total, found = service.page_referrals(
            store, scope=user.scope, shape=query.shape, offset=offset, limit=limit
        )
        return total, [ReferralRow.model_validate(r, from_attributes=True) for r in found]

    return domain_list(query, read)


RECEIVED = ListSpec(
    name="received",
    sorts={
        "priority": (cases.TIER_RANK, ReceivedCase.priority_score, ReceivedCase.received_at),
        "id": ReceivedCase.id,
        "reference": ReceivedCase.reference,
        "sender": ReceivedCase.sender,
        "agency": ReceivedCase.agency,
        "status": ReceivedCase.status,
        "assigned": ReceivedCase.assigned_to,
        "subjects": cases.SUBJECT_COUNT,
        "hits": cases.HIT_COUNT,
        "received": ReceivedCase.received_at,
    },
    default_sort="-priority",
    tiebreak=ReceivedCase.id,
    filters={
        "q": Filter(contains(ReceivedCase.reference, ReceivedCase.sender, ReceivedCase.agency)),
        "status": Filter(equals(ReceivedCase.status), max_length=40),
        "tier": Filter(equals(ReceivedCase.priority_tier), choices=cases.TIERS),
        "assigned": Filter(equals(ReceivedCase.assigned_to), max_length=100),
    },
    columns=tuple(
        _cell(n)
        for n in (
            "id",
            "reference",
            "package_version",
            "sender",
            "country",
            "agency",
            "priority_tier",
            "priority_score",
            "status",
            "assigned_to",
            "subjects",
            "hits",
            "received_at",
        )
    ),
)


def received(store: Store, user: CurrentUser, query: ListQuery) -> Found:
    def read(offset: int, limit: int | None) -> tuple[int, list[CaseRow]]:
        total, found = cases.page_cases(
            store, scope=user.scope, shape=query.shape, offset=offset, limit=limit
        )
        return total, [CaseRow.model_validate(c, from_attributes=True) for c in found]

    return domain_list(query, read)
