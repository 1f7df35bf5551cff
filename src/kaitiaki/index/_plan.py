"""How a segment of the index is laid out, and how a query at a given threshold uses it.

Why the answer is exact
-----------------------
The 256 bits are cut into ``m`` substrings (tables). If a stored hash ``x`` is within ``t`` of
the query ``q`` and every table ``j`` is given a radius ``r_j`` (``-1`` meaning "not probed")
with ``sum(r_j + 1) >= t + 1``, then some table has ``d_j(x, q) <= r_j``: otherwise
``d(x, q) >= sum(r_j + 1) > t``. (With equal radii this is the classic pigeonhole rule of
multi-index hashing; unequal radii let a threshold use exactly the probes it needs: at t = 0
one table with radius 0 suffices.) A table looks at only the first ``used`` bits of its
substring, which weakens its filter but not the guarantee: ``d`` on a subset of the bits is no
larger than on the whole substring.

Each table is a counting-sorted bucket array (CSR) keyed by its top ``coarse`` bits; an entry
packs the table's next ``residue`` bits above the row number, so most non-matching entries are
rejected from the entry itself, without touching the stored hash.

Choosing by measurement
-----------------------
The costs below are nanoseconds per event, fitted by least squares on this project's
benchmark machine (2-core AMD EPYC, 10 million random hashes; ``benchmarks/bench_index.py
--calibrate`` refits them) to the single-thread time per query of ten layouts, which the fit
then predicts within ~15%. A bucket visit and a candidate hash
are random accesses into hundreds of megabytes, an entry mostly a sequential read. The
planner uses them to pick the layout at build time and, per threshold, the radii or a plain
scan when the scan costs less (small segments, thresholds far above 31).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil, comb, log2

import numpy as np
from numpy.typing import NDArray

HASH_BITS = 256
# Nanoseconds, see the module docstring.
COST_BUCKET = 37.6
COST_ENTRY = 3.5
COST_VERIFY = 14.4
# A scan reads rows in place for one or two queries, word-major blocks for more (see ``scan``).
COST_SCAN_ROW = 2.25
COST_SCAN_ROW_BATCHED = 0.32
# Bytes per stored hash: 32 for the hash, 8 for its id, 1 for its state.
BASE_BYTES = 41
MAX_BYTES_PER_HASH = 96.0
SMALL_BYTES = 1 << 20


def within(bits: int, radius: int) -> int:
    """How many keys of ``bits`` bits lie within ``radius`` of a given one."""
    return sum(comb(bits, k) for k in range(min(radius, bits) + 1)) if radius >= 0 else 0


@dataclass(frozen=True, slots=True)
class Layout:
    """The tables of one segment: table ``j`` reads ``used[j]`` bits from bit ``start[j]``,
    the top ``used[j] - residue[j]`` of which select its bucket."""

    start: tuple[int, ...]
    used: tuple[int, ...]
    residue: tuple[int, ...]
    rowbits: int

    @property
    def tables(self) -> int:
        return len(self.start)

    def coarse(self, j: int) -> int:
        return self.used[j] - self.residue[j]

    def bytes_per_hash(self, n: int) -> float:
        offsets = sum(4 * ((1 << self.coarse(j)) + 1) for j in range(self.tables))
        return BASE_BYTES + 4 * self.tables + offsets / max(n, 1)

    def arrays(self) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
        return (
            np.asarray(self.start, dtype=np.int64),
            np.asarray(self.used, dtype=np.int64),
            np.asarray(self.residue, dtype=np.int64),
        )


def rowbits_for(n: int) -> int:
    return max(1, ceil(log2(max(n, 2))))


def make_layout(n: int, tables: int, coarse: int) -> Layout:
    rowbits = rowbits_for(n)
    sizes = [HASH_BITS // tables + (1 if j < HASH_BITS % tables else 0) for j in range(tables)]
    # One coarse width for all tables, so that their bucket offsets stack into one array.
    c = min(coarse, min(sizes))
    start, used, residue = [], [], []
    pos = 0
    for size in sizes:
        res = max(0, min(size - c, 32 - rowbits, 32 - c))
        start.append(pos)
        used.append(c + res)
        residue.append(res)
        pos += size
    return Layout(tuple(start), tuple(used), tuple(residue), rowbits)


def _table_cost(n: int, coarse: int, used: int, radius: int) -> float:
    """Expected nanoseconds for one table at ``radius`` over ``n`` random hashes."""
    if radius < 0:
        return 0.0
    buckets = within(coarse, radius)
    entries = buckets * n / 2.0**coarse
    cands = sum(
        comb(coarse, k) * within(used - coarse, radius - k) for k in range(min(radius, coarse) + 1)
    )
    return COST_BUCKET * buckets + COST_ENTRY * entries + COST_VERIFY * cands * n / 2.0**used


@dataclass(frozen=True, slots=True)
class Plan:
    """How a segment answers one threshold: by table radii, or by scan when ``radii`` is None."""

    radii: tuple[int, ...] | None
    cost_ns: float
    scan_ns: float
    probes: int


@lru_cache(maxsize=1024)
def plan_query(
    layout: Layout, n: int, threshold: int, batched: bool = True, allow_scan: bool = True
) -> Plan:
    """Radii with ``sum(r + 1) == threshold + 1`` chosen greedily by marginal cost; the table
    costs are convex in the radius, so adding one unit at a time to the cheapest is optimal.
    Without ``allow_scan`` the tables are used whatever they cost (for tests and measuring)."""
    scan_ns = (COST_SCAN_ROW_BATCHED if batched else COST_SCAN_ROW) * n
    if not allow_scan:
        scan_ns = float("inf")
    m = layout.tables
    radii = [-1] * m
    cost = [0.0] * m
    for _ in range(threshold + 1):
        best, best_delta = -1, float("inf")
        for j in range(m):
            if radii[j] + 1 > layout.used[j]:
                continue
            delta = _table_cost(n, layout.coarse(j), layout.used[j], radii[j] + 1) - cost[j]
            if delta < best_delta:
                best, best_delta = j, delta
        if best < 0 or sum(cost) + best_delta > scan_ns:
            return Plan(None, float("inf"), scan_ns, 0)
        radii[best] += 1
        cost[best] += best_delta
    probes = sum(within(layout.coarse(j), radii[j]) for j in range(m))
    return Plan(tuple(radii), sum(cost), scan_ns, probes)


def choose_layout(n: int, threshold: int = 31, max_bytes: float = MAX_BYTES_PER_HASH) -> Layout:
    """The layout with the lowest modelled query cost at ``threshold`` within ``max_bytes``."""
    best: tuple[float, Layout] | None = None
    top = max(1, min(24, rowbits_for(n)))
    for tables in range(8, 17):
        for coarse in range(max(1, top - 10), top + 1):
            layout = make_layout(n, tables, coarse)
            # Tiny segments may spend up to SMALL_BYTES whatever their size per hash.
            if layout.bytes_per_hash(n) * n > max(max_bytes * n, SMALL_BYTES):
                continue
            # Ranked by the tables' cost even where a scan is cheaper at ``threshold``: the
            # layout also serves lower thresholds, for which the tables may win.
            cost = plan_query(layout, n, threshold, allow_scan=False).cost_ns
            if best is None or cost < best[0]:
                best = (cost, layout)
    assert best is not None
    return best[1]
