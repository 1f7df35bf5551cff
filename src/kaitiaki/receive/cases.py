"""Received cases: the read models, and who may reach which case.

A case is addressed to one (country, agency) pair, the recipient the sender's package names.
A liaison reaches only the cases of its jurisdictions (``Scope.covers``, the same predicate as
for referrals); a case outside reach is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from kaitiaki.store import Store
from kaitiaki.store.models import (
    CaseHit,
    CaseStep,
    Evidence,
    FileInstance,
    HashSet,
    HashSetEntry,
    Match,
    ReceivedCase,
    ReceivedSubject,
    ReceivedVersion,
)
from kaitiaki.users.roles import Permission
from kaitiaki.users.scope import Scope

TIERS = ("low", "medium", "high", "very_high")


class CaseError(ValueError):
    """A received-case request that cannot be done; subclasses say how to answer."""


class CaseNotFoundError(CaseError):
    """No such case, or one outside the caller's reach (never told apart)."""


class CaseForbiddenError(CaseError):
    """The caller's role may not do this."""


class CaseConflictError(CaseError):
    """Not possible in the case's present state (an older package version, a closed case)."""


class CaseInvalidError(CaseError):
    """A value that cannot be used (an unknown step, a subject not in the case)."""


@dataclass(frozen=True, slots=True)
class CaseSummary:
    id: int
    reference: str
    sender: str
    country: str | None
    agency: str
    status: str
    assigned_to: str | None
    priority_tier: str | None
    priority_score: float | None
    subjects: int
    package_version: int
    received_at: datetime
    hits: int


@dataclass(frozen=True, slots=True)
class StepView:
    uid: str
    kind: str
    on: datetime
    subject_id: str | None
    count: int | None
    reason: str
    detail: str
    by: str
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class HitView:
    subject_id: str  # the received subject
    other_type: str  # "subject" (ours) or "received" (another received case)
    other_id: str
    kind: str


@dataclass(frozen=True, slots=True)
class VersionView:
    package_version: int
    manifest_sha256: str
    imported_at: datetime
    imported_by: str
    differences: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class EvidenceMatches:
    """Files of one of our evidence items that match the sender's flagged hashes."""

    evidence: str
    files: int


@dataclass(frozen=True, slots=True)
class CaseView(CaseSummary):
    sender_fingerprint: str
    unknown_sender_reason: str | None
    manifest_sha256: str
    schema_version: str
    built_by: str
    sent_at: datetime | None
    received_by: str
    hash_set: str | None
    contact_reference: str
    subject_docs: list[dict[str, Any]]
    steps: list[StepView]
    hits_found: list[HitView]
    versions: list[VersionView]
    evidence_matches: list[EvidenceMatches]


def reachable(session: Session, case_ref: str | int, scope: Scope) -> ReceivedCase:
    """The case by id (a number) or by the sender's reference, within reach, else not found.
    A reference two senders both used is refused with the ids to choose from."""
    if not scope.can(Permission.VIEW_REFERRALS):
        raise CaseNotFoundError(f"no received case {case_ref!r}")
    text = str(case_ref).strip()
    candidates: list[ReceivedCase | None] = []
    if text.isdigit() and len(text) < 12:
        candidates = [session.get(ReceivedCase, int(text))]
    elif len(text) <= 60:
        candidates = list(
            session.scalars(select(ReceivedCase).where(ReceivedCase.reference == text))
        )
    found = [c for c in candidates if c is not None and scope.covers(c.country, c.agency)]
    if not found:
        raise CaseNotFoundError(f"no received case {text!r}")
    if len(found) > 1:
        ids = ", ".join(f"{c.id} (from {c.sender})" for c in found)
        raise CaseInvalidError(f"{len(found)} received cases have reference {text!r}: {ids}")
    return found[0]


def _hit_counts(session: Session, ids: list[int]) -> dict[int, int]:
    rows = session.execute(
        select(CaseHit.case_id, func.count())
        .where(CaseHit.case_id.in_(ids))
        .group_by(CaseHit.case_id)
    )
    return {case_id: n for case_id, n in rows}


def _summary(c: ReceivedCase, subjects: int, hits: int) -> CaseSummary:
    return CaseSummary(
        c.id,
        c.reference,
        c.sender,
        c.country,
        c.agency,
        c.status,
        c.assigned_to,
        c.priority_tier,
        c.priority_score,
        subjects,
        c.package_version,
        c.received_at,
        hits,
    )


def _priority_key(c: CaseSummary) -> tuple[int, float, float]:
    tier = TIERS.index(c.priority_tier) if c.priority_tier in TIERS else -1
    return (-tier, -(c.priority_score or 0.0), -c.received_at.timestamp())


def list_cases(store: Store, *, scope: Scope) -> list[CaseSummary]:
    """The received cases within reach, highest priority first, then newest."""
    if not scope.can(Permission.VIEW_REFERRALS) or (scope.bounded and not scope.countries):
        return []
    counts = (
        select(ReceivedSubject.case_id, func.count().label("n"))
        .group_by(ReceivedSubject.case_id)
        .subquery()
    )
    query = select(ReceivedCase, counts.c.n).outerjoin(counts, counts.c.case_id == ReceivedCase.id)
    if scope.bounded:
        query = query.where(func.upper(ReceivedCase.country).in_(sorted(scope.countries)))
    with store.session() as session:
        rows = [(c, n) for c, n in session.execute(query) if scope.covers(c.country, c.agency)]
        hits = _hit_counts(session, [c.id for c, _ in rows])
        summaries = [_summary(c, n or 0, hits.get(c.id, 0)) for c, n in rows]
    return sorted(summaries, key=_priority_key)


