"""Reviewing what the flood guard quarantined: list the entries held, release one.

The flood guard (``match.flood``) quarantines an entry that matched far above its normal rate;
it matches nothing until a reviewer looks at it and releases it (a true flood of real material,
say) or removes it (a bad hash). A release is audited with the reviewer's reason, and the set
is retroactively matched so that what the entry would have found meanwhile is found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import delete, select

from kaitiaki.audit import record
from kaitiaki.audit.reasons import require_reason
from kaitiaki.hashsets.entry import HashSetError
from kaitiaki.hashsets.versions import touch
from kaitiaki.match.controls import aware
from kaitiaki.match.flood import FloodSettings
from kaitiaki.match.retro_trigger import request_retro_match
from kaitiaki.store import Store
from kaitiaki.store.models import EntryMatchCount, HashSet, HashSetEntry

SIGNALS = ("pdq", "md5", "sha1", "sha256")


class EntryNotQuarantinedError(HashSetError):
    """No such entry, or it is not in quarantine."""


@dataclass(frozen=True, slots=True)
class Quarantined:
    entry_id: int
    hash_set: str
    quarantined_at: datetime
    reason: str | None
    media_id: str | None
    signals: dict[str, str]


def list_quarantined(store: Store, *, limit: int = 1000) -> list[Quarantined]:
    """Entries in quarantine, the longest waiting first."""
    with store.session() as session:
        rows = session.execute(
            select(HashSetEntry, HashSet.name)
            .join(HashSet, HashSet.id == HashSetEntry.hash_set_id)
            .where(HashSetEntry.quarantined_at.is_not(None))
            .order_by(HashSetEntry.quarantined_at, HashSetEntry.id)
            .limit(limit)
        ).all()
        out = []
        for entry, name in rows:
            when = aware(entry.quarantined_at)
            assert when is not None
            signals = {k: v for k in SIGNALS if (v := getattr(entry, k)) is not None}
            out.append(
                Quarantined(entry.id, name, when, entry.quarantine_reason, entry.media_id, signals)
            )
        return out


def release(store: Store, entry_id: int, *, reason: str, actor: str) -> Quarantined:
    """Let a quarantined entry match again; what it was held for is audited with ``reason``.

    The count of the window it flooded in is cleared, so that the guard does not quarantine
    it again at its next write for the same matches the reviewer has just judged.
    ``ReasonError`` for a reason without words; EntryNotQuarantinedError."""
    reason = require_reason(reason)
    with store.session() as session:
        entry = session.get(HashSetEntry, entry_id, with_for_update=True)
        if entry is None or entry.quarantined_at is None:
            raise EntryNotQuarantinedError(f"entry {entry_id} is not in quarantine")
        row = session.get(HashSet, entry.hash_set_id)
        assert row is not None
        when = aware(entry.quarantined_at)
        assert when is not None
        held = Quarantined(entry.id, row.name, when, entry.quarantine_reason, entry.media_id, {})
        entry.quarantined_at = None
        entry.quarantine_reason = None
        window = FloodSettings.from_env().window_s
        now = datetime.now(UTC).timestamp()
        current = datetime.fromtimestamp(int(now // window) * window, UTC)
        session.execute(
            delete(EntryMatchCount).where(
                EntryMatchCount.entry_id == entry_id, EntryMatchCount.window_start >= current
            )
        )
        touch(row)
        record(
            session,
            actor=actor,
            action="hashset.entry_released",
            target_type="hash_set",
            target_id=str(row.id),
            details={
                "name": row.name,
                "entry_id": entry_id,
                "reason": reason,
                "quarantined_at": when.isoformat(),
                "quarantine_reason": held.reason,
            },
        )
        # What the entry would have matched while held is found by a retroactive match.
        request_retro_match(session, row, actor, again_from=entry_id)
        return held
