"""The referral domain's application layer: every read model and every change-plus-audit entry.

The CLI, the web API and the jobs call these functions and only translate their errors. Each
takes the caller's ``Scope`` (who: role and, for a liaison, its (country, agency) pairs) and each
change takes the audit ``actor``, both required, so no front-end can forget either. A referral
outside the caller's reach is "not found", exactly like one that does not exist, so a liaison
cannot learn which referrals other jurisdictions have.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from hashlib import file_digest
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.refer.lifecycle import (
    NEXT,
    LifecycleError,
    StatusChange,
    apply_status,
    normalise_status,
)
from kaitiaki.refer.outcomes import OutcomesError, OutcomesResult, read_outcomes
from kaitiaki.refer.stats import Stats, operation_stats
from kaitiaki.store import Store
from kaitiaki.store.models import Outcome, Referral, ReferralEvent, ReferralSubject
from kaitiaki.users.roles import Permission, can_send
from kaitiaki.users.scope import Scope

OUTCOME_KINDS: Final = ("arrested", "children_safeguarded", "note")
MAX_COUNT: Final = 1_000_000
MAX_NOTE: Final = 2000
SENT: Final = "sent"


class ReferralError(ValueError):
    """A referral request that cannot be done; subclasses say how a front-end should answer."""


class ReferralNotFoundError(ReferralError):
    """No such referral, or one outside the caller's reach (the two are not told apart)."""


class ReferralForbiddenError(ReferralError):
    """The caller's role may not make this change (a liaison sending a draft, an auditor)."""


class ReferralConflictError(ReferralError):
    """The lifecycle does not allow this change now (a skipped step, a final status)."""


class ReferralInvalidError(ReferralError):
    """A value that cannot be used (a subject not in the referral, a count out of range)."""


@dataclass(frozen=True, slots=True)
class ReferralSummary:
    id: str
    agency: str
    country: str | None
    status: str
    created_at: datetime
    created_by: str
    subjects: int


@dataclass(frozen=True, slots=True)
class OutcomeView:
    subject_id: str | None
    kind: str
    count: int
    date: datetime | None
    note: str
    source: str


@dataclass(frozen=True, slots=True)
class ReferralView(ReferralSummary):
    manifest_sha256: str | None
    package_path: str | None  # the sending side's folder; never shown to a receiving agency
    subject_ids: list[str]
    next_statuses: list[str]  # what this caller may move it to
    events: list[StatusChange]
    outcomes: list[OutcomeView]


def _within(query: Select[Any], scope: Scope) -> Select[Any]:
    # Narrow by country in SQL (cheap, indexed by the planner's choice), then ``covers`` decides
    # on each row in Python, so the agency comparison is the one ``Scope`` defines everywhere.
    if scope.bounded:
        query = query.where(func.upper(Referral.country).in_(sorted(scope.countries)))
    return query


def list_referrals(store: Store, *, scope: Scope) -> list[ReferralSummary]:
    """The referrals within reach, newest first, with their subject counts."""
    if not scope.can(Permission.VIEW_REFERRALS) or (scope.bounded and not scope.countries):
        return []
    counts = (
        select(ReferralSubject.referral_id, func.count().label("n"))
        .group_by(ReferralSubject.referral_id)
        .subquery()
    )
    query = _within(
        select(Referral, counts.c.n)
        .outerjoin(counts, counts.c.referral_id == Referral.id)
        .order_by(Referral.created_at.desc(), Referral.id),
        scope,
    )
    with store.session() as session:
        return [
            _summary(r, n or 0)
            for r, n in session.execute(query)
            if scope.covers(r.country, r.agency)
        ]


# A referral's subject count as a column of its row, so a list can sort and page by it in SQL.
SUBJECT_COUNT: Final = (
    select(func.count())
    .where(ReferralSubject.referral_id == Referral.id)
    .correlate(Referral)
    .scalar_subquery()
)


def page_referrals(
    store: Store,
    *,
    scope: Scope,
    shape: Callable[[Select[Any]], Select[Any]],
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[ReferralSummary]]:
    """How many referrals within reach ``shape`` (a list's filters and order) keeps, and the
    ``limit`` of them from ``offset`` (all with None)."""
    if not scope.can(Permission.VIEW_REFERRALS) or (scope.bounded and not scope.countries):
        return 0, []
    query = shape(_within(select(Referral, SUBJECT_COUNT.label("n")), scope))
    with store.session() as session:
        if not scope.bounded:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.execute(query.offset(offset).limit(limit))
            return total, [_summary(r, n or 0) for r, n in rows]
        # A liaison: ``covers`` decides each row (agency names compare ignoring case and runs of
        # spaces, which SQL cannot say alike on every engine), so its own countries' rows are
        # counted and sliced here; paging must never let another jurisdiction's row through.
        reached = [(r, n) for r, n in session.execute(query) if scope.covers(r.country, r.agency)]
    end = None if limit is None else offset + limit
    return len(reached), [_summary(r, n or 0) for r, n in reached[offset:end]]


