"""Banks' PDQ indexes as a server process holds them: loaded once, kept current, swapped whole.

Each bank is answered from a *base* index file, memory-mapped (its pages are the machine's page
cache, shared by every process that maps the same file: ``match.index_files``), plus a small
in-memory *delta* of the entries added since the base was written. A set's ``version`` (bumped
by every change to its entries: ``hashsets.versions``) is read from the store every
``poll_s`` seconds; when it moves, only entries with an id above what is loaded are read into a
new delta, and the whole view is swapped in with one reference assignment, so lookups in
flight finish on the old view and the next ones see the new one: no pause, no lock on the
lookup path. When the delta outgrows a share of the base, or an entry was removed (ids may be
reused after a removal), a new base is written aside and mapped, and the old one let go.

Removed, quarantined and switched-off entries need no rebuild to stop matching: every hit is
checked against its row in the store before it is answered (``match.lookup``).

``poll_s`` 0 checks the store on every lookup instead (read-your-writes: tests, one-shot CLI
use); above 0 a daemon thread checks in the background and lookups never touch the store for
the index. ``KAITIAKI_INDEX_POLL_S`` sets the default.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.index.pdq import PdqIndex
from kaitiaki.match.index_files import (
    Base,
    build_base,
    build_base_apart,
    newest_base,
    open_base,
    read_pdq_rows,
)
from kaitiaki.match.indexes import index_cache_dir
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet

log = logging.getLogger(__name__)

DEFAULT_POLL_S = 0.2
# A delta past this many entries, and past this share of its base, is folded into a new base.
REBUILD_MIN = 50_000
REBUILD_SHARE = 0.10


def default_poll_s() -> float:
    raw = os.environ.get("KAITIAKI_INDEX_POLL_S")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_POLL_S
    except ValueError:
        return DEFAULT_POLL_S


@dataclass(frozen=True, slots=True)
class BankState:
    """A bank as the store last said: what a lookup needs without asking it again."""

    id: int
    name: str
    enabled: bool
    threshold: int
    allowlist: bool
    version: int
    removals: int
    changed_at: datetime | None


@dataclass(frozen=True, slots=True)
class BankIndex:
    """One bank's answerable index: a mapped base and the delta added since."""

    base: Base
    delta: PdqIndex | None
    delta_hashes: NDArray[np.uint8]
    delta_ids: NDArray[np.int64]
    through: int  # highest entry id held (base or delta)
    version: int  # the bank's version this view answers for
    removals: int
    ready_at: float  # epoch seconds this view became answerable

    @property
    def size(self) -> int:
        return self.base.size + int(self.delta_ids.shape[0])


@dataclass(frozen=True, slots=True)
class View:
    banks: Mapping[int, BankState]
    indexes: Mapping[int, BankIndex]
    checked_at: float


