"""Candidate retrieval and verification over robust signatures (``kaitiaki.signals.robust``).

Retrieval is locality-sensitive hashing by bit sampling: each of ``TABLES`` tables keys a
descriptor by ``KEY_BITS`` of its 256 bits (disjoint sets, from a fixed seeded permutation).
Two descriptors of the same spot in two copies of a picture differ in a few dozen bits, so
they share at least one table's key with good probability, while a random pair almost never
does. Each query descriptor votes for the images in its buckets; the images with most votes
are verified geometrically (``robust.verify``), and only verified matches are returned.

Layout, chosen for memory at a million references:
- Per table, postings are the image ordinals (int32) of the keyed rows sorted by key, with a
  bucket-start array of 2**KEY_BITS + 1 entries: 4 bytes a keyed row a table.
- Only the first half of each signature's rows is keyed. ``robust.compute`` writes the plain
  rows first and the mirrored rows after; a flipped query's mirrored rows hit the
  reference's plain rows, so keying both halves would double memory for the same recall.
  Verification uses all rows, so a signature from elsewhere that orders its rows otherwise
  can at worst be retrieved less often, never matched wrongly.
- Buckets far above the mean load (``BUCKET_LOAD``) are skipped at query time; so query time
  grows with the collection (10 ms at 10,000 references, 18 at 300,000; see the benchmark).
- ``load`` memory-maps the signature arrays, so only postings must be resident.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from kaitiaki.signals.base import SignalError
from kaitiaki.signals.robust import (
    DESCRIPTOR_BYTES,
    MAX_ROWS,
    MIN_INLIERS,
    POINT_SCALE,
    RobustSignature,
    verify,
)

FORMAT = "kaitiaki-robust-index"
FORMAT_VERSION = 1
TABLES = 6
KEY_BITS = 20
# A bucket holding more than this many times the mean load (and more than BUCKET_FLOOR rows) is
# skipped: such keys (flat skies, walls, text) come from every image and carry no evidence.
# Measured at 300,000 references: a cap of 128x the mean kept 99.4% of verifiable queries'
# targets among the top 20 candidates, 32x kept 98.7%.
BUCKET_LOAD = 128
BUCKET_FLOOR = 1024
_SEED = 20260101
_CHUNK = 1 << 20
_ARRAYS = ("ids", "sizes", "offsets", "points", "descriptors")
# One ``add``'s rows, kept apart until the next query: ids, sizes, row counts, points, descriptors.
_Batch = tuple[
    NDArray[np.int64], NDArray[np.uint16], NDArray[np.int64], NDArray[np.uint16], NDArray[np.uint8]
]


def _bit_sets() -> NDArray[np.intp]:
    perm = np.random.default_rng(_SEED).permutation(8 * DESCRIPTOR_BYTES)
    return perm[: TABLES * KEY_BITS].reshape(TABLES, KEY_BITS)


_BITS = _bit_sets()
_WEIGHTS = (1 << np.arange(KEY_BITS, dtype=np.uint64)).astype(np.uint32)


def _keys(
    descriptors: NDArray[np.uint8], table: int, rows: NDArray[np.int64] | None = None
) -> NDArray[np.uint32]:
    """One table's keys of ``descriptors`` (of its ``rows`` when given), in chunks so that a
    large build never holds more than a chunk of unpacked bits or gathered rows."""
    count = len(descriptors) if rows is None else len(rows)
    out = np.empty(count, np.uint32)
    for start in range(0, count, _CHUNK):
        part = slice(start, start + _CHUNK)
        chunk = descriptors[part] if rows is None else descriptors[rows[part]]
        bits = np.unpackbits(np.asarray(chunk), axis=1)
        out[part] = bits[:, _BITS[table]].astype(np.uint32) @ _WEIGHTS
    return out


class RobustIndex:
    """Robust signatures of reference images under integer ids; ``query`` returns verified hits."""

    def __init__(self) -> None:
        self._ids = np.empty(0, np.int64)
        self._sizes = np.empty((0, 2), np.uint16)  # width, height
        self._offsets = np.zeros(1, np.int64)  # rows of image i: offsets[i]:offsets[i + 1]
        self._points = np.empty((0, 2), np.uint16)  # 1/POINT_SCALE pixel units
        self._descriptors = np.empty((0, DESCRIPTOR_BYTES), np.uint8)
        self._starts: NDArray[np.int64] | None = None  # (TABLES, 2**KEY_BITS + 1)
        self._postings: list[NDArray[np.int32]] = []
        self._pending: list[_Batch] = []
        self._pending_images = 0

    def __len__(self) -> int:
        return int(self._ids.shape[0]) + self._pending_images

    def nbytes(self) -> int:
        """Bytes of the stored signatures and the tables (memory-mapped arrays included)."""
        self._consolidate()
        stored = sum(int(getattr(self, f"_{name}").nbytes) for name in _ARRAYS)
        tables = sum(int(p.nbytes) for p in self._postings)
        return stored + tables + (0 if self._starts is None else int(self._starts.nbytes))

    def add(self, ids: Sequence[int], signatures: Sequence[RobustSignature]) -> None:
        if len(ids) != len(signatures):
            raise ValueError(f"{len(ids)} ids for {len(signatures)} signatures")
        for sig in signatures:
            shape = sig.descriptors.shape
            if len(shape) != 2 or shape[1] != DESCRIPTOR_BYTES or sig.points.shape != (shape[0], 2):
                raise SignalError("robust signature with mismatched points and descriptors")
            if not (0 < sig.width < 65536 and 0 < sig.height < 65536):
                raise SignalError(f"robust signature size {sig.width}x{sig.height} out of range")
        if not signatures:
            return
        points = np.concatenate([s.points for s in signatures]).reshape(-1, 2)
        self._pending.append(
            (
                np.asarray(ids, np.int64),
                np.array([(s.width, s.height) for s in signatures], np.uint16).reshape(-1, 2),
                np.array([len(s.descriptors) for s in signatures], np.int64),
                np.clip(np.round(points * POINT_SCALE), 0, 65535).astype(np.uint16),
                np.concatenate([np.asarray(s.descriptors, np.uint8) for s in signatures]),
            )
        )
        self._pending_images += len(signatures)
        # Tables are rebuilt on the next query: one sort per table costs less than merging
        # per add, and collections are loaded in bulk.
        self._starts = None
        self._postings = []

    def _consolidate(self) -> None:
        """Join the pending batches onto the arrays once, not once per ``add``."""
        if not self._pending:
            return
        ids, sizes, counts, points, descriptors = zip(*self._pending, strict=True)
        self._ids = np.concatenate([self._ids, *ids])
        self._sizes = np.concatenate([self._sizes, *sizes])
        self._offsets = np.concatenate(
            [self._offsets, self._offsets[-1] + np.cumsum(np.concatenate(counts))]
        )
        self._points = np.concatenate([self._points, *points])
        self._descriptors = np.concatenate([self._descriptors, *descriptors])
        self._pending = []
        self._pending_images = 0

    def _keyed_rows(self) -> tuple[NDArray[np.int64], NDArray[np.int32]]:
        """Row numbers that are keyed (each image's first half) and their image ordinals."""
        counts = np.diff(self._offsets)
        halves = (counts + 1) // 2
        image = np.repeat(np.arange(len(self), dtype=np.int32), halves)
        first = np.repeat(self._offsets[:-1] - np.cumsum(halves) + halves, halves)
        rows = first + np.arange(int(halves.sum()), dtype=np.int64)
        return rows, image

    def _build(self) -> None:
        self._consolidate()
        # One table at a time: at a million images the keyed rows are ~10^8, and all tables'
        # keys at once would need ~2.7 GB on top of the postings.
        rows, image = self._keyed_rows()
        starts = np.empty((TABLES, (1 << KEY_BITS) + 1), np.int64)
        self._postings = []
        for table in range(TABLES):
            keys = _keys(self._descriptors, table, rows)
            self._postings.append(image[np.argsort(keys, kind="stable")])
            starts[table, 0] = 0
            np.cumsum(np.bincount(keys, minlength=1 << KEY_BITS), out=starts[table, 1:])
        self._starts = starts

    def signature(self, ordinal: int) -> RobustSignature:
        self._consolidate()
        lo, hi = int(self._offsets[ordinal]), int(self._offsets[ordinal + 1])
        width, height = (int(v) for v in self._sizes[ordinal])
        points = self._points[lo:hi].astype(np.float32) * np.float32(1 / POINT_SCALE)
        return RobustSignature(width, height, points, np.asarray(self._descriptors[lo:hi]))

    def candidates(self, signature: RobustSignature, limit: int) -> list[tuple[int, int]]:
        """(ordinal, votes) of the ``limit`` images with most votes (at least 2), most first."""
        if self._starts is None:
            self._build()
        assert self._starts is not None
        if limit <= 0 or not len(self) or not len(signature.descriptors):
            return []
        descriptors = np.ascontiguousarray(signature.descriptors, np.uint8)
        cap = max(BUCKET_FLOOR, BUCKET_LOAD * len(self._postings[0]) >> KEY_BITS)
        hits: list[NDArray[np.int32]] = []
        for table in range(TABLES):
            keys = _keys(descriptors, table).astype(np.int64)
            lo = self._starts[table, keys]
            hi = self._starts[table, keys + 1]
            keep = (hi > lo) & (hi - lo <= cap)
            lo, hi = lo[keep], hi[keep]
            if not len(lo):
                continue
            # All the buckets' postings in one gather: positions lo..hi-1 of each bucket.
            lengths = hi - lo
            positions = np.repeat(lo - np.cumsum(lengths) + lengths, lengths)
            positions += np.arange(int(lengths.sum()), dtype=np.int64)
            hits.append(self._postings[table][positions])
        if not hits:
            return []
        # A dense count costs O(images) per query (8 MB at a million) but beats sorting the
        # hits, which run to 10^5 and more at that size.
        votes = np.bincount(np.concatenate(hits), minlength=len(self))
        top = (
            np.argpartition(-votes, limit - 1)[:limit]
            if limit < len(votes)
            else np.arange(len(votes))
        )
        top = top[np.lexsort((top, -votes[top]))]
        return [(int(i), int(votes[i])) for i in top if votes[i] >= 2]

    def query(
        self, signature: RobustSignature, *, min_inliers: int = MIN_INLIERS, candidates: int = 20
    ) -> list[tuple[int, int]]:
        """(id, inliers) of the references that ``signature`` verifiably matches, best first."""
        found: list[tuple[int, int]] = []
        for ordinal, _ in self.candidates(signature, candidates):
            result = verify(signature, self.signature(ordinal), min_inliers)
            if result.matched:
                found.append((int(self._ids[ordinal]), result.inliers))
        return sorted(found, key=lambda hit: (-hit[1], hit[0]))

    def save(self, path: Path) -> None:
        """A folder: one ``.npy`` per array (no pickles) and a JSON header."""
        self._consolidate()
        path.mkdir(parents=True, exist_ok=True)
        for name in _ARRAYS:
            np.save(path / f"{name}.npy", np.asarray(getattr(self, f"_{name}")), allow_pickle=False)
        header = {"format": FORMAT, "version": FORMAT_VERSION, "images": len(self)}
        (path / "index.json").write_text(json.dumps(header))

    @classmethod
    def load(cls, path: Path) -> RobustIndex:
        """The index saved at ``path``; every array's shape checked, tables rebuilt on use."""
        try:
            header = json.loads((path / "index.json").read_text())
        except (OSError, ValueError) as exc:
            raise SignalError(f"cannot read robust index header: {exc}") from exc
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise SignalError("not a robust index")
        if header.get("version") != FORMAT_VERSION:
            raise SignalError(f"robust index version {header.get('version')} is not supported")
        index = cls()
        try:
            arrays = {
                name: np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                for name in _ARRAYS
            }
        except (OSError, ValueError) as exc:
            raise SignalError(f"cannot read robust index arrays: {exc}") from exc
        n = header.get("images")
        offsets = arrays["offsets"]
        ok = (
            isinstance(n, int)
            and arrays["ids"].shape == (n,)
            and arrays["ids"].dtype == np.int64
            and arrays["sizes"].shape == (n, 2)
            and arrays["sizes"].dtype == np.uint16
            and offsets.shape == (n + 1,)
            and offsets.dtype == np.int64
            and arrays["points"].dtype == np.uint16
            and arrays["descriptors"].dtype == np.uint8
            and arrays["descriptors"].shape[1:] == (DESCRIPTOR_BYTES,)
            and arrays["points"].shape == (arrays["descriptors"].shape[0], 2)
        )
        if ok:
            counts = np.diff(offsets)
            ok = bool(offsets[0] == 0 and offsets[-1] == arrays["points"].shape[0]) and bool(
                ((counts >= 0) & (counts <= MAX_ROWS)).all()
            )
        if not ok:
            raise SignalError("robust index arrays are inconsistent")
        index._ids = np.asarray(arrays["ids"])
        index._sizes = np.asarray(arrays["sizes"])
        index._offsets = np.asarray(offsets)
        index._points = arrays["points"]
        index._descriptors = arrays["descriptors"]
        return index
