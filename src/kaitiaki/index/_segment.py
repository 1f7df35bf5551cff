"""A segment: an immutable block of stored hashes with its tables, plus a mutable row state.

The index is a short list of segments (see ``pdq.PdqIndex``); a segment is built once, in
compiled code, and afterwards only its ``state`` bytes change (removed / disabled rows).
"""

from __future__ import annotations

import functools
import importlib
import itertools
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from kaitiaki.index._plan import (
    COST_ENTRY,
    COST_SCAN_ROW,
    COST_SCAN_ROW_BATCHED,
    COST_VERIFY,
    Layout,
    choose_layout,
)
from kaitiaki.index._plan import plan_query as _plan_query


def kernels() -> ModuleType:
    """The compiled kernels, imported on first use. Importing numba alone takes ~0.8 s, which
    every command-line call paid before it did anything, whether or not it searched an index."""
    return importlib.import_module("kaitiaki.index._kernels")


REMOVED = np.uint8(1)
DISABLED = np.uint8(2)
Method = Literal["auto", "tables", "scan"]
Hits = tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int32]]
# A query abandoned by the tables is rescanned; letting it spend up to twice a scan before
# giving up keeps the worst case (skewed buckets) within 3x a scan and rarely wastes work.
ABORT_AFTER_SCANS = 2.0
# Rows per scan task: below this, splitting the rows among threads costs more than it gains.
SCAN_SPLIT_ROWS = 1 << 16


@functools.cache
def threads() -> int:
    return max(1, os.cpu_count() or 1)


_POOL: ThreadPoolExecutor | None = None


def pool() -> ThreadPoolExecutor:
    """One process-wide pool: the kernels release the GIL, so threads give real parallelism."""
    global _POOL
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max_workers=threads(), thread_name_prefix="kaitiaki-index")
    return _POOL


