"""The matcher: exact digests, PDQ with dihedral queries over each view, vPDQ and the robust
signal, against chosen hash sets.

Exact lookups go to the store's indexes batch by batch, so memory does not grow with the size
of the sets; PDQ goes through one in-memory range index per hash set, each with its own
threshold, asked with the picture's hashes and its trimmed views' (``signals.views``); vPDQ
entries are few (an operation's own videos) and are compared directly; robust signatures
(sets made from images kaitiaki scanned) go through each such set's ``RobustIndex``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import select

from kaitiaki.hashsets.profiles import get_profile
from kaitiaki.index import PdqBank
from kaitiaki.index.pdq import hex_to_bytes
from kaitiaki.index.robust import RobustIndex
from kaitiaki.match.controls import is_active, suppress, with_allowlists
from kaitiaki.match.indexes import index_cache_dir, set_index, set_robust_index
from kaitiaki.match.videos import match_videos, unique_frames
from kaitiaki.signals import DIGESTS, PDQ, ROBUST, signal_type
from kaitiaki.signals import robust as robust_signal
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.record import FileRecord
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry

PDQ_QUALITY_FLOOR = PDQ.quality_floor or 0
_LOOKUP_CHUNK = 500


class Digested(Protocol):
    """Anything carrying digests: a hashed file, or a catalog row that only lists hashes."""

    @property
    def md5(self) -> str | None: ...
    @property
    def sha1(self) -> str | None: ...
    @property
    def sha256(self) -> str | None: ...
    @property
    def pdq(self) -> str | None: ...


class HashSetNotFoundError(LookupError):
    """A hash set named on the command line is not in the store (or is disabled)."""


@dataclass(frozen=True, slots=True)
class MatchHit:
    hash_set_id: int
    hash_set: str
    entry_id: int
    media_id: str | None
    signal: str
    distance: int
    category: str | None
    series: str | None
    victim_identified: bool | None
    ignorable: bool
    # Counted as material by default under the set's profile (no category counts: a list is
    # imported because its hashes are wanted).
    pertinent: bool
    # On an allowlist set's entry: it cancels the file's other hits (match.controls).
    allowlist: bool = False
    # The allowlist set whose entry cancelled this hit, if one did.
    suppressed_by: str | None = None
    # The view of the file that matched when not the file as it is: a trimmed view's name
    # ("border", "letterbox", ...; see ``signals.views``).
    view: str | None = None

    @property
    def counts(self) -> bool:
        """Whether this hit flags what it matched: not an allowlist's, nor cancelled by one."""
        return not (self.allowlist or self.suppressed_by)

    def as_json(self, query: str) -> dict[str, Any]:
        return {
            "query": query,
            "hash_set": self.hash_set,
            "entry_id": self.entry_id,
            "media_id": self.media_id,
            "signal": self.signal,
            "distance": self.distance,
            "category": self.category,
            "series": self.series,
            "victim_identified": self.victim_identified,
            **({"allowlist": True} if self.allowlist else {}),
            **({"suppressed_by": self.suppressed_by} if self.suppressed_by else {}),
            **({"view": self.view} if self.view else {}),
        }


@dataclass(frozen=True, slots=True)
class _Set:
    row: HashSet
    videos: list[tuple[int, NDArray[np.uint64]]]


# Per query: entry id -> (signal, score) of the strongest evidence, and the view it came from
# when that was not the file as it is.
Found = dict[int, tuple[str, int]]
Views = dict[int, str]