class IndexServer:
    """The process's view of every bank's PDQ index (see the module docstring)."""

    def __init__(self, store: Store, *, poll_s: float | None = None) -> None:
        self.store = store
        self.poll_s = default_poll_s() if poll_s is None else poll_s
        self.cache = index_cache_dir(store.url)
        self._view = View({}, {}, 0.0)
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False
        self._loaded = threading.Event()

    # -- reading -----------------------------------------------------------------------------

    @property
    def ready(self) -> bool:
        """Whether a lookup would be answered without waiting for the first load."""
        return self.poll_s <= 0 or self._loaded.is_set()

    def view(self) -> View:
        """The current view, brought up to date first when polling is off or not started."""
        if self.poll_s <= 0:
            self.refresh()
        elif not self._started:
            self.start()
        else:
            # Started elsewhere (a warm-up thread): wait for its first load rather than
            # answer "no match" from an empty view.
            self._loaded.wait()
        return self._view

    def query(
        self, packed: NDArray[np.uint8], bank_ids: Iterable[int], view: View | None = None
    ) -> dict[int, int]:
        """Entry id -> nearest distance, for every entry of the banks within each one's
        threshold of any of the ``packed`` hashes ((n, 32) bytes)."""
        view = view or self.view()
        found: dict[int, int] = {}
        for bank_id in bank_ids:
            bank, index = view.banks.get(bank_id), view.indexes.get(bank_id)
            if bank is None or index is None:
                continue
            for part in (index.base.index, index.delta):
                if part is None:
                    continue
                result = part.query(packed, bank.threshold)
                for entry_id, distance in zip(
                    result.ids.tolist(), result.distance.tolist(), strict=True
                ):
                    best = found.get(entry_id)
                    if best is None or distance < best:
                        found[entry_id] = distance
        return found

    # -- keeping current -----------------------------------------------------------------------

    def start(self) -> None:
        """Load every bank now, then keep them current from a daemon thread."""
        with self._refresh_lock:
            if self._started:
                return
            self._started = True
        try:
            self.refresh()
        finally:
            self._loaded.set()  # failed or not: waiters then retry through the poll
        if self.poll_s > 0:
            self._thread = threading.Thread(
                target=self._poll, name="kaitiaki-index-refresh", daemon=True
            )
            self._thread.start()

    def warm_up(self) -> None:
        """Start loading in the background (a server's start: it accepts connections while
        the banks load, and lookups wait for the first load)."""
        threading.Thread(target=self.start, name="kaitiaki-index-load", daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:  # a store outage must not end the thread: try again next time
                log.exception("refreshing the served indexes failed; serving the last view")

    def refresh(self) -> None:
        """Read the banks' versions; catch up every bank whose index is behind."""
        with self._refresh_lock:
            old = self._view
            with self.store.session() as session:
                # Columns, not ORM objects: this runs every poll in every server process.
                banks = {
                    r[0]: BankState(*r)
                    for r in session.execute(
                        select(
                            HashSet.id,
                            HashSet.name,
                            HashSet.enabled,
                            HashSet.pdq_threshold,
                            HashSet.allowlist,
                            HashSet.version,
                            HashSet.removals,
                            HashSet.changed_at,
                        )
                    )
                }
                indexes: dict[int, BankIndex] = {}
                for bank in banks.values():
                    current = old.indexes.get(bank.id)
                    if current is not None and (current.version, current.removals) == (
                        bank.version,
                        bank.removals,
                    ):
                        indexes[bank.id] = current
                    else:
                        indexes[bank.id] = self._catch_up(session, bank, current)
                # One assignment: a lookup sees the old view or the new, never a mix.
                self._view = View(banks, indexes, time.time())
                # Only then fold an outgrown delta into a new base: the added entries are
                # answered from the delta meanwhile, not after the rebuild.
                for bank_id, index in list(indexes.items()):
                    if _outgrown(index):
                        indexes[bank_id] = self._fresh(session, banks[bank_id], index.through)
                        self._view = View(banks, dict(indexes), time.time())

    def _catch_up(self, session: Session, bank: BankState, current: BankIndex | None) -> BankIndex:
        if current is None or current.removals != bank.removals:
            return self._fresh(session, bank, 0)
        hashes, ids, through = read_pdq_rows(session, bank.id, current.through)
        if not len(ids):
            return replace(current, version=bank.version, ready_at=time.time())
        delta_hashes = np.concatenate([current.delta_hashes, hashes])
        delta_ids = np.concatenate([current.delta_ids, ids])
        return BankIndex(
            current.base,
            PdqIndex.build(delta_hashes, delta_ids),
            delta_hashes,
            delta_ids,
            through,
            bank.version,
            bank.removals,
            time.time(),
        )

    def _fresh(self, session: Session, bank: BankState, at_least: int) -> BankIndex:
        """A view from the newest base on disk that fits (another process may have written
        it), or a new base, plus whatever was added after it."""
        base = None
        if self.cache is not None and at_least == 0:
            found = newest_base(self.cache, bank.id, bank.removals)
            if found is not None:
                try:
                    base = open_base(found)
                except (OSError, ValueError):
                    base = None  # deleted or replaced meanwhile: build below
        if base is None:
            base = self._build(session, bank, at_least)
        hashes, ids, through = read_pdq_rows(session, bank.id, base.through)
        return BankIndex(
            base,
            PdqIndex.build(hashes, ids) if len(ids) else None,
            hashes,
            ids,
            max(through, base.through),
            bank.version,
            bank.removals,
            time.time(),
        )

    def _build(self, session: Session, bank: BankState, at_least: int) -> Base:
        # A polling server builds in a child process (``build_base_apart``): its lookups go on
        # meanwhile. Here when that fails, and when nothing polls (tests, one-shot use).
        if self.poll_s > 0 and self.cache is not None:
            try:
                return build_base_apart(
                    self.store.url, self.cache, bank.id, bank.removals, at_least
                )
            except (OSError, ValueError, subprocess.SubprocessError) as exc:
                log.warning("building apart failed, building here instead: %s", exc)
        return build_base(session, self.cache, bank.id, bank.removals, at_least)

    # -- telling -------------------------------------------------------------------------------

    def status(self) -> list[dict[str, object]]:
        """Each bank's index: the version it answers for, its sizes and ages."""
        view = self.view()
        now = time.time()
        out: list[dict[str, object]] = []
        for bank in sorted(view.banks.values(), key=lambda b: b.name):
            index = view.indexes.get(bank.id)
            if index is None:
                continue
            out.append(
                {
                    "bank": bank.name,
                    "enabled": bank.enabled,
                    "version": index.version,
                    "current": index.version == bank.version,
                    "size": index.size,
                    "base_size": index.base.size,
                    "delta_size": int(index.delta_ids.shape[0]),
                    "base_built_at": int(index.base.built_at),
                    "base_age_s": round(now - index.base.built_at, 3),
                    "ready_at": int(index.ready_at),
                    "age_s": round(now - index.ready_at, 3),
                    "checked_at": int(view.checked_at),
                    "checked_age_s": round(now - view.checked_at, 3),
                    "shared_file": index.base.path is not None,
                }
            )
        return out


def _outgrown(index: BankIndex) -> bool:
    return len(index.delta_ids) > max(REBUILD_MIN, REBUILD_SHARE * index.base.size)


# The servers of this process, by store: a web app registers its own for its lifetime.
_SERVERS: dict[int, IndexServer] = {}


def serve_store(store: Store, poll_s: float | None = None) -> IndexServer:
    """Start serving ``store``'s banks in this process (until ``release_store``)."""
    server = IndexServer(store, poll_s=poll_s)
    _SERVERS[id(store)] = server
    return server


def release_store(store: Store) -> None:
    server = _SERVERS.pop(id(store), None)
    if server is not None:
        server.close()


def server_for(store: Store) -> IndexServer:
    """The registered server of ``store``, or a one-shot one that reads the store now (the
    command line and library calls: nothing stays loaded, nothing runs after)."""
    server = _SERVERS.get(id(store))
    if server is not None and server.store is store:
        return server
    return IndexServer(store, poll_s=0)
