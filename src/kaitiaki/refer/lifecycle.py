"""A referral's status lifecycle: the allowed steps, and the history of every change.

The path is strict (draft, sent, acknowledged, investigating, warrant, arrest, charged,
convicted), with "no further action" possible once a referral is sent and before conviction.
A change that skips a step is refused, so the history always tells the whole story.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.store import Store
from kaitiaki.store.models import Referral, ReferralEvent

PATH: tuple[str, ...] = (
    "draft",
    "sent",
    "acknowledged",
    "investigating",
    "warrant",
    "arrest",
    "charged",
    "convicted",
)
NO_FURTHER_ACTION = "no further action"
STATUSES: tuple[str, ...] = (*PATH, NO_FURTHER_ACTION)
NEXT: dict[str, tuple[str, ...]] = {
    status: (PATH[i + 1],) + ((NO_FURTHER_ACTION,) if 0 < i < len(PATH) - 1 else ())
    for i, status in enumerate(PATH[:-1])
}
NEXT[PATH[-1]] = ()
NEXT[NO_FURTHER_ACTION] = ()


class LifecycleError(ValueError):
    """A status change that is not allowed, or about a referral that does not exist."""


@dataclass(frozen=True, slots=True)
class StatusChange:
    referral_id: str
    status: str
    at: datetime
    by: str
    note: str


def normalise_status(text: str) -> str:
    status = " ".join(text.strip().lower().replace("-", " ").replace("_", " ").split())
    if status in {"nfa", "none"}:
        status = NO_FURTHER_ACTION
    if status not in STATUSES:
        raise LifecycleError(f"unknown status {text!r}; statuses: {', '.join(STATUSES)}")
    return status


def check_transition(current: str, new: str) -> None:
    allowed = NEXT.get(current, ())
    if new in allowed:
        return
    if new == current:
        raise LifecycleError(f"the referral is already {current!r}")
    after = " or ".join(repr(s) for s in allowed) if allowed else "nothing (final status)"
    raise LifecycleError(f"cannot go from {current!r} to {new!r}: the next status can be {after}")


def apply_status(
    session: Session,
    referral_id: str,
    status: str,
    *,
    by: str,
    note: str = "",
    at: datetime | None = None,
) -> StatusChange:
    """Change the status inside the caller's session, so a batch can be all-or-nothing."""
    new = normalise_status(status)
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise LifecycleError(f"no referral {referral_id!r}")
    check_transition(referral.status, new)
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    old = referral.status
    referral.status = new
    session.add(ReferralEvent(referral_id=referral_id, status=new, at=when, by=by, note=note))
    record(
        session,
        actor=by,
        action="referral.status",
        target_type="referral",
        target_id=referral_id,
        reason=note,
        details={"from": old, "to": new, "at": when.isoformat()},
    )
    return StatusChange(referral_id, new, when, by, note)


def change_status(
    store: Store,
    referral_id: str,
    status: str,
    *,
    by: str,
    note: str = "",
    at: datetime | None = None,
) -> StatusChange:
    """Move a referral to ``status`` if the lifecycle allows it; record who, when and why."""
    with store.session() as session:
        return apply_status(session, referral_id, status, by=by, note=note, at=at)


def history(store: Store, referral_id: str) -> list[StatusChange]:
    """Every status change of a referral, oldest first."""
    with store.session() as session:
        if session.get(Referral, referral_id) is None:
            raise LifecycleError(f"no referral {referral_id!r}")
        events = session.scalars(
            select(ReferralEvent)
            .where(ReferralEvent.referral_id == referral_id)
            .order_by(ReferralEvent.at, ReferralEvent.id)
        )
        return [StatusChange(e.referral_id, e.status, e.at, e.by, e.note) for e in events]
