"""Legal holds' application layer: place, release, extend and list, each change audited.

A hold preserves an account, a subject, an evidence item or a CyberTipline report (and what it
covers: ``kaitiaki.legal.coverage``) against deletion, on a legal basis:

* ``ncmec_report``: a provider that reported to NCMEC must preserve the report's contents for a
  year (18 U.S.C. 2258A(h), as amended by the REPORT Act); expires a year after the report was
  finished unless told otherwise;
* ``preservation_request``: a governmental request under 18 U.S.C. 2703(f): 90 days, extended
  once by 90 on a renewed request (``extend_hold``); its reference is required;
* ``court_order``: until the date the order gives, or until released;
* ``other``: anything else, always with an expiry, so no hold stands forever by oversight.

Who may do this is for the front-end: the CLI is run by an operator; a web adapter must check
its permission before calling. Each change takes the audit ``actor``, required.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.audit.log import utc
from kaitiaki.audit.reasons import ReasonError, require_reason
from kaitiaki.legal.coverage import TARGET_TYPES, HoldError, lock_holds, standing
from kaitiaki.store import Store
from kaitiaki.store.models import Account, CyberTipReport, Evidence, LegalHold, Subject

BASES: Final = ("ncmec_report", "preservation_request", "court_order", "other")
NCMEC_PRESERVATION: Final = timedelta(days=365)
PRESERVATION_PERIOD: Final = timedelta(days=90)


class HoldNotFoundError(HoldError):
    """No such hold, or no such record to hold."""


class HoldConflictError(HoldError):
    """The hold's state does not allow this (released already, extended already, ...)."""


@dataclass(frozen=True, slots=True)
class HoldView:
    id: int
    target_type: str
    target_id: str
    basis: str
    basis_text: str
    reference: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    extended_at: datetime | None
    extended_by: str | None
    released_at: datetime | None
    released_by: str | None
    release_reason: str | None
    standing: bool


def _aware(at: datetime | None) -> datetime | None:
    return None if at is None else utc(at)


def view_of(hold: LegalHold, *, at: datetime | None = None) -> HoldView:
    return HoldView(
        id=hold.id,
        target_type=hold.target_type,
        target_id=hold.target_id,
        basis=hold.basis,
        basis_text=hold.basis_text,
        reference=hold.reference,
        created_by=hold.created_by,
        created_at=utc(hold.created_at),
        expires_at=_aware(hold.expires_at),
        extended_at=_aware(hold.extended_at),
        extended_by=hold.extended_by,
        released_at=_aware(hold.released_at),
        released_by=hold.released_by,
        release_reason=hold.release_reason,
        standing=standing(hold, at or datetime.now(UTC)),
    )


def _resolve(session: Session, target_type: str, target_id: str) -> tuple[str, datetime | None]:
    """The target's stored id (evidence and reports by number) and, for a report, its
    finish time; ``HoldNotFoundError`` if there is no such record."""
    wanted = target_id.strip()
    if target_type == "account":
        if session.scalar(select(Account.id).where(Account.account_id == wanted).limit(1)):
            return wanted, None
    elif target_type == "subject":
        if len(wanted) <= 40 and session.get(Subject, wanted) is not None:
            return wanted, None
    elif target_type == "evidence":
        found = session.scalar(select(Evidence.id).where(Evidence.name == wanted))
        if found is None and wanted.isdigit() and len(wanted) < 10:
            found = session.scalar(select(Evidence.id).where(Evidence.id == int(wanted)))
        if found is not None:
            return str(found), None
    elif target_type == "report":
        number = wanted.isdigit() and len(wanted) < 10
        report = session.get(CyberTipReport, int(wanted)) if number else None
        if report is not None:
            return str(report.id), _aware(report.finished_at)
    else:
        raise HoldError(f"unknown target type {target_type!r}; expected one of {TARGET_TYPES}")
    raise HoldNotFoundError(f"no {target_type} {wanted!r} to hold")


