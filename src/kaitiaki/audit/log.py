"""Appending to the audit log inside the caller's transaction.

Each entry's ``hash`` is the SHA-256 of a canonical JSON array of the previous entry's hash and
the entry's own fields, so changing or removing an entry breaks the chain from there on (see
:mod:`kaitiaki.audit.verify`). ``record`` joins the caller's session: the entry commits or rolls
back together with the change it describes, so a failed action leaves no entry behind.

Call ``record`` late in a transaction: from the moment it runs, other writers of the log wait
for this transaction to end (that wait is what keeps the chain from forking).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from kaitiaki.store.models import AuditEvent

GENESIS = "0" * 64
# Arbitrary but fixed: every writer of the log must contend for the same PostgreSQL lock.
_PG_LOCK_KEY = 0x6B61_6974_6175_6469  # "kaitaudi"


def cli_actor() -> str:
    """Who is at the keyboard: ``$KAITIAKI_USER``, else the OS user, as ``cli:<name>``."""
    name = os.environ.get("KAITIAKI_USER", "").strip()
    if not name:
        try:
            name = getpass.getuser()
        except (OSError, KeyError):  # No login name and no passwd entry (some containers).
            name = "unknown"
    return f"cli:{name}"


def utc(at: datetime) -> datetime:
    """``at`` as an aware UTC datetime; SQLite hands back naive values, which we wrote as UTC."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def canonical_at(at: datetime) -> str:
    # Always with microseconds and 'Z': isoformat() drops ".000000", which would make the bytes
    # depend on the clock reading rather than on the value.
    return utc(at).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: str,
    at: datetime,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    reason: str,
    details: dict[str, Any] | None,
) -> str:
    """The hash of one entry; ``verify`` recomputes it from the stored columns."""
    fields = [
        prev_hash,
        canonical_at(at),
        actor,
        action,
        target_type,
        target_id,
        reason,
        details,
    ]
    blob = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _lock_log(session: Session) -> None:
    """Serialise writers of the log until this transaction ends, before reading its head."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif dialect == "sqlite":
        # The driver opens the transaction lazily (plain BEGIN on the first write), so reading
        # the head first would let two writers see the same head. A write that changes nothing
        # still takes SQLite's single write lock, and every other writer waits behind it
        # (busy_timeout) until we commit or roll back.
        session.execute(text("UPDATE audit_events SET id = id WHERE 0 = 1"))


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    reason: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one entry, chained to the current head, in ``session``'s transaction."""
    _lock_log(session)
    head = session.scalars(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()
    prev_hash = head or GENESIS
    at = datetime.now(UTC)
    # Hash exactly what the JSON column will give back (str() for dates, ids and the like).
    stored = None if details is None else json.loads(json.dumps(details, default=str))
    event = AuditEvent(
        at=at,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        reason=reason,
        details=stored,
        prev_hash=prev_hash,
        hash=entry_hash(prev_hash, at, actor, action, target_type, str(target_id), reason, stored),
    )
    session.add(event)
    # Flush now: the unique hash is the last guard against a fork, and it should fail here,
    # next to its cause, not at some later commit.
    session.flush()
    return event