class Matcher:
    """Matches batches of hashed files against a fixed choice of hash sets."""

    def __init__(
        self, store: Store, sets: Sequence[_Set], bank: PdqBank, robust: Sequence[RobustIndex] = ()
    ) -> None:
        self._store = store
        self._sets = {s.row.id: s for s in sets}
        # PDQ indexes by hash-set id (as text), each answering at its set's own threshold.
        self._bank = bank
        # The robust indexes of the chosen sets that carry signatures (sets made from images
        # kaitiaki scanned).
        self._robust = [index for index in robust if len(index)]
        self._entries: dict[int, HashSetEntry] = {}

    @property
    def hash_sets(self) -> list[HashSet]:
        return [s.row for s in self._sets.values()]

    @classmethod
    def load(cls, store: Store, names: Sequence[str] | None = None) -> Matcher:
        """Load the named hash sets, or every enabled one when ``names`` is None or empty."""
        with store.session() as session:
            if names:
                rows = list(session.scalars(select(HashSet).where(HashSet.name.in_(names))))
                found = {row.name for row in rows}
                missing = [n for n in names if n not in found]
                if missing:
                    raise HashSetNotFoundError(f"no hash set named {', '.join(map(repr, missing))}")
                disabled = [row.name for row in rows if not row.enabled]
                if disabled:
                    raise HashSetNotFoundError(
                        f"hash set {', '.join(map(repr, disabled))} is disabled; enable it first"
                    )
            else:
                rows = list(session.scalars(select(HashSet).where(HashSet.enabled)))
            rows = with_allowlists(session, rows, names or None)  # they cancel even unasked
            cache = index_cache_dir(store.url)
            bank = PdqBank()
            robust: list[RobustIndex] = []
            for row in rows:
                index = set_index(session, row, cache)
                if index is not None:
                    bank.put(str(row.id), index, row.pdq_threshold)
                signatures = set_robust_index(session, row, cache)
                if signatures is not None:
                    robust.append(signatures)
            sets = [cls._load_videos(session, row) for row in rows]
        return cls(store, sets, bank, robust)

    @staticmethod
    def _load_videos(session: Any, row: HashSet) -> _Set:
        video_rows = session.execute(
            select(HashSetEntry.id, HashSetEntry.vpdq).where(
                HashSetEntry.hash_set_id == row.id, HashSetEntry.vpdq.is_not(None)
            )
        ).all()
        videos = [(entry_id, unique_frames(frames)) for entry_id, frames in video_rows]
        return _Set(row, videos)

    def match(self, records: Sequence[FileRecord]) -> list[list[MatchHit]]:
        """Hits for each record, best first (exact, then perceptual by distance, then robust).

        A picture is asked with its 8 dihedral PDQ hashes, then with those of each trimmed
        view (an added border taken off); a view's hit is kept only where it is closer than
        the file's own, and says which view it was.
        """
        found: list[Found] = [{} for _ in records]
        views: list[Views] = [{} for _ in records]
        if self._sets:
            self._exact(records, found)
            self._pdq([r.pdq_dihedral if _usable(r) else None for r in records], found)
            for name, queries in _view_queries(records).items():
                self._pdq(queries, found, views, name)
            self._videos(records, found)
            self._robust_matches(records, found, views)
        return self._hits(found, views)

    def match_digests(self, items: Sequence[Digested]) -> list[list[MatchHit]]:
        """Hits for hash records without content (a provider's catalog): digests and one PDQ.

        A catalog's PDQ comes without a quality score or rotations; it is used as given.
        """
        found: list[Found] = [{} for _ in items]
        if self._sets:
            self._exact(items, found)
            self._pdq([[i.pdq] if i.pdq else None for i in items], found)
        return self._hits(found)

    def match_pdq(self, hexes: Sequence[str]) -> list[list[MatchHit]]:
        """Hits for bare PDQ hashes (as typed by a user): the hash itself, not its rotations."""
        found: list[Found] = [{} for _ in hexes]
        self._pdq([[h] for h in hexes], found)
        return self._hits(found)

    def _exact(self, records: Sequence[Digested], found: list[Found]) -> None:
        set_ids = list(self._sets)
        with self._store.session() as session:
            for signal in (d.name for d in DIGESTS):
                column = getattr(HashSetEntry, signal)
                wanted: dict[str, list[int]] = {}
                for i, record in enumerate(records):
                    value = getattr(record, signal)
                    if value:
                        wanted.setdefault(value, []).append(i)
                values = list(wanted)
                for start in range(0, len(values), _LOOKUP_CHUNK):
                    chunk = values[start : start + _LOOKUP_CHUNK]
                    rows = session.execute(
                        select(HashSetEntry.id, column).where(
                            column.in_(chunk), HashSetEntry.hash_set_id.in_(set_ids)
                        )
                    )
                    for entry_id, value in rows:
                        for i in wanted[value]:
                            keep_strongest(found[i], entry_id, signal, 0)

    def _pdq(
        self,
        queries: Sequence[Sequence[str] | None],
        found: list[Found],
        views: list[Views] | None = None,
        view: str | None = None,
    ) -> None:
        owners: list[int] = []
        hexes: list[str] = []
        for i, variants in enumerate(queries):
            for h in variants or ():
                owners.append(i)
                hexes.append(h)
        if not hexes:
            return
        packed = hex_to_bytes(hexes)
        owner = np.asarray(owners, dtype=np.int64)
        for result in self._bank.query(packed).values():
            for q, entry_id, distance in zip(
                result.query.tolist(), result.ids.tolist(), result.distance.tolist(), strict=True
            ):
                i = int(owner[q])
                before = found[i].get(int(entry_id))
                keep_strongest(found[i], int(entry_id), "pdq", int(distance))
                if views is not None and view and found[i][int(entry_id)] is not before:
                    views[i][int(entry_id)] = view

    def _videos(self, records: Sequence[FileRecord], found: list[Found]) -> None:
        for i, record in enumerate(records):
            if not record.vpdq:
                continue
            frames = unique_frames(record.vpdq)
            for s in self._sets.values():
                for entry_id, entry_frames in s.videos:
                    hit = match_videos(frames, entry_frames)
                    if hit is not None:
                        keep_strongest(found[i], entry_id, "vpdq", hit.distance)

    def _robust_matches(
        self, records: Sequence[FileRecord], found: list[Found], views: list[Views]
    ) -> None:
        if not self._robust:
            return
        for i, record in enumerate(records):
            if record.robust is None:
                continue
            try:
                signature = robust_signal.from_bytes(record.robust)
            except SignalError:
                continue  # made by this scan: cannot happen short of a bug; never fail a batch
            for index in self._robust:
                for entry_id, inliers in index.query(signature):
                    before = found[i].get(entry_id)
                    keep_strongest(found[i], entry_id, ROBUST.name, inliers)
                    if found[i][entry_id] is not before:
                        views[i].pop(entry_id, None)

    def _hits(self, found: list[Found], views: list[Views] | None = None) -> list[list[MatchHit]]:
        self._fetch_entries({e for f in found for e in f})
        out: list[list[MatchHit]] = []
        now = datetime.now(UTC)
        for n, per_record in enumerate(found):
            seen = views[n] if views is not None else {}
            hits = [
                replace(self._hit(entry_id, sig, dist), view=seen.get(entry_id))
                for entry_id, (sig, dist) in per_record.items()
                if is_active(self._entries[entry_id], now)  # quarantined or disabled: no match
            ]
            hits.sort(key=hit_order)
            out.append(suppress(hits, lambda h: h.hash_set, lambda h: True))
        return out

    def _fetch_entries(self, ids: Iterable[int]) -> None:
        missing = [i for i in ids if i not in self._entries]
        with self._store.session() as session:
            for start in range(0, len(missing), _LOOKUP_CHUNK):
                chunk = missing[start : start + _LOOKUP_CHUNK]
                for entry in session.scalars(
                    select(HashSetEntry).where(HashSetEntry.id.in_(chunk))
                ):
                    self._entries[entry.id] = entry

    def _hit(self, entry_id: int, signal: str, distance: int) -> MatchHit:
        entry = self._entries[entry_id]
        return hit_for(self._sets[entry.hash_set_id].row, entry, signal, distance)


