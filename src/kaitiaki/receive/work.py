"""Working a received case: assign it, record the steps of the local investigation and notes.

Every change is audited as the acting user. Steps follow ``refer.steps`` (the vocabulary the
outcome file carries back); the case's status is the furthest step reached along the referral
lifecycle, or "no further action" once that is recorded for the whole case (or every subject),
after which only notes may be added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.receive.cases import (
    CaseConflictError,
    CaseForbiddenError,
    CaseInvalidError,
    CaseView,
    StepView,
    case_detail,
    reachable,
)
from kaitiaki.refer.lifecycle import NO_FURTHER_ACTION, PATH
from kaitiaki.refer.steps import NOTE, STATUS_OF, StepError, check_step, normalise_kind
from kaitiaki.store import Store
from kaitiaki.store.models import CaseStep, ReceivedCase, ReceivedSubject, User
from kaitiaki.users.accounts import jurisdictions_of, normalise_name
from kaitiaki.users.roles import Permission, Role
from kaitiaki.users.scope import Scope

TARGET = "received_case"
MAX_DETAIL = 4000
# The case's status names: the sender's lifecycle, with "received" for its "acknowledged".
_ORDER = ("received", *PATH[PATH.index("investigating") :])


def _status_of(kind: str) -> str | None:
    status = STATUS_OF.get(kind)
    return "received" if status == "acknowledged" else status


def case_status(session: Session, case: ReceivedCase) -> str:
    steps = list(session.scalars(select(CaseStep).where(CaseStep.case_id == case.id)))
    subjects = set(
        session.scalars(
            select(ReceivedSubject.subject_id).where(ReceivedSubject.case_id == case.id)
        )
    )
    nfa = [s for s in steps if s.kind == "no_further_action"]
    if any(s.subject_id is None for s in nfa) or (
        subjects and subjects <= {s.subject_id for s in nfa}
    ):
        return NO_FURTHER_ACTION
    reached = [_status_of(s.kind) for s in steps]
    known = [r for r in reached if r in _ORDER]
    return max(known, key=_ORDER.index) if known else "received"


def _editable(session: Session, case_ref: str | int, scope: Scope) -> ReceivedCase:
    case = reachable(session, case_ref, scope)
    if not scope.can(Permission.UPDATE_REFERRAL):
        raise CaseForbiddenError("your role may not change received cases")
    return case


def _day(on: date | datetime | None) -> datetime:
    now = datetime.now(UTC)
    if on is None:
        return now
    if isinstance(on, datetime):
        return on if on.tzinfo else on.replace(tzinfo=UTC)
    if on == now.date():
        # Today: now, so the step follows today's earlier ones (the import's "received").
        return now
    return datetime.combine(on, time(12, 0), UTC)  # a past date: midday UTC, that day anywhere


def view_case(store: Store, case_ref: str | int, *, actor: str, scope: Scope) -> CaseView:
    """``case_detail``, with the look written to the audit log as ``actor``."""
    detail = case_detail(store, case_ref, scope=scope)
    with store.session() as session:
        record(session, actor=actor, action="view", target_type=TARGET, target_id=str(detail.id))
    return detail


def add_step(
    store: Store,
    case_ref: str | int,
    kind: str,
    *,
    actor: str,
    scope: Scope,
    on: date | datetime | None = None,
    count: int | None = None,
    subject_id: str | None = None,
    reason: str = "",
    detail: str = "",
) -> StepView:
    """Record one step (or a note, ``kind="note"`` with its text in ``detail``)."""
    try:
        kind = NOTE if kind.strip().lower() == NOTE else normalise_kind(kind)
        if kind != NOTE:
            check_step(kind, count, reason)
    except StepError as exc:
        raise CaseInvalidError(str(exc)) from None
    if kind == "received":
        raise CaseInvalidError("'received' is recorded by the import itself")
    if kind == NOTE and not detail.strip():
        raise CaseInvalidError("a note needs its text")
    if len(detail) > MAX_DETAIL:
        raise CaseInvalidError(f"the detail is longer than {MAX_DETAIL} characters")
    when = _day(on)
    if when > datetime.now(UTC).replace(hour=23, minute=59):
        raise CaseInvalidError(f"the date {when:%Y-%m-%d} is in the future")
    with store.session() as session:
        case = _editable(session, case_ref, scope)
        if subject_id is not None and subject_id not in set(
            session.scalars(
                select(ReceivedSubject.subject_id).where(ReceivedSubject.case_id == case.id)
            )
        ):
            raise CaseInvalidError(f"subject {subject_id!r} is not in case {case.id}")
        if kind != NOTE and case.status == NO_FURTHER_ACTION:
            raise CaseConflictError(
                f"case {case.id} is closed with no further action; only notes can be added"
            )
        step = CaseStep(
            uid=str(uuid4()),
            case_id=case.id,
            kind=kind,
            subject_id=subject_id,
            on=when,
            count=count,
            reason=reason.strip(),
            detail=detail.strip(),
            by=actor,
        )
        session.add(step)
        session.flush()
        before, case.status = case.status, case_status(session, case)
        record(
            session,
            actor=actor,
            action="received.note" if kind == NOTE else "received.step",
            target_type=TARGET,
            target_id=str(case.id),
            reason=reason.strip(),
            details={
                "kind": kind,
                "on": when.date().isoformat(),
                "subject_id": subject_id,
                "count": count,
                "status": {"from": before, "to": case.status},
            },
        )
        return StepView(
            step.uid,
            kind,
            when,
            subject_id,
            count,
            step.reason,
            step.detail,
            actor,
            step.recorded_at or datetime.now(UTC),
        )


@dataclass(frozen=True, slots=True)
class Assignment:
    case_id: int
    assigned_to: str
    previous: str | None


def assign_case(
    store: Store, case_ref: str | int, assignee: str, *, actor: str, scope: Scope
) -> Assignment:
    """Give the case to an investigator (or another user who can reach it)."""
    try:
        name = normalise_name(assignee)
    except ValueError as exc:  # the users module's UserError: not a possible user name
        raise CaseInvalidError(str(exc)) from None
    with store.session() as session:
        case = _editable(session, case_ref, scope)
        user = session.scalars(select(User).where(User.name == name)).one_or_none()
        if user is None or user.disabled:
            raise CaseInvalidError(f"no active user named {name!r}")
        role = Role(user.role)
        theirs = Scope(role, jurisdictions_of(session, [user.id])[user.id])
        if not (
            theirs.can(Permission.UPDATE_REFERRAL) and theirs.covers(case.country, case.agency)
        ):
            raise CaseInvalidError(f"{name} ({role}) cannot work case {case.id}")
        previous, case.assigned_to = case.assigned_to, name
        record(
            session,
            actor=actor,
            action="received.assigned",
            target_type=TARGET,
            target_id=str(case.id),
            details={"from": previous, "to": name},
        )
        return Assignment(case.id, name, previous)