def _summary(r: Referral, subjects: int) -> ReferralSummary:
    return ReferralSummary(
        r.id, r.agency, r.country, r.status, r.created_at, r.created_by, subjects
    )


def _reachable(session: Session, referral_id: str, scope: Scope) -> Referral:
    referral = session.get(Referral, referral_id) if len(referral_id) <= 60 else None
    if (
        referral is None
        or not scope.can(Permission.VIEW_REFERRALS)
        or not scope.covers(referral.country, referral.agency)
    ):
        raise ReferralNotFoundError(f"no referral {referral_id!r}")
    return referral


def next_statuses(current: str, scope: Scope) -> list[str]:
    """The statuses this caller may move a referral at ``current`` to."""
    if not scope.can(Permission.UPDATE_REFERRAL):
        return []
    return [s for s in NEXT.get(current, ()) if s != SENT or can_send(scope)]


def referral_detail(store: Store, referral_id: str, *, scope: Scope) -> ReferralView:
    """A referral, its subjects, status history and outcomes (not audited: for showing the
    result of a change the caller just made; a look of its own goes through ``view_referral``)."""
    with store.session() as session:
        r = _reachable(session, referral_id, scope)
        subjects = list(
            session.scalars(
                select(ReferralSubject.subject_id)
                .where(ReferralSubject.referral_id == r.id)
                .order_by(ReferralSubject.subject_id)
            )
        )
        events = session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == r.id)
            .order_by(ReferralEvent.at, ReferralEvent.id)
        )
        outcomes = session.scalars(
            select(Outcome).where(Outcome.referral_id == r.id).order_by(Outcome.id)
        )
        return ReferralView(
            id=r.id,
            agency=r.agency,
            country=r.country,
            status=r.status,
            created_at=r.created_at,
            created_by=r.created_by,
            subjects=len(subjects),
            manifest_sha256=r.manifest_sha256,
            package_path=None if scope.bounded else r.package_path,
            subject_ids=subjects,
            next_statuses=next_statuses(r.status, scope),
            events=[StatusChange(e.referral_id, e.status, e.at, e.by, e.note) for e in events],
            outcomes=[
                OutcomeView(o.subject_id, o.kind, o.count, o.date, o.note, o.source)
                for o in outcomes
            ],
        )


def view_referral(store: Store, referral_id: str, *, actor: str, scope: Scope) -> ReferralView:
    """``referral_detail``, with the look written to the audit log as ``actor``."""
    detail = referral_detail(store, referral_id, scope=scope)
    with store.session() as session:
        record(session, actor=actor, action="view", target_type="referral", target_id=detail.id)
    return detail


def history(store: Store, referral_id: str, *, scope: Scope) -> list[StatusChange]:
    """Every status change of a referral, oldest first."""
    return referral_detail(store, referral_id, scope=scope).events


def _check_change(new: str, scope: Scope) -> None:
    if not scope.can(Permission.UPDATE_REFERRAL):
        raise ReferralForbiddenError(f"a {scope.role} may not change a referral's status")
    if new == SENT and not can_send(scope):
        raise ReferralForbiddenError(
            "only the sending side sends a referral; a receiving agency's liaison moves it on "
            "once it is sent"
        )


@contextmanager
def _lifecycle_conflicts() -> Iterator[None]:
    try:
        yield
    except LifecycleError as exc:
        raise ReferralConflictError(str(exc)) from None


def change_status(
    store: Store,
    referral_id: str,
    status: str,
    *,
    actor: str,
    scope: Scope,
    note: str = "",
    at: datetime | None = None,
) -> StatusChange:
    """Move a referral to ``status`` if the lifecycle and the caller's role allow it; the
    history row and the audit entry name ``actor``."""
    _check_note(note)
    with store.session() as session, _lifecycle_conflicts():
        # Reach first: a foreign referral is "not found" whatever the request says.
        referral = _reachable(session, referral_id, scope)
        new = normalise_status(status)
        _check_change(new, scope)
        return apply_status(session, referral.id, new, actor=actor, note=note, at=at)


def _check_note(note: str) -> None:
    if len(note) > MAX_NOTE:
        raise ReferralInvalidError(f"the note is longer than {MAX_NOTE} characters")