def concat(parts: list[Hits]) -> Hits:
    if not parts:
        return (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int32))
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def scan_rows(
    words: NDArray[np.uint64],
    state: NDArray[np.uint8],
    queries: NDArray[np.uint64],
    qnums: NDArray[np.int64],
    threshold: int,
) -> Hits:
    """Exact scan, split across threads by rows when there are many, by queries otherwise."""
    n, q = words.shape[0], queries.shape[0]
    if n == 0 or q == 0:
        return concat([])
    tasks = threads()
    if n >= SCAN_SPLIT_ROWS * 2:
        bounds = np.linspace(0, n, min(tasks * 4, n // SCAN_SPLIT_ROWS) + 1).astype(np.int64)
        jobs = [(int(lo), int(hi), queries, qnums) for lo, hi in itertools.pairwise(bounds)]
    else:
        chunks = np.array_split(np.arange(q), min(q, tasks))
        jobs = [(0, n, queries[c], qnums[c]) for c in chunks if len(c)]
    if len(jobs) == 1:  # no hand-off to the pool for one task (see Segment.query)
        lo, hi, qs, qn = jobs[0]
        return concat([kernels().scan(words, state, lo, hi, qs, qn, threshold)])
    futures = [
        pool().submit(kernels().scan, words, state, lo, hi, qs, qn, threshold)
        for lo, hi, qs, qn in jobs
    ]
    return concat([f.result() for f in futures])


@dataclass
class Segment:
    words: NDArray[np.uint64]  # (n, 4), bits permuted by the index
    ids: NDArray[np.int64]
    state: NDArray[np.uint8]
    layout: Layout
    entries: NDArray[np.uint32]  # (tables, n)
    offsets: NDArray[np.uint32]  # (tables, 2**coarse + 1)

    def __len__(self) -> int:
        return int(self.words.shape[0])

    @classmethod
    def build(
        cls,
        words: NDArray[np.uint64],
        ids: NDArray[np.int64],
        state: NDArray[np.uint8],
        layout: Layout | None = None,
    ) -> Segment:
        """Tables over ``words`` with the planner's layout, or ``layout`` (for measuring)."""
        n = words.shape[0]
        if n >= 1 << 32:
            raise ValueError("a segment holds at most 2**32 - 1 hashes")
        layout = layout or choose_layout(n)
        words = np.ascontiguousarray(words, dtype=np.uint64)
        start, used, residue = layout.arrays()
        coarse = int(used[0] - residue[0])
        entries = np.empty((layout.tables, n), dtype=np.uint32)
        offsets = np.empty((layout.tables, (1 << coarse) + 1), dtype=np.uint32)

        def one(j: int) -> None:
            kernels().build_table(
                words,
                int(start[j]),
                int(used[j]),
                int(residue[j]),
                layout.rowbits,
                offsets[j],
                entries[j],
            )

        for f in [pool().submit(one, j) for j in range(layout.tables)]:
            f.result()
        return cls(
            words, np.ascontiguousarray(ids, dtype=np.int64), state.copy(), layout, entries, offsets
        )

    def query(self, queries: NDArray[np.uint64], threshold: int, method: Method = "auto") -> Hits:
        """Rows within ``threshold`` of each query as (query number, row, distance).

        ``method`` "tables" and "scan" override the planner's choice (for tests and
        measurements); "tables" still rescans a query whose buckets hold too much.
        """
        n = len(self)
        if n == 0 or queries.shape[0] == 0:
            return concat([])
        qnums = np.arange(queries.shape[0], dtype=np.int64)
        batched = queries.shape[0] >= 3
        plan = _plan_query(self.layout, n, threshold, batched, method != "tables")
        if plan.radii is None or method == "scan":
            return scan_rows(self.words, self.state, queries, qnums, threshold)
        radii = np.asarray(plan.radii, dtype=np.int64)
        start, used, residue = self.layout.arrays()
        scan_row = COST_SCAN_ROW_BATCHED if batched else COST_SCAN_ROW
        limit = int(ABORT_AFTER_SCANS * n * scan_row / COST_ENTRY)
        weight = max(1, round(COST_VERIFY / COST_ENTRY))
        # Small chunks balance the threads; a chunk still amortises the call (~10 us) 100-fold.
        size = max(16, min(256, queries.shape[0] // (threads() * 8) or 1))
        tables = (self.words, self.state, self.entries, self.offsets, start, used, residue)
        plan_args = (radii, self.layout.rowbits, plan.probes)
        starts = range(0, queries.shape[0], size)

        def probe(lo: int) -> tuple[Any, ...]:
            chunk = slice(lo, lo + size)
            return tuple(
                kernels().probe(
                    *tables, *plan_args, queries[chunk], qnums[chunk], threshold, limit, weight
                )
            )

        # One chunk (a server's single lookup) runs in the calling thread: handing it to the
        # pool and waiting cost as much as the probe itself.
        if len(starts) == 1:
            results = [probe(0)]
        else:
            results = [f.result() for f in [pool().submit(probe, lo) for lo in starts]]
        parts: list[Hits] = []
        aborted: list[NDArray[np.int64]] = []
        for lo, (qs, rows, ds, ab) in zip(starts, results, strict=True):
            parts.append((qs, rows, ds))
            aborted.append(np.flatnonzero(ab) + lo)
        redo = np.concatenate(aborted)
        if redo.size:
            parts.append(scan_rows(self.words, self.state, queries[redo], redo, threshold))
        return concat(parts)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True)
        for name in ("words", "ids", "state", "entries", "offsets"):
            np.save(folder / f"{name}.npy", getattr(self, name))
        layout = self.layout
        meta = {
            "start": layout.start,
            "used": layout.used,
            "residue": layout.residue,
            "rowbits": layout.rowbits,
        }
        (folder / "layout.json").write_text(json.dumps(meta))

    @classmethod
    def load(cls, folder: Path, mmap: bool) -> Segment:
        meta: dict[str, Any] = json.loads((folder / "layout.json").read_text())
        layout = Layout(
            tuple(meta["start"]), tuple(meta["used"]), tuple(meta["residue"]), int(meta["rowbits"])
        )
        # Copy-on-write maps are writable to numba's eye, so they reuse the kernels compiled for
        # in-memory arrays (read-only arrays would be a second, slowly compiled specialisation).
        mode: Literal["c"] | None = "c" if mmap else None
        # Plain ndarray views of the maps: a memmap subclass costs every slice a finaliser call
        # and every kernel call a slower type dispatch, which a server pays per lookup.
        arrays = {
            name: np.asarray(np.load(folder / f"{name}.npy", mmap_mode=mode))
            for name in ("words", "ids", "entries", "offsets")
        }
        # The state is small and changes (remove, disable), so it is always read into memory.
        state = np.load(folder / "state.npy")
        return cls(
            arrays["words"], arrays["ids"], state, layout, arrays["entries"], arrays["offsets"]
        )
