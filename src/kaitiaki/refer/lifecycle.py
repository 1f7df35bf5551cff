"""A referral's status lifecycle: the allowed steps, and the history of every change.

The path is strict (draft, sent, acknowledged, investigating, warrant, arrest, charged,
convicted), with "no further action" possible once a referral is sent and before conviction.
A change that skips a step is refused, so the history always tells the whole story; the one
exception is a partner's signed outcome file (``allow_skip``), which reports the steps its
investigation took, and the history then holds those.
These are the rules; ``refer.service`` applies them for a caller, within its reach.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from kaitiaki.audit import record
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


def check_transition(current: str, new: str, *, allow_skip: bool = False) -> None:
    """Refuse a change the lifecycle does not allow. ``allow_skip`` also lets a sent referral
    move forward past statuses nobody reported (sent -> warrant): only for a partner's signed
    outcome file, which reports the steps its investigation took, not each of our statuses."""
    allowed = NEXT.get(current, ())
    if new in allowed:
        return
    if allow_skip and current in PATH[1:] and new in PATH[PATH.index(current) + 1 :]:
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
    actor: str,
    note: str = "",
    at: datetime | None = None,
    allow_skip: bool = False,
) -> StatusChange:
    """Change the status inside the caller's session (so a batch can be all-or-nothing), with
    its history row and its audit entry. Who may make the change is ``refer.service``'s check.
    ``allow_skip``: see ``check_transition`` (strict unless asked)."""
    new = normalise_status(status)
    referral = session.get(Referral, referral_id)
    if referral is None:
        raise LifecycleError(f"no referral {referral_id!r}")
    check_transition(referral.status, new, allow_skip=allow_skip)
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    old = referral.status
    referral.status = new
    session.add(ReferralEvent(referral_id=referral_id, status=new, at=when, by=actor, note=note))
    record(
        session,
        actor=actor,
        action="referral.status",
        target_type="referral",
        target_id=referral_id,
        reason=note,
        details={"from": old, "to": new, "at": when.isoformat()},
    )
    return StatusChange(referral_id, new, when, actor, note)