# A case's subject and hit counts, and its priority as one ordering (tier, then score, then
# newest), as columns of its row: a list sorts and pages by them in SQL.
SUBJECT_COUNT = (
    select(func.count())
    .where(ReceivedSubject.case_id == ReceivedCase.id)
    .correlate(ReceivedCase)
    .scalar_subquery()
)
HIT_COUNT = (
    select(func.count())
    .where(CaseHit.case_id == ReceivedCase.id)
    .correlate(ReceivedCase)
    .scalar_subquery()
)
TIER_RANK = case(
    {tier: rank for rank, tier in enumerate(TIERS)}, value=ReceivedCase.priority_tier, else_=-1
)


def page_cases(
    store: Store,
    *,
    scope: Scope,
    shape: Callable[[Select[Any]], Select[Any]],
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[CaseSummary]]:
    """How many received cases within reach ``shape`` (a list's filters and order) keeps, and
    the ``limit`` of them from ``offset`` (all with None)."""
    if not scope.can(Permission.VIEW_REFERRALS) or (scope.bounded and not scope.countries):
        return 0, []
    query = select(ReceivedCase, SUBJECT_COUNT.label("n"), HIT_COUNT.label("hits"))
    if scope.bounded:
        query = query.where(func.upper(ReceivedCase.country).in_(sorted(scope.countries)))
    query = shape(query)
    with store.session() as session:
        if not scope.bounded:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.execute(query.offset(offset).limit(limit))
            return total, [_summary(c, n or 0, h or 0) for c, n, h in rows]
        # A liaison: ``covers`` decides each row (see ``refer.service.page_referrals``).
        reached = [r for r in session.execute(query) if scope.covers(r[0].country, r[0].agency)]
    end = None if limit is None else offset + limit
    return len(reached), [_summary(c, n or 0, h or 0) for c, n, h in reached[offset:end]]


def _evidence_matches(session: Session, hash_set: str | None) -> list[EvidenceMatches]:
    if hash_set is None:
        return []
    rows = session.execute(
        select(Evidence.name, func.count(func.distinct(FileInstance.sha256)))
        .join(FileInstance, FileInstance.evidence_id == Evidence.id)
        .join(Match, Match.sha256 == FileInstance.sha256)
        .join(HashSetEntry, HashSetEntry.id == Match.entry_id)
        .join(HashSet, HashSet.id == HashSetEntry.hash_set_id)
        .where(HashSet.name == hash_set)
        .group_by(Evidence.name)
        .order_by(Evidence.name)
    )
    return [EvidenceMatches(name, n) for name, n in rows]


def case_detail(store: Store, case_ref: str | int, *, scope: Scope) -> CaseView:
    """Everything about one case (not audited: a look of its own goes through ``view_case``)."""
    with store.session() as session:
        c = reachable(session, case_ref, scope)
        subjects = list(
            session.scalars(
                select(ReceivedSubject)
                .where(ReceivedSubject.case_id == c.id)
                .order_by(ReceivedSubject.subject_id)
            )
        )
        steps = [
            StepView(
                s.uid, s.kind, s.on, s.subject_id, s.count, s.reason, s.detail, s.by, s.recorded_at
            )
            for s in session.scalars(
                select(CaseStep).where(CaseStep.case_id == c.id).order_by(CaseStep.on, CaseStep.id)
            )
        ]
        hits = [
            HitView(h.subject_id, h.other_type, h.other_id, h.kind)
            for h in session.scalars(
                select(CaseHit)
                .where(CaseHit.case_id == c.id)
                .order_by(CaseHit.subject_id, CaseHit.other_id)
            )
        ]
        versions = [
            VersionView(
                v.package_version,
                v.manifest_sha256,
                v.imported_at,
                v.imported_by,
                list(v.differences or []),
            )
            for v in session.scalars(
                select(ReceivedVersion)
                .where(ReceivedVersion.case_id == c.id)
                .order_by(ReceivedVersion.id)
            )
        ]
        base = _summary(c, len(subjects), len(hits))
        return CaseView(
            **{f: getattr(base, f) for f in CaseSummary.__dataclass_fields__},
            sender_fingerprint=c.sender_fingerprint,
            unknown_sender_reason=c.unknown_sender_reason,
            manifest_sha256=c.manifest_sha256,
            schema_version=c.schema_version,
            built_by=c.built_by,
            sent_at=c.sent_at,
            received_by=c.received_by,
            hash_set=c.hash_set,
            contact_reference=str((c.document.get("agency") or {}).get("contact_reference", "")),
            subject_docs=[dict(s.doc) for s in subjects],
            steps=steps,
            hits_found=hits,
            versions=versions,
            evidence_matches=_evidence_matches(session, c.hash_set),
        )


def hits_for_subject(
    store: Store, subject_id: str, *, scope: Scope
) -> list[tuple[CaseSummary, HitView]]:
    """Received cases whose subjects share an identifier with our subject ``subject_id``:
    the deconfliction hit, shown on our subject's side."""
    with store.session() as session:
        rows = session.execute(
            select(CaseHit, ReceivedCase)
            .join(ReceivedCase, ReceivedCase.id == CaseHit.case_id)
            .where(CaseHit.other_type == "subject", CaseHit.other_id == subject_id)
            .order_by(ReceivedCase.id)
        ).all()
        return [
            (_summary(c, 0, 0), HitView(h.subject_id, h.other_type, h.other_id, h.kind))
            for h, c in rows
            if scope.can(Permission.VIEW_REFERRALS) and scope.covers(c.country, c.agency)
        ]
