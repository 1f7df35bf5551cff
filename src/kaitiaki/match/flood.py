"""The flood guard: an entry matching far above its normal rate is quarantined for a reviewer.

A bad entry (a blank image's PDQ, a logo's, a mistaken upload) can suddenly match a large share
of a service's traffic; every such match is a false report. Matches are counted per entry and
per window (an hour by default). When an entry's count in a window exceeds
``max(floor, factor x its mean over the previous history windows)``, the entry is quarantined
(``hash_set_entries.quarantined_at``), audited as ``system:flood-guard``, and matches nothing
until a reviewer releases it (``hashsets.quarantine``).

Counting is on the lookup's hot path, so it costs a dictionary update in process memory: the
counts are written to ``entry_match_counts`` in one transaction every half minute, or sooner
once counts for so many entries are held, by a background thread, and the guard is evaluated
then, only for the entries just counted. Several processes add their counts to the same rows
(an upsert that adds), so the guard sees the whole service's rate.

Scans do not feed the guard: a seized drive legitimately holds thousands of copies of one image.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets.versions import touch
from kaitiaki.match.controls import aware
from kaitiaki.store import Store
from kaitiaki.store.models import EntryMatchCount, HashSet, HashSetEntry

ACTOR = "system:flood-guard"
_CHUNK = 500
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FloodSettings:
    """When an entry's rate is a flood, and how often counts are written."""

    enabled: bool = True
    window_s: int = 3600
    # Never a flood at or below this many matches in a window, however quiet the entry was.
    floor: int = 100
    factor: float = 10.0
    # The windows before the current one whose mean is the entry's normal rate.
    history: int = 24
    # A flood is measured over an hour's window: half a minute's delay in seeing it costs
    # little, and each write is one row per entry that matched, however often it did, so
    # writing less often writes less (a busy server's lookups share the interpreter with it).
    flush_every_s: float = 30.0
    # Distinct (entry, window) counts held before a write is due sooner: bounds the memory.
    flush_at: int = 50_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> FloodSettings:
        """Defaults, each replaced by its ``KAITIAKI_FLOOD_*`` variable where one is set
        (``KAITIAKI_FLOOD_GUARD=off`` counts nothing and quarantines nothing)."""
        d = cls()

        def get(name: str, default: Any, kind: Callable[[str], Any]) -> Any:
            raw = env.get(f"KAITIAKI_FLOOD_{name}", "").strip()
            return kind(raw) if raw else default

        settings = cls(
            enabled=env.get("KAITIAKI_FLOOD_GUARD", "on").strip().lower() not in ("off", "0"),
            window_s=get("WINDOW_S", d.window_s, int),
            floor=get("FLOOR", d.floor, int),
            factor=get("FACTOR", d.factor, float),
            history=get("HISTORY", d.history, int),
            flush_every_s=get("FLUSH_S", d.flush_every_s, float),
            flush_at=get("FLUSH_AT", d.flush_at, int),
        )
        if min(settings.window_s, settings.history, settings.flush_at) < 1 or settings.factor < 0:
            raise ValueError("KAITIAKI_FLOOD_*: window, history and flush count must be >= 1")
        return settings

    def limit(self, previous: int) -> float:
        """The most matches a window may hold, ``previous`` being the sum over the history."""
        return max(float(self.floor), self.factor * previous / self.history)