def _default_expiry(
    basis: str, expires_at: datetime | None, finished: datetime | None, now: datetime
) -> datetime | None:
    if expires_at is not None:
        return utc(expires_at)
    if basis == "ncmec_report":
        return (finished or now) + NCMEC_PRESERVATION
    if basis == "preservation_request":
        return now + PRESERVATION_PERIOD
    if basis == "other":
        raise HoldError("a hold on an 'other' basis needs an expiry date (--expires)")
    return None  # a court order with no end date stands until released


def place_hold(
    store: Store,
    *,
    actor: str,
    target_type: str,
    target_id: str,
    basis_kind: str,
    basis_text: str,
    reference: str | None = None,
    expires_at: datetime | None = None,
) -> HoldView:
    """Place a hold; audited as ``hold.placed``."""
    if not actor.strip():
        raise HoldError("actor: a hold needs the name of who places it")
    if basis_kind not in BASES:
        raise HoldError(f"unknown basis {basis_kind!r}; expected one of {', '.join(BASES)}")
    try:
        words = require_reason(basis_text, what="legal basis")
    except ReasonError as exc:
        raise HoldError(str(exc)) from None
    ref = (reference or "").strip() or None
    if ref is not None and len(ref) > 200:
        raise HoldError("the reference is longer than 200 characters")
    if basis_kind == "preservation_request" and ref is None:
        raise HoldError("a preservation request hold needs the request's reference (--reference)")
    now = datetime.now(UTC)
    with store.session() as session:
        lock_holds(session)
        stored_id, finished = _resolve(session, target_type, target_id)
        expiry = _default_expiry(basis_kind, expires_at, finished, now)
        if expiry is not None and expiry <= now:
            raise HoldError(f"the expiry {expiry.isoformat()} is already past")
        same = session.scalars(
            select(LegalHold).where(
                LegalHold.target_type == target_type,
                LegalHold.target_id == stored_id,
                LegalHold.basis == basis_kind,
            )
        )
        for other in same:
            if other.reference == ref and standing(other, now):
                raise HoldConflictError(
                    f"hold {other.id} already holds {target_type} {stored_id} on this basis"
                )
        hold = _add(session, target_type, stored_id, basis_kind, words, ref, expiry, actor)
        return view_of(hold, at=now)


def _add(
    session: Session,
    target_type: str,
    target_id: str,
    basis: str,
    words: str,
    reference: str | None,
    expires_at: datetime | None,
    actor: str,
) -> LegalHold:
    hold = LegalHold(
        target_type=target_type,
        target_id=target_id,
        basis=basis,
        basis_text=words,
        reference=reference,
        created_by=actor,
        created_at=datetime.now(UTC),
        expires_at=expires_at,
    )
    session.add(hold)
    session.flush()
    record(
        session,
        actor=actor,
        action="hold.placed",
        target_type="legal_hold",
        target_id=str(hold.id),
        reason=words,
        details={
            "target_type": target_type,
            "target_id": target_id,
            "basis": basis,
            "reference": reference,
            "expires_at": None if expires_at is None else expires_at.isoformat(),
        },
    )
    return hold


def _find(session: Session, hold_id: int) -> LegalHold:
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise HoldNotFoundError(f"no hold {hold_id}")
    return hold


def release_hold(store: Store, hold_id: int, *, actor: str, reason: str) -> HoldView:
    """Release a hold before its expiry, saying why; audited as ``hold.released``."""
    try:
        words = require_reason(reason)
    except ReasonError as exc:
        raise HoldError(str(exc)) from None
    with store.session() as session:
        lock_holds(session)
        hold = _find(session, hold_id)
        if hold.released_at is not None:
            raise HoldConflictError(f"hold {hold_id} was released already")
        now = datetime.now(UTC)
        hold.released_at, hold.released_by, hold.release_reason = now, actor, words
        record(
            session,
            actor=actor,
            action="hold.released",
            target_type="legal_hold",
            target_id=str(hold.id),
            reason=words,
            details={"target_type": hold.target_type, "target_id": hold.target_id},
        )
        return view_of(hold, at=now)