def hit_for(row: HashSet, entry: HashSetEntry, signal: str, distance: int) -> MatchHit:
    """The hit of a file on ``entry`` of set ``row`` (also how retroactive matching sees it)."""
    profile = get_profile(row.profile)
    return MatchHit(
        hash_set_id=row.id,
        hash_set=row.name,
        entry_id=entry.id,
        media_id=entry.media_id,
        signal=signal,
        distance=distance,
        category=entry.category,
        series=entry.series,
        victim_identified=entry.victim_identified,
        ignorable=entry.category is not None and profile.is_ignorable(entry.category),
        pertinent=profile.is_pertinent(entry.category),
        allowlist=bool(row.allowlist),
    )


def hit_order(hit: MatchHit) -> tuple[int, int, int, int]:
    """Best first: by the signal's rank (an exact digest, then a perceptual hash, then the
    robust signal; within one, the closest), then by set and entry."""
    tier, score = signal_type(hit.signal).rank(hit.distance)
    return (tier, score, hit.hash_set_id, hit.entry_id)


def _usable(record: FileRecord) -> bool:
    return bool(record.pdq_dihedral) and PDQ.usable(record.pdq_quality)


def _view_queries(records: Sequence[FileRecord]) -> dict[str, list[list[str] | None]]:
    """Each trimmed view's dihedral hashes, by view name, one query list per record."""
    out: dict[str, list[list[str] | None]] = {}
    for i, record in enumerate(records):
        for view in record.pdq_views or ():
            if not PDQ.usable(view.get("quality")):
                continue
            queries = out.setdefault(str(view["view"]), [None] * len(records))
            queries[i] = [*(queries[i] or ()), *view["dihedral"]]
    return out


def keep_strongest(
    found: dict[int, tuple[str, int]], entry_id: int, signal: str, distance: int
) -> None:
    """Keep the strongest evidence per entry: the best-ranked signal, then the closest."""
    current = found.get(entry_id)
    if current is None or signal_type(signal).rank(distance) < signal_type(current[0]).rank(
        current[1]
    ):
        found[entry_id] = (signal, distance)