class FloodGuard:
    """Counts one store's matches in memory and writes them out now and then."""

    def __init__(
        self,
        store: Store,
        settings: FloodSettings | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        # Weak: a guard must not keep a closed store alive, nor write to it afterwards.
        self._store = weakref.ref(store)
        self.settings = settings or FloodSettings.from_env()
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: Counter[tuple[int, int]] = Counter()
        self._last_flush = clock()
        self._flushing = False

    def count(self, entry_ids: Iterable[int]) -> None:
        """One match for each of ``entry_ids`` now; may start a background flush."""
        if not self.settings.enabled:
            return
        now = self._clock()
        window = int(now // self.settings.window_s) * self.settings.window_s
        with self._lock:
            for entry_id in entry_ids:
                self._pending[(entry_id, window)] += 1
            due = not self._flushing and (
                len(self._pending) >= self.settings.flush_at
                or now - self._last_flush >= self.settings.flush_every_s
            )
            if due:
                self._flushing = True
        if due:
            threading.Thread(target=self._flush_in_background, daemon=True).start()

    def _flush_in_background(self) -> None:
        try:
            self.flush()
        except Exception:  # a lookup must never fail for its bookkeeping
            log.exception("flood guard: writing match counts failed; they are kept for later")
        finally:
            with self._lock:
                self._flushing = False

    def flush(self) -> list[int]:
        """Write the counts held in memory and quarantine the entries now flooding; their ids.
        Counts that could not be written are kept for the next flush."""
        with self._lock:
            taken, self._pending = self._pending, Counter()
            self._last_flush = self._clock()
        store = self._store()
        if not taken or store is None:
            return []
        try:
            with store.session() as session:
                totals = _add_counts(session, taken)
                return _quarantine_floods(session, totals, self.settings)
        except Exception:
            with self._lock:
                self._pending.update(taken)
            raise


# Core statements on the table, not the ORM's bulk path: a flush writes a row for every entry
# that matched since the last one (thousands under load), from a thread that shares the
# interpreter with the lookups, so what it costs in Python shows in their latency.
_COUNTS = cast(Table, EntryMatchCount.__table__)


def _add_counts(session: Session, taken: Counter[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """Add ``taken`` to the stored counts; each (entry, window)'s total now, every process's
    counts included (what the upsert hands back)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    upsert = insert(_COUNTS)
    # Adds, rather than replaces: other processes count the same entries in the same window.
    statement = upsert.on_conflict_do_update(
        index_elements=["entry_id", "window_start"],
        set_={"matches": _COUNTS.c.matches + upsert.excluded.matches},
    ).returning(_COUNTS.c.entry_id, _COUNTS.c.window_start, _COUNTS.c.matches)
    # An entry removed since it matched has no row to count against.
    alive = _existing(session, sorted({e for e, _w in taken}))
    rows = [
        {"entry_id": e, "window_start": _instant(w), "matches": n}
        for (e, w), n in taken.items()
        if e in alive
    ]
    totals: dict[tuple[int, int], int] = {}
    for start in range(0, len(rows), _CHUNK):
        for entry_id, window_start, matches in session.execute(
            statement, rows[start : start + _CHUNK]
        ):
            totals[(entry_id, _epoch(window_start))] = int(matches)
    return totals


def _existing(session: Session, ids: Sequence[int]) -> set[int]:
    found: set[int] = set()
    entries = cast(Table, HashSetEntry.__table__)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        found.update(session.scalars(select(entries.c.id).where(entries.c.id.in_(chunk))))
    return found


def _quarantine_floods(
    session: Session, totals: dict[tuple[int, int], int], settings: FloodSettings
) -> list[int]:
    latest: dict[int, int] = {}
    for entry_id, window in totals:
        latest[entry_id] = max(window, latest.get(entry_id, window))
    # The limit is never below the floor: only an entry above it needs its history read.
    over = {e: w for e, w in latest.items() if totals[(e, w)] > settings.floor}
    if not over:
        return []
    span = settings.history * settings.window_s
    since = _instant(min(over.values()) - span)
    counts: dict[int, dict[int, int]] = {}
    ids = sorted(over)
    for start in range(0, len(ids), _CHUNK):
        for entry_id, window_start, matches in session.execute(
            select(_COUNTS.c.entry_id, _COUNTS.c.window_start, _COUNTS.c.matches).where(
                _COUNTS.c.entry_id.in_(ids[start : start + _CHUNK]),
                _COUNTS.c.window_start >= since,
            )
        ):
            counts.setdefault(entry_id, {})[_epoch(window_start)] = int(matches)
    flooding: dict[int, str] = {}
    for entry_id, window in over.items():
        per_window = counts.get(entry_id, {})
        current = per_window.get(window, 0)
        previous = sum(n for w, n in per_window.items() if window - span <= w < window)
        limit = settings.limit(previous)
        if current > limit:
            flooding[entry_id] = (
                f"flood guard: {current} matches in the {settings.window_s} s window from "
                f"{_instant(window).isoformat()}, above {limit:g} (the larger of "
                f"{settings.floor} and {settings.factor:g} x the mean of "
                f"{previous / settings.history:g} over the previous {settings.history} windows)"
            )
    return _quarantine(session, flooding) if flooding else []


def _quarantine(session: Session, reasons: dict[int, str]) -> list[int]:
    now = datetime.now(UTC)
    done: list[int] = []
    entries = session.scalars(
        select(HashSetEntry)
        .where(HashSetEntry.id.in_(list(reasons)), HashSetEntry.quarantined_at.is_(None))
        .order_by(HashSetEntry.id)
        .with_for_update()
    )
    for entry in entries:
        row = session.get(HashSet, entry.hash_set_id)
        assert row is not None
        entry.quarantined_at = now
        entry.quarantine_reason = reasons[entry.id]
        touch(row)
        record(
            session,
            actor=ACTOR,
            action="hashset.entry_quarantined",
            target_type="hash_set",
            target_id=str(row.id),
            details={"name": row.name, "entry_id": entry.id, "reason": reasons[entry.id]},
        )
        done.append(entry.id)
    return done


def _instant(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(value: datetime) -> int:
    when = aware(value)
    assert when is not None
    return int(when.timestamp())


# One guard per open store in this process: id(store) -> guard, dropped with the store.
_GUARDS: dict[int, FloodGuard] = {}
_GUARDS_LOCK = threading.Lock()


def guard_for(store: Store) -> FloodGuard:
    found = _GUARDS.get(id(store))
    if found is not None and found._store() is store:
        return found
    with _GUARDS_LOCK:
        found = _GUARDS.get(id(store))
        if found is None or found._store() is not store:
            found = _GUARDS[id(store)] = FloodGuard(store)
            weakref.finalize(store, _GUARDS.pop, id(store), None)
        return found


def count_matches(store: Store, entry_ids: Iterable[int]) -> None:
    """Count one match for each of ``entry_ids`` (what a lookup reported as matching)."""
    ids = list(entry_ids)
    if ids:
        guard_for(store).count(ids)


@atexit.register
def _flush_all() -> None:
    # The counts of a process's last seconds: written on a clean exit, best effort.
    for guard in list(_GUARDS.values()):
        try:
            guard.flush()
        except Exception as exc:  # the store may be gone already: say so, no traceback
            log.warning("flood guard: final write of match counts failed: %s", exc)
