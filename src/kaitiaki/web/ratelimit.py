"""Sign-in limits kept in the store: per account name and per client address.

Every attempt is written (``SignInAttempt``, ``succeeded`` still None) *before* its password is
checked, and the decision counts those pending rows too. Deciding and writing happen in one
short transaction that holds a lock for the keys involved (a transaction-level advisory lock
per key on PostgreSQL; SQLite's single write lock, taken up front), so N concurrent guesses
cannot all see "4 failures so far" and all go on to an argon2 verification: at most ``limit``
of them do, the rest are refused. The rows live in the store, so a restart forgets nothing
and several web processes over one database share the counts.

What counts: failures and attempts still being checked. Successes never count, and a success
deletes nothing: clearing the address's failures would let an attacker with an account of
their own reset the counter between guesses, and clearing the name's failures would hand an
attacker a fresh window every time the real user signs in.

slowapi/limits count requests to a route; what is limited here is failures keyed twice, with
the count taken atomically before the expensive check, which they do not offer.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from kaitiaki.audit.log import utc
from kaitiaki.store import Store
from kaitiaki.store.models import SignInAttempt

# Stored keys are bounded (the column holds 300 characters).
_KEY_CHARS = 250


def name_key(name: str) -> str:
    return "name:" + name.strip().lower()[:100]


def address_key(address: str) -> str:
    return "addr:" + address[:200]


@dataclass(frozen=True)
class Limit:
    key: str
    failures: int


@dataclass(frozen=True)
class Refused:
    """Too many recent failures for one of the keys: try again in ``retry_after`` seconds."""

    retry_after: int


def _lock_keys(session: Session, keys: list[str]) -> None:
    """Hold every key until this transaction ends, before counting."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # Sorted, so two requests sharing keys always lock them in the same order (no deadlock).
        for key in sorted(keys):
            digest = hashlib.sha256(key.encode("utf-8")).digest()
            lock_id = int.from_bytes(digest[:8], "big", signed=True)
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id})
    else:
        # The driver begins SQLite transactions lazily; a write that changes nothing takes the
        # single write lock now, so the count below cannot be read by two writers at once.
        session.execute(text("UPDATE sign_in_attempts SET id = id WHERE 0 = 1"))


def _counted(key: str, since: datetime) -> object:
    return (
        (SignInAttempt.key == key)
        & (SignInAttempt.at >= since)
        & or_(SignInAttempt.succeeded.is_(None), SignInAttempt.succeeded.is_(False))
    )


class SignInLimiter:
    """Counts failed (and pending) sign-ins per key within ``window``."""

    def __init__(self, store: Store, window: timedelta) -> None:
        self.store = store
        self.window = window

    def begin(self, limits: list[Limit]) -> list[int] | Refused:
        """Record one pending attempt per key and return the rows' ids, or refuse (writing
        nothing) when any key already has its ``failures`` within the window."""
        now = datetime.now(UTC)
        since = now - self.window
        keys = [limit.key[:_KEY_CHARS] for limit in limits]
        with self.store.session() as session:
            _lock_keys(session, keys)
            wait = timedelta(0)
            for key, limit in zip(keys, limits, strict=True):
                # The ``failures``-th newest counted attempt decides when the next one may run.
                oldest_blocking = session.scalar(
                    select(SignInAttempt.at)
                    .where(_counted(key, since))  # type: ignore[arg-type]
                    .order_by(SignInAttempt.at.desc())
                    .offset(limit.failures - 1)
                    .limit(1)
                )
                if oldest_blocking is not None:
                    wait = max(wait, utc(oldest_blocking) + self.window - now)
            if wait > timedelta(0):
                return Refused(int(wait.total_seconds()) + 1)
            rows = [SignInAttempt(key=key, at=now, succeeded=None) for key in keys]
            session.add_all(rows)
            session.flush()
            return [row.id for row in rows]

    def finish(self, ids: list[int], succeeded: bool) -> None:
        """Settle the attempts ``begin`` wrote; old rows are swept here too."""
        with self.store.session() as session:
            session.execute(
                update(SignInAttempt).where(SignInAttempt.id.in_(ids)).values(succeeded=succeeded)
            )
            # Past the window a row decides nothing; the index on ``at`` keeps this cheap.
            cutoff = datetime.now(UTC) - self.window
            session.execute(delete(SignInAttempt).where(SignInAttempt.at < cutoff))

    def failures(self, key: str) -> int:
        """Counted attempts of ``key`` within the window (for tests and the CLI)."""
        since = datetime.now(UTC) - self.window
        with self.store.session() as session:
            found = session.scalar(
                select(func.count()).select_from(SignInAttempt).where(_counted(key, since))  # type: ignore[arg-type]
            )
        return int(found or 0)