def extend_hold(store: Store, hold_id: int, *, actor: str) -> HoldView:
    """Extend a standing preservation request by 90 days from its current expiry, once;
    audited as ``hold.extended``."""
    with store.session() as session:
        lock_holds(session)
        hold = _find(session, hold_id)
        now = datetime.now(UTC)
        if hold.basis != "preservation_request":
            raise HoldConflictError(
                f"hold {hold_id} is a {hold.basis} hold: only a preservation request is extended"
            )
        if hold.extended_at is not None:
            raise HoldConflictError(
                f"hold {hold_id} was extended already (a preservation request is extended once)"
            )
        if not standing(hold, now) or hold.expires_at is None:
            raise HoldConflictError(f"hold {hold_id} no longer stands: place a new one")
        was = utc(hold.expires_at)
        hold.expires_at = was + PRESERVATION_PERIOD
        hold.extended_at, hold.extended_by = now, actor
        record(
            session,
            actor=actor,
            action="hold.extended",
            target_type="legal_hold",
            target_id=str(hold.id),
            details={"was": was.isoformat(), "expires_at": hold.expires_at.isoformat()},
        )
        return view_of(hold, at=now)


def list_holds(
    store: Store,
    *,
    active_only: bool = True,
    expiring_within: timedelta | None = None,
    at: datetime | None = None,
) -> list[HoldView]:
    """Holds, oldest first: the standing ones (or all); with ``expiring_within``, only standing
    holds whose expiry falls within that time from now."""
    now = at or datetime.now(UTC)
    with store.session() as session:
        views = [
            view_of(h, at=now) for h in session.scalars(select(LegalHold).order_by(LegalHold.id))
        ]
    if active_only or expiring_within is not None:
        views = [v for v in views if v.standing]
    if expiring_within is not None:
        until = now + expiring_within
        views = [v for v in views if v.expires_at is not None and v.expires_at <= until]
        views.sort(key=lambda v: (v.expires_at or until, v.id))
    return views


def standing_clause(at: datetime) -> Any:
    """``coverage.standing`` in SQL: not released and not past its expiry at ``at``."""
    return and_(
        LegalHold.released_at.is_(None),
        or_(LegalHold.expires_at.is_(None), LegalHold.expires_at > at),
    )


def page_holds(
    store: Store,
    *,
    shape: Callable[[Select[Any]], Select[Any]],
    offset: int = 0,
    limit: int | None = None,
    at: datetime | None = None,
) -> tuple[int, list[HoldView]]:
    """How many holds ``shape`` (a list's filters and order) keeps, and the ``limit`` of them
    from ``offset`` (all with None), as they stand at ``at`` (now)."""
    now = at or datetime.now(UTC)
    query = shape(select(LegalHold))
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.scalars(query.offset(offset).limit(limit))
        return total, [view_of(h, at=now) for h in rows]


def expiring_holds(
    store: Store, within: timedelta = timedelta(days=30), *, at: datetime | None = None
) -> list[HoldView]:
    """Standing holds expiring within ``within``, soonest first: for the dashboard."""
    return list_holds(store, expiring_within=within, at=at)


def place_report_hold(session: Session, *, report: CyberTipReport, actor: str) -> LegalHold:
    """The year's hold a finished CyberTipline report puts on itself, in the caller's
    transaction. Idempotent: a report already held on this basis (standing or released by a
    person) gets no second hold."""
    lock_holds(session)
    existing = session.scalars(
        select(LegalHold)
        .where(
            LegalHold.target_type == "report",
            LegalHold.target_id == str(report.id),
            LegalHold.basis == "ncmec_report",
        )
        .order_by(LegalHold.id)
        .limit(1)
    ).first()
    if existing is not None:
        return existing
    finished = _aware(report.finished_at) or datetime.now(UTC)
    reference = None if report.ncmec_report_id is None else str(report.ncmec_report_id)
    words = f"reported to NCMEC's CyberTipline (report {reference or 'unnumbered'})"
    return _add(
        session,
        "report",
        str(report.id),
        "ncmec_report",
        words,
        reference,
        finished + NCMEC_PRESERVATION,
        actor,
    )
