"""Subjects, accounts and users: lists read straight from SQL (none is jurisdiction-scoped:
the roles that may read them reach every row)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import func, select

from kaitiaki.priority.weights import TIERS
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AuditEvent, Priority, Subject, User
from kaitiaki.users.accounts import jurisdictions_of
from kaitiaki.users.roles import Role
from kaitiaki.web.api import subjects, users
from kaitiaki.web.listing import (
    Column,
    Filter,
    Found,
    ListQuery,
    ListSpec,
    Page,
    cells,
    contains,
    count,
    equals,
    sql_list,
)

# Sortable in SQL as columns of the subject's row.
ACCOUNT_COUNT = (
    select(func.count())
    .where(Account.subject_id == Subject.id)
    .correlate(Subject)
    .scalar_subquery()
)
TIER = func.coalesce(Priority.override_tier, Priority.tier)

SUBJECTS = ListSpec(
    name="subjects",
    sorts={
        "id": Subject.id,
        "country": Subject.country,
        "confidence": Subject.confidence,
        "agency": Subject.agency,
        "vpn": Subject.vpn_or_hosting,
        "accounts": ACCOUNT_COUNT,
        "score": Priority.score,
        "tier": TIER,
    },
    default_sort="-score",
    tiebreak=Subject.id,
    filters={
        "q": Filter(contains(Subject.id, Subject.agency)),
        "country": Filter(equals(Subject.country, upper=True), max_length=2),
        "tier": Filter(equals(TIER), choices=TIERS),
    },
    columns=cells(
        "id",
        "country",
        "confidence",
        "agency",
        "vpn_or_hosting",
        "accounts",
        "score",
        "tier",
        "referral_id",
    ),
)


def _subject(row: Any) -> subjects.SubjectRow:
    sid, where, confidence, agency, vpn, n, score, rank, referral = row
    return subjects.SubjectRow(
        id=sid,
        country=where,
        confidence=confidence,
        agency=agency,
        vpn_or_hosting=bool(vpn),
        accounts=n or 0,
        score=score,
        tier=rank,
        referral_id=referral,
    )


def subject_list(store: Store, query: ListQuery) -> Found:
    return sql_list(store, subjects._list_query(), query, _subject)


ACCOUNTS = ListSpec(
    name="accounts",
    sorts={
        "platform": Account.platform,
        "account": Account.account_id,
        "subject": Account.subject_id,
        "flagged": Account.flagged_files,
        "uploads": Account.uploads,
        "shares": Account.shares,
        "first_seen": Account.first_seen,
        "last_seen": Account.last_seen,
        "countries": Account.countries,
    },
    default_sort="-flagged",
    tiebreak=Account.id,
    filters={
        "q": Filter(contains(Account.account_id, Account.subject_id)),
        "subject_id": Filter(equals(Account.subject_id), max_length=40),
        "platform": Filter(equals(Account.platform), max_length=100),
    },
    columns=cells(
        "platform",
        "account_id",
        "subject_id",
        "flagged_files",
        "uploads",
        "downloads",
        "views",
        "shares",
        "first_seen",
        "last_seen",
        "ips",
        "countries",
        "categories",
    ),
)


def account_list(store: Store, query: ListQuery) -> Found:
    return sql_list(store, select(Account), query, lambda row: subjects._account(row[0]))


USERS = ListSpec(
    name="users",
    sorts={
        "name": User.name,
        "role": User.role,
        "disabled": User.disabled,
        "created": User.created_at,
    },
    default_sort="name",
    tiebreak=User.id,
    filters={
        "q": Filter(contains(User.name), max_length=100),
        "role": Filter(equals(User.role), choices=tuple(r.value for r in Role)),
        "disabled": Filter(
            lambda query, value: query.where(User.disabled.is_(value == "yes")),
            choices=("yes", "no"),
        ),
    },
    columns=(
        *cells("name", "role"),
        Column(
            "jurisdictions",
            lambda u: "; ".join(f"{j.country}:{j.agency}" for j in u.jurisdictions),
        ),
        *cells("disabled", "created_at"),
    ),
)


def user_list(store: Store, query: ListQuery) -> Found:
    def fetch(offset: int, limit: int) -> list[users.UserOut]:
        # The users and, in one more query, their jurisdictions (liaisons' only).
        with store.session() as session:
            shaped = query.shape(select(User)).offset(offset).limit(limit)
            found = list(session.scalars(shaped))
            pairs = jurisdictions_of(session, [u.id for u in found])
            return [users._out(u, pairs[u.id]) for u in found]

    items = [] if query.csv else fetch(query.offset, query.per_page)
    return Page(items, count(store, select(User), query), query), fetch


# The audit page pages by ``before_id`` (newest first: the log only grows); its export is
# the same entries, all of them, under the same filters.
AUDIT = ListSpec(
    name="audit",
    sorts={"id": AuditEvent.id},
    default_sort="-id",
    tiebreak=AuditEvent.id,
    filters={
        "actor": Filter(equals(AuditEvent.actor)),
        "action": Filter(equals(AuditEvent.action), max_length=60),
        "target_type": Filter(equals(AuditEvent.target_type), max_length=40),
    },
    columns=(
        *cells("id", "at", "actor", "action", "target_type", "target_id", "reason"),
        Column("details", lambda e: "" if e.details is None else json.dumps(e.details)),
        *cells("hash", "prev_hash"),
    ),
)


def audit_export(store: Store, query: ListQuery) -> Found:
    return sql_list(store, select(AuditEvent), query, lambda row: row[0])
