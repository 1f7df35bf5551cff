"""Exact range search over PDQ hashes: every stored hash within Hamming distance ``t``.

The index is a multi-index hash (see ``_plan`` for the layout and why it never misses a match)
kept as a few immutable segments, log-structured: ``add`` builds a small segment for the new
hashes and merges segments of similar size, so adding costs O(log n) rebuild work per hash
instead of a full rebuild; ``remove`` and ``disable`` flip a state byte per row, and a segment
that is mostly removed rows is rebuilt without them.

Every stored hash goes through one fixed bit permutation before the tables cut its 256 bits
into substrings. Hamming distance does not change under a permutation, and it spreads any
correlated or biased bit positions of real PDQ hashes over all tables, so that no single
table gets a few huge buckets.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from kaitiaki.index._segment import DISABLED, REMOVED, Method, Segment, kernels, scan_rows

HASH_BYTES = 32
FORMAT = "kaitiaki-pdq-index"
FORMAT_VERSION = 1
_PERMUTATION_SEED = 20190301
# A segment whose rows are more than this share removed is rebuilt without them.
COMPACT_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class RangeResult:
    """One row per (query, stored hash) pair within the threshold, sorted by query number,
    then distance, then id."""

    query: NDArray[np.int64]
    ids: NDArray[np.int64]
    distance: NDArray[np.int32]

    def __len__(self) -> int:
        return int(self.query.shape[0])

    @classmethod
    def empty(cls) -> RangeResult:
        return cls(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32))

    @classmethod
    def sorted(
        cls, query: NDArray[np.int64], ids: NDArray[np.int64], distance: NDArray[np.int32]
    ) -> RangeResult:
        order = np.lexsort((ids, distance, query))
        return cls(query[order], ids[order], distance[order])


def hex_to_bytes(hexes: Sequence[str]) -> NDArray[np.uint8]:
    """64-hex PDQ hashes as an (n, 32) array of their big-endian bytes."""
    for h in hexes:
        if len(h) != 2 * HASH_BYTES:
            raise ValueError(f"a PDQ hash is 64 hex digits, got {h!r}")
    try:
        raw = bytes.fromhex("".join(hexes))
    except ValueError as exc:
        raise ValueError(f"not a hex PDQ hash: {exc}") from exc
    return np.frombuffer(raw, dtype=np.uint8).reshape(len(hexes), HASH_BYTES).copy()


def bytes_to_hex(hashes: NDArray[np.uint8]) -> list[str]:
    return [row.tobytes().hex() for row in _as_hashes(hashes, "hashes")]


def _as_hashes(hashes: ArrayLike, what: str) -> NDArray[np.uint8]:
    array = np.asarray(hashes)
    if array.ndim != 2 or array.shape[1] != HASH_BYTES or array.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 of shape (n, 32), not {array.dtype} {array.shape}")
    return np.ascontiguousarray(array)


def _as_ids(ids: ArrayLike, n: int | None = None) -> NDArray[np.int64]:
    array = np.ascontiguousarray(np.asarray(ids, dtype=np.int64).reshape(-1))
    if n is not None and array.shape[0] != n:
        raise ValueError(f"{n} hashes but {array.shape[0]} ids")
    return array


def _check_threshold(threshold: int) -> int:
    if not 0 <= int(threshold) <= 8 * HASH_BYTES:
        raise ValueError(f"threshold must be in 0..256, got {threshold}")
    return int(threshold)


def _words(hashes: NDArray[np.uint8]) -> NDArray[np.uint64]:
    return hashes.view(np.uint64).reshape(-1, 4)


def brute_force(
    hashes: ArrayLike, queries: ArrayLike, threshold: int, ids: ArrayLike | None = None
) -> RangeResult:
    """The reference answer by exhaustive scan (ids default to row numbers)."""
    stored = _as_hashes(hashes, "hashes")
    asked = _as_hashes(queries, "queries")
    threshold = _check_threshold(threshold)
    ids_ = np.arange(stored.shape[0], dtype=np.int64) if ids is None else _as_ids(ids, len(stored))
    state = np.zeros(stored.shape[0], dtype=np.uint8)
    qnums = np.arange(asked.shape[0], dtype=np.int64)
    qs, rows, ds = scan_rows(_words(stored), state, _words(asked), qnums, threshold)
    return RangeResult.sorted(qs, ids_[rows], ds)


class _BitPermutation:
    """A fixed permutation of the 256 bit positions, applied by per-byte lookup tables."""

    def __init__(self, order: NDArray[np.int64]) -> None:
        # Bit ``b`` (least significant first) of byte ``p`` moves to position ``order[8p + b]``.
        self.order = np.asarray(order, dtype=np.int64)
        if sorted(self.order.tolist()) != list(range(256)):
            raise ValueError("not a permutation of 256 bits")
        lut = np.zeros((HASH_BYTES, 256, 4), dtype=np.uint64)
        values = np.arange(256)
        for p in range(HASH_BYTES):
            for b in range(8):
                dest = int(self.order[8 * p + b])
                has = (values >> b) & 1 == 1
                lut[p, has, dest // 64] |= np.uint64(1) << np.uint64(dest % 64)
        self.lut = lut

    @classmethod
    def default(cls) -> _BitPermutation:
        return cls(np.random.default_rng(_PERMUTATION_SEED).permutation(256))

    def __call__(self, hashes: NDArray[np.uint8]) -> NDArray[np.uint64]:
        out = np.empty((hashes.shape[0], 4), dtype=np.uint64)
        kernels().permute_bits(hashes, self.lut, out)
        return out


class PdqIndex:
    """Exact PDQ range index; ids are the caller's (e.g. hash-set entry ids) and need not be
    unique: ``remove``, ``disable`` and ``enable`` act on every row with the id.

    Queries may run from several threads at once; an update (add, remove, disable, enable)
    must not overlap a query or another update.
    """

    def __init__(
        self, segments: list[Segment] | None = None, order: NDArray[np.int64] | None = None
    ):
        self._segments: list[Segment] = segments or []
        self._permute = _BitPermutation.default() if order is None else _BitPermutation(order)

    @classmethod
    def build(cls, hashes: NDArray[np.uint8], ids: NDArray[np.int64]) -> PdqIndex:
        """An index of ``hashes`` (n, 32): the big-endian bytes of each 64-hex PDQ hash."""
        index = cls()
        index.add(hashes, ids)
        return index

    def __len__(self) -> int:
        """Stored hashes, disabled ones included, removed ones not."""
        return sum(int(np.count_nonzero((s.state & REMOVED) == 0)) for s in self._segments)

    @property
    def segments(self) -> int:
        return len(self._segments)

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays (mapped or in memory)."""
        return sum(
            a.nbytes
            for s in self._segments
            for a in (s.words, s.ids, s.state, s.entries, s.offsets)
        )

    def add(self, hashes: NDArray[np.uint8], ids: NDArray[np.int64]) -> None:
        """Store more hashes without rebuilding the large segments (see the module docstring)."""
        stored = _as_hashes(hashes, "hashes")
        ids_ = _as_ids(ids, stored.shape[0])
        if stored.shape[0] == 0:
            return
        state = np.zeros(stored.shape[0], dtype=np.uint8)
        self._segments.append(Segment.build(self._permute(stored), ids_, state))
        # Merge like a binary counter: a segment never sits above one less than twice its size,
        # so there are O(log n) segments and each hash is rebuilt O(log n) times.
        while len(self._segments) > 1 and 2 * len(self._segments[-1]) >= len(self._segments[-2]):
            last, prev = self._segments.pop(), self._segments.pop()
            merged = _rebuild([prev, last])
            if len(merged):
                self._segments.append(merged)

    def remove(self, ids: ArrayLike) -> None:
        """Forget every stored hash with one of ``ids``."""
        self._mark(ids, REMOVED, True)
        kept = []
        for seg in self._segments:
            removed = int(np.count_nonzero(seg.state & REMOVED))
            if removed == len(seg):
                continue
            kept.append(_rebuild([seg]) if removed > COMPACT_SHARE * len(seg) else seg)
        self._segments = kept

    def disable(self, ids: ArrayLike) -> None:
        """Keep the hashes but leave them out of answers until ``enable``."""
        self._mark(ids, DISABLED, True)

    def enable(self, ids: ArrayLike) -> None:
        self._mark(ids, DISABLED, False)

    def _mark(self, ids: ArrayLike, flag: np.uint8, on: bool) -> None:
        wanted = _as_ids(ids)
        for seg in self._segments:
            hit = np.isin(seg.ids, wanted)
            if on:
                seg.state[hit] |= flag
            else:
                seg.state[hit] &= ~flag

    def query(
        self, queries: NDArray[np.uint8], threshold: int = 31, *, method: Method = "auto"
    ) -> RangeResult:
        """Every stored, enabled hash within ``threshold`` (inclusive) of each query.

        ``method`` forces the tables or a scan instead of the planner's choice; it exists to
        test and measure both.
        """
        asked = _as_hashes(queries, "queries")
        threshold = _check_threshold(threshold)
        if asked.shape[0] == 0 or not self._segments:
            return RangeResult.empty()
        words = self._permute(asked)
        qs, ids, ds = [], [], []
        for seg in self._segments:
            q, rows, d = seg.query(words, threshold, method)
            qs.append(q)
            ids.append(seg.ids[rows])
            ds.append(d)
        return RangeResult.sorted(np.concatenate(qs), np.concatenate(ids), np.concatenate(ds))

    def save(self, path: Path) -> None:
        """Write the index as a folder of ``.npy`` files, replacing ``path`` atomically."""
        path = Path(path)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        tmp.mkdir(parents=True)
        names = []
        for k, seg in enumerate(self._segments):
            names.append(f"segment-{k}")
            seg.save(tmp / names[-1])
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "bit_order": self._permute.order.tolist(),
            "segments": names,
        }
        (tmp / "index.json").write_text(json.dumps(meta))
        old = path.with_name(f".{path.name}.{uuid.uuid4().hex}.old")
        if path.exists():
            path.rename(old)
        tmp.rename(path)
        shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, path: Path, mmap: bool = True) -> PdqIndex:
        """Open a saved index; with ``mmap`` the arrays are mapped, not read, so opening is
        immediate and pages come in on first use (only row states are read up front)."""
        path = Path(path)
        meta = json.loads((path / "index.json").read_text())
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise ValueError(f"{path} is not a kaitiaki PDQ index of version {FORMAT_VERSION}")
        segments = [Segment.load(path / name, mmap) for name in meta["segments"]]
        return cls(segments, np.asarray(meta["bit_order"], dtype=np.int64))


def _rebuild(segments: list[Segment]) -> Segment:
    """One segment of the live (not removed) rows of ``segments``, states kept."""
    keep = [(s.state & REMOVED) == 0 for s in segments]
    words = np.concatenate([s.words[k] for s, k in zip(segments, keep, strict=True)])
    ids = np.concatenate([s.ids[k] for s, k in zip(segments, keep, strict=True)])
    state = np.concatenate([s.state[k] for s, k in zip(segments, keep, strict=True)])
    return Segment.build(words, ids, state)
