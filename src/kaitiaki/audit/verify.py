"""Checking the audit log for tampering.

What the chain proves: each entry's ``hash`` covers its contents and the previous entry's hash.
Editing an entry changes its hash ("contents changed"); deleting an entry leaves the next one
pointing at a hash that is no longer there ("chain broken"). Someone who can write the database
can still rewrite every entry from some point on with fresh hashes, or delete the newest entries:
the chain alone is then self-consistent. Both are caught only by comparing with an anchor taken
earlier and kept outside the database (:mod:`kaitiaki.audit.anchor`): verify with
``--anchor`` checks that the anchored entry is still there with the same hash.

Gaps in the ids: PostgreSQL sequences are not transactional, so a transaction that rolled back
after ``record`` leaves a gap with an intact chain. Such a gap is reported as a note, not a
problem; a gap where the chain is also broken is named in the problem.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from kaitiaki.audit.anchor import Anchor
from kaitiaki.audit.log import GENESIS, entry_hash
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent


@dataclass
class AuditVerification:
    """The outcome of a check: ``ok`` when no problem was found."""

    ok: bool
    entries: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    head_id: int | None = None
    head_hash: str | None = None


def _gap(after: int, before: int) -> str:
    return f"entry {after + 1}" if before - after == 2 else f"entries {after + 1}-{before - 1}"


def verify_log(store: Store, anchor: Anchor | None = None) -> AuditVerification:
    """Walk the log in id order, recompute every hash and check every link."""
    problems: list[str] = []
    notes: list[str] = []
    entries = 0
    prev_id: int | None = None
    prev_hash = GENESIS
    columns = (
        AuditEvent.id,
        AuditEvent.hash,
        AuditEvent.prev_hash,
        AuditEvent.at,
        AuditEvent.actor,
        AuditEvent.action,
        AuditEvent.target_type,
        AuditEvent.target_id,
        AuditEvent.reason,
        AuditEvent.details,
    )
    with store.session() as session:
        # Streamed as plain rows (no ORM objects, no identity map): an operation's log can hold
        # millions of entries.
        rows = session.execute(
            select(*columns).order_by(AuditEvent.id).execution_options(yield_per=5000)
        )
        for event_id, stored_hash, event_prev, *contents in rows:
            entries += 1
            if entry_hash(event_prev, *contents) != stored_hash:
                problems.append(f"entry {event_id}: contents changed")
            gap = prev_id is not None and event_id != prev_id + 1
            if event_prev != prev_hash:
                where = (
                    f"chain broken after entry {prev_id}"
                    if prev_id is not None
                    else "chain broken at the start"
                )
                missing = (
                    f"; {_gap(prev_id, event_id)} missing" if gap and prev_id is not None else ""
                )
                problems.append(
                    f"entry {event_id}: previous entry missing or changed ({where}{missing})"
                )
            elif gap and prev_id is not None:
                notes.append(
                    f"{_gap(prev_id, event_id)} never committed (id gap with an intact chain)"
                )
            prev_id, prev_hash = event_id, stored_hash
        if anchor is not None:
            kept = session.get(AuditEvent, anchor.id)
            if kept is None:
                problems.append(
                    f"anchor: entry {anchor.id} is gone (the log was truncated or emptied"
                    f" after the anchor was taken)"
                )
            elif kept.hash != anchor.hash:
                problems.append(
                    f"anchor: entry {anchor.id} no longer has the anchored hash"
                    f" (the log was rewritten from there or truncated and appended to)"
                )
    return AuditVerification(
        ok=not problems,
        entries=entries,
        problems=problems,
        notes=notes,
        head_id=prev_id,
        head_hash=None if prev_id is None else prev_hash,
    )