def record_outcome(
    store: Store,
    referral_id: str,
    *,
    kind: str,
    count: int = 1,
    subject_id: str | None = None,
    on: date | None = None,
    note: str = "",
    actor: str,
    scope: Scope,
) -> None:
    """Record what came of a referral (arrests, children safeguarded, or a note), audited."""
    if kind not in OUTCOME_KINDS:
        raise ReferralInvalidError(f"outcome kind {kind!r}; kinds: {', '.join(OUTCOME_KINDS)}")
    if not 0 <= count <= MAX_COUNT:
        raise ReferralInvalidError(f"count {count} is not between 0 and {MAX_COUNT:,}")
    _check_note(note)
    when = datetime.combine(on, time(), tzinfo=UTC) if on else None
    with store.session() as session:
        referral = _reachable(session, referral_id, scope)
        if not scope.can(Permission.RECORD_OUTCOMES):
            raise ReferralForbiddenError(f"a {scope.role} may not record outcomes")
        _check_member(session, referral.id, subject_id)
        _add_outcome(
            session,
            referral.id,
            subject_id,
            kind,
            0 if kind == "note" else count,
            when,
            note,
            source=actor,
            actor=actor,
        )


def _check_member(session: Session, referral_id: str, subject_id: str | None) -> None:
    if subject_id is None:
        return
    member = session.get(ReferralSubject, subject_id) if len(subject_id) <= 40 else None
    if member is None or member.referral_id != referral_id:
        raise ReferralInvalidError(f"subject {subject_id!r} is not in referral {referral_id!r}")


def _add_outcome(
    session: Session,
    referral_id: str,
    subject_id: str | None,
    kind: str,
    count: int,
    when: datetime | None,
    note: str,
    *,
    source: str,
    actor: str,
    details: dict[str, object] | None = None,
) -> None:
    session.add(
        Outcome(
            referral_id=referral_id,
            subject_id=subject_id,
            kind=kind,
            count=count,
            date=when,
            note=note,
            source=source,
        )
    )
    record(
        session,
        actor=actor,
        action="referral.outcome",
        target_type="referral",
        target_id=referral_id,
        reason=note,
        details={
            "kind": kind,
            "count": count,
            "subject_id": subject_id,
            "date": when.date().isoformat() if when else None,
            **(details or {}),
        },
    )


def import_outcomes(store: Store, path: Path, *, actor: str, scope: Scope) -> OutcomesResult:
    """Apply a partner's outcomes file all-or-nothing. Each status change and each outcome
    stored is one audit entry as ``actor`` (naming the file and its row); a row about a
    referral outside the caller's reach is refused like an unknown one."""
    rows = read_outcomes(path)
    with path.open("rb") as handle:
        digest = file_digest(handle, "sha256").hexdigest()
    changes = arrested = safeguarded = 0
    with store.session() as session:
        # Any error below raises out of the session, which rolls the whole file back.
        for row in rows:
            origin: dict[str, object] = {"file": path.name, "sha256": digest, "row": row.where}
            try:
                referral = _reachable(session, row.referral_id, scope)
                _check_member(session, referral.id, row.subject_id)
                if row.status is not None:
                    _check_change(row.status, scope)
                    with _lifecycle_conflicts():
                        apply_status(
                            session,
                            referral.id,
                            row.status,
                            actor=actor,
                            note=row.note,
                            at=row.date,
                        )
                    changes += 1
                # A row with only a note (no count, no status) is stored as a note outcome.
                kinds = row.counts or ({"note": 0} if row.note and row.status is None else {})
                if kinds and not scope.can(Permission.RECORD_OUTCOMES):
                    raise ReferralForbiddenError(f"a {scope.role} may not record outcomes")
            except ReferralNotFoundError:
                raise OutcomesError(f"{row.where}: unknown referral {row.referral_id!r}") from None
            except ReferralError as exc:
                raise OutcomesError(f"{row.where}: {exc}") from None
            for kind, count in kinds.items():
                _add_outcome(
                    session,
                    referral.id,
                    row.subject_id,
                    kind,
                    count,
                    row.date,
                    row.note,
                    source=path.name,
                    actor=actor,
                    details=origin,
                )
            arrested += row.counts.get("arrested", 0)
            safeguarded += row.counts.get("children_safeguarded", 0)
    return OutcomesResult(len(rows), changes, arrested, safeguarded)


def figures(store: Store, *, scope: Scope) -> Stats:
    """The operation's figures, counting only what the caller may reach."""
    return operation_stats(store, scope=scope)
