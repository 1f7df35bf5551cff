"""bench_index: kaitiaki's exact PDQ range index against FAISS, on hashes shaped like real ones.

Data: N hashes, 81.8% uniform random, 18% clusters of near duplicates (each member 0-40 bits
from its cluster's centre, clusters of 1 to 5,000), 0.2% low-entropy (all-zero, mostly-zero,
mostly-one; real sets drop most of these as PDQ quality < 50, and each query near them matches
thousands). Queries: half are a stored hash with 0-31 bits flipped (at least one true match),
half uniform random.

Engines, all on every core of the machine, radius 31 (FAISS returns distances < radius, so it
is given 32):
  kaitiaki         ``PdqIndex`` (multi-index tables, compiled kernels)
  faiss-flat       ``IndexBinaryFlat.range_search``: the exhaustive scan HMA falls back on
  faiss-multihash  ``IndexBinaryMultiHash`` with 16 tables of 16 bits and nflip 1, as HMA uses

The ground truth is ``kaitiaki.index.brute_force`` (an exhaustive scan, cross-checked against
faiss-flat on the subset faiss-flat runs). Slow engines run a query subset; their queries/s are
measured on it and said so.

    uv run python benchmarks/bench_index.py [--hashes 10000000] [--queries 10000]
        [--scaling 1000000,50000000] [--truth-queries N] [--flat-queries 200]
        [--multi-queries 1000]
    uv run python benchmarks/bench_index.py --calibrate [--hashes 10000000]

``--calibrate`` refits the index planner's costs on this machine (see ``kaitiaki.index._plan``):
it times single-threaded queries through ten table layouts, counts the buckets, entries and
candidate hashes each visits, fits nanoseconds per event by least squares, and times the scan.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
from numba import njit

from kaitiaki.index import PdqIndex, RangeResult, _kernels, _plan, brute_force
from kaitiaki.index._segment import Segment

THRESHOLD = 31
BYTES = 32


def flip_bits(rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> None:
    """Flip ``counts[i]`` random bits of ``rows[i]`` in place (a repeated position flips back,
    so a row moves at most ``counts[i]`` bits)."""
    most = int(counts.max(initial=0))
    pos = rng.integers(0, 256, (rows.shape[0], most))
    for c in range(most):
        sel = np.flatnonzero(counts > c)
        rows[sel, pos[sel, c] >> 3] ^= (1 << (pos[sel, c] & 7)).astype(np.uint8)


def make_hashes(n: int, rng: np.random.Generator) -> np.ndarray:
    hashes = rng.integers(0, 256, (n, BYTES), dtype=np.uint8)
    n_low = n // 500
    n_clustered = n * 18 // 100
    # Clusters: sizes from a heavy tail, capped at 5,000 (a family of thousands).
    sizes = np.minimum(rng.zipf(1.6, n_clustered), 5000)
    sizes = sizes[np.cumsum(sizes) <= n_clustered]
    start = n - n_low - int(sizes.sum())
    centres = np.repeat(np.arange(sizes.shape[0]), sizes)
    members = hashes[start + np.arange(sizes.shape[0])][centres]
    flip_bits(members, rng.integers(0, 41, members.shape[0]), rng)
    hashes[start : start + members.shape[0]] = members
    # Low entropy: exact zeros, then hashes with few bits set, then few bits clear.
    low = np.zeros((n_low, BYTES), dtype=np.uint8)
    flip_bits(low, rng.integers(0, 17, n_low) * (np.arange(n_low) >= n_low // 20), rng)
    low[n_low * 3 // 4 :] ^= 0xFF
    hashes[n - n_low :] = low
    return hashes[rng.permutation(n)]


def make_queries(hashes: np.ndarray, q: int, rng: np.random.Generator) -> np.ndarray:
    queries = rng.integers(0, 256, (q, BYTES), dtype=np.uint8)
    near = hashes[rng.integers(0, hashes.shape[0], q // 2)]
    flip_bits(near, rng.integers(0, THRESHOLD + 1, near.shape[0]), rng)
    queries[: q // 2] = near
    return queries[rng.permutation(q)]


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def pairs(result: RangeResult) -> set[tuple[int, int, int]]:
    return set(
        zip(result.query.tolist(), result.ids.tolist(), result.distance.tolist(), strict=True)
    )


def recall(found: RangeResult, truth: RangeResult) -> float:
    want = pairs(truth)
    return 1.0 if not want else len(pairs(found) & want) / len(want)


def faiss_result(lims: np.ndarray, dist: np.ndarray, ids: np.ndarray) -> RangeResult:
    query = np.repeat(np.arange(lims.shape[0] - 1, dtype=np.int64), np.diff(lims).astype(np.int64))
    return RangeResult.sorted(query, ids.astype(np.int64), dist.astype(np.int32))


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def run_kaitiaki(hashes: np.ndarray, queries: np.ndarray, ids: np.ndarray) -> dict[str, Any]:
    gc.collect()
    before = rss()
    index, build_s = timed(lambda: PdqIndex.build(hashes, ids))
    held = rss() - before
    result, query_s = timed(lambda: index.query(queries, THRESHOLD))
    layout = index._segments[0].layout
    return {
        "index": index,
        "result": result,
        "build_s": build_s,
        "qps": queries.shape[0] / query_s,
        "bytes_per_hash": index.nbytes / hashes.shape[0],
        "rss_per_hash": held / hashes.shape[0],
        "layout": f"{layout.tables} tables, {layout.coarse(0)}-bit buckets, "
        f"{layout.residue[-1]}-{layout.residue[0]} residue bits",
    }


def run_faiss_flat(hashes: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    import faiss

    index = faiss.IndexBinaryFlat(8 * BYTES)
    _, build_s = timed(lambda: index.add(hashes))
    (lims, dist, ids), query_s = timed(lambda: index.range_search(queries, THRESHOLD + 1))
    return {
        "result": faiss_result(lims, dist, ids),
        "build_s": build_s,
        "qps": queries.shape[0] / query_s,
        "bytes_per_hash": float(BYTES),
    }


def run_faiss_multihash(hashes: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    import faiss

    gc.collect()
    before = rss()
    index = faiss.IndexBinaryMultiHash(8 * BYTES, 16, 16)
    index.nflip = 1
    _, build_s = timed(lambda: index.add(hashes))
    held = rss() - before
    (lims, dist, ids), query_s = timed(lambda: index.range_search(queries, THRESHOLD + 1))
    return {
        "result": faiss_result(lims, dist, ids),
        "build_s": build_s,
        "qps": queries.shape[0] / query_s,
        "bytes_per_hash": held / hashes.shape[0],
    }


def subset_truth(result: RangeResult, keep: np.ndarray) -> RangeResult:
    """``result`` restricted to the query numbers ``keep`` (sorted), renumbered 0..len(keep)."""
    sel = np.isin(result.query, keep)
    return RangeResult(
        np.searchsorted(keep, result.query[sel]), result.ids[sel], result.distance[sel]
    )


def load_times(index: PdqIndex, queries: np.ndarray) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        _, save_s = timed(lambda: index.save(folder / "index"))
        t0 = time.perf_counter()
        mapped = PdqIndex.load(folder / "index", mmap=True)
        mmap_s = time.perf_counter() - t0
        mapped.query(queries, THRESHOLD)
        first_s = time.perf_counter() - t0 - mmap_s
        del mapped
        _, read_s = timed(lambda: PdqIndex.load(folder / "index", mmap=False))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return {"save_s": save_s, "mmap_s": mmap_s, "first_query_s": first_s, "read_s": read_s}


def warm_up() -> float:
    """Compile (or load from numba's cache) every kernel on a tiny index; not counted later."""
    rng = np.random.default_rng(0)
    tiny = rng.integers(0, 256, (300_000, BYTES), dtype=np.uint8)
    t0 = time.perf_counter()
    index = PdqIndex.build(tiny[:1000], np.arange(1000))
    index.add(tiny, np.arange(tiny.shape[0]))
    index.query(tiny[:50], THRESHOLD)
    index.query(tiny[:50], THRESHOLD, method="scan")
    brute_force(tiny[:10], tiny[:5], THRESHOLD)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hashes", type=int, default=10_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--flat-queries", type=int, default=200, help="faiss-flat query subset")
    parser.add_argument(
        "--multi-queries", type=int, default=1000, help="faiss-multihash query subset"
    )
    parser.add_argument(
        "--truth-queries", type=int, default=0, help="brute-force subset (0: all queries)"
    )
    parser.add_argument(
        "--scaling", default="1000000,50000000", help="extra sizes for the scaling curve ('' none)"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--calibrate", action="store_true", help="refit the planner's costs")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    if args.calibrate:
        warm_up()
        calibrate(args.hashes, min(args.queries, 2000), rng)
        return
    print(f"cores={os.cpu_count()} memory={psutil.virtual_memory().total / 2**30:.1f} GiB")
    print(f"numba compile / cache load on first use: {warm_up():.1f} s (not counted below)")

    hashes, gen_s = timed(lambda: make_hashes(args.hashes, rng))
    queries = make_queries(hashes, args.queries, rng)
    ids = np.arange(args.hashes, dtype=np.int64)
    print(f"\n== {args.hashes:,} hashes, {args.queries:,} queries (generated in {gen_s:.1f} s)")

    k = run_kaitiaki(hashes, queries, ids)
    print(f"kaitiaki layout: {k['layout']}; {k['index'].segments} segment(s)")
    n_truth = args.truth_queries or args.queries
    truth_q = np.sort(rng.choice(args.queries, n_truth, replace=False))
    truth, truth_s = timed(lambda: brute_force(hashes, queries[truth_q], THRESHOLD))
    note = "all queries" if n_truth == args.queries else f"a subset of {n_truth:,} queries"
    print(f"ground truth: brute force over {note} in {truth_s:.1f} s, {len(truth):,} matches")
    k_recall = recall(subset_truth(k["result"], truth_q), truth)

    flat_q = truth_q[: args.flat_queries]
    flat = run_faiss_flat(hashes, queries[flat_q])
    flat_truth = subset_truth(truth, np.arange(flat_q.shape[0]))
    flat_recall = recall(flat["result"], flat_truth)
    print(f"faiss-flat vs brute force on its {flat_q.shape[0]} queries: recall {flat_recall:.4f}")
    multi_q = truth_q[: args.multi_queries]
    multi = run_faiss_multihash(hashes, queries[multi_q])
    multi_recall = recall(multi["result"], subset_truth(truth, np.arange(multi_q.shape[0])))

    loads = load_times(k["index"], queries)
    rows = [
        ("kaitiaki", k["qps"], k_recall, k["build_s"], k["bytes_per_hash"], args.queries),
        ("faiss-flat", flat["qps"], flat_recall, flat["build_s"], BYTES, flat_q.shape[0]),
        ("faiss-multihash", multi["qps"], multi_recall, multi["build_s"],
         multi["bytes_per_hash"], multi_q.shape[0]),
    ]  # fmt: skip
    head = ("engine", "queries/s", "recall", "build s", "B/hash", "timed on")
    print("\n{:16} {:>10} {:>7} {:>8} {:>7} {:>9}".format(*head))
    for name, qps, rec, build_s, bph, timed_on in rows:
        print(f"{name:16} {qps:10.0f} {rec:7.4f} {build_s:8.1f} {bph:7.1f} {timed_on:9,}")
    print(
        f"kaitiaki memory: {k['bytes_per_hash']:.1f} B/hash in its arrays, "
        f"{k['rss_per_hash']:.1f} B/hash RSS growth while building; faiss-multihash B/hash is "
        f"its RSS growth; faiss-flat holds the raw 32"
    )
    print(
        f"kaitiaki save {loads['save_s']:.1f} s; load mmap {loads['mmap_s']:.3f} s "
        f"(first full query batch after it {loads['first_query_s']:.2f} s); "
        f"load into memory {loads['read_s']:.2f} s"
    )
    speedup = k["qps"] / flat["qps"]
    scaling = [(args.hashes, k["qps"], flat["qps"], k["build_s"], k["bytes_per_hash"])]
    del k, multi, truth
    gc.collect()
    for size in [int(s) for s in args.scaling.split(",") if s]:
        scaling.append(scale_point(size, args.queries, args.flat_queries, rng))
    print(f"\n{'hashes':>12} {'kaitiaki q/s':>13} {'faiss-flat q/s':>15} {'speedup':>8} "
          f"{'build s':>8} {'B/hash':>7}")  # fmt: skip
    for size, kq, fq, bs, bph in sorted(scaling):
        print(f"{size:12,} {kq:13.0f} {fq:15.1f} {kq / fq:8.1f} {bs:8.1f} {bph:7.1f}")
    print(
        f"speedup_vs_faiss_flat={speedup:.1f} recall={k_recall:.4f} qps={rows[0][1]:.0f} "
        f"bytes_per_hash={rows[0][4]:.1f}"
    )


def scale_point(
    size: int, n_queries: int, flat_queries: int, rng: np.random.Generator
) -> tuple[int, float, float, float, float]:
    """kaitiaki and faiss-flat queries/s at ``size`` hashes; exactness spot-checked."""
    need = size * (BYTES + 100)
    if need > psutil.virtual_memory().available * 0.8:
        print(f"\n== {size:,} hashes: skipped, needs ~{need / 2**30:.1f} GiB")
        return (size, float("nan"), float("nan"), float("nan"), float("nan"))
    hashes = make_hashes(size, rng)
    queries = make_queries(hashes, n_queries, rng)
    k = run_kaitiaki(hashes, queries, np.arange(size, dtype=np.int64))
    check = np.arange(min(flat_queries, n_queries))
    flat = run_faiss_flat(hashes, queries[check])
    rec = recall(subset_truth(k["result"], check), flat["result"])
    print(f"\n== {size:,} hashes: kaitiaki recall {rec:.4f} vs faiss-flat on {check.size} queries")
    out = (size, k["qps"], flat["qps"], k["build_s"], k["bytes_per_hash"])
    del k, hashes
    gc.collect()
    return out


@njit(cache=False)
def count_events(seg_args: Any, radii: np.ndarray, queries: np.ndarray) -> tuple[int, int, int]:
    """Buckets, entries and candidate hashes the tables visit for ``queries`` (as ``probe``)."""
    entries, offsets, tstart, tbits, tres, rowbits = seg_args
    buckets = seen = cands = 0
    for qi in range(queries.shape[0]):
        for j in range(tstart.shape[0]):
            r = radii[j]
            if r < 0:
                continue
            key = _kernels.extract_one(queries[qi], tstart[j], tbits[j])
            e = tres[j]
            c = tbits[j] - e
            qc = np.int64(key >> np.uint64(e))
            qr = np.uint32(key & ((np.uint64(1) << np.uint64(e)) - np.uint64(1)))
            for k in range(min(r, c) + 1):
                mask = (1 << k) - 1
                while mask < (1 << c):
                    lo, hi = offsets[j, qc ^ mask], offsets[j, (qc ^ mask) + 1]
                    buckets += 1
                    seen += hi - lo
                    for p in range(lo, hi):
                        ev = entries[j, p]
                        cands += _kernels.popcount((ev >> np.uint32(rowbits)) ^ qr) <= r - k
                    if k == 0:
                        break
                    u = mask & -mask
                    v = mask + u
                    mask = v + (((v ^ mask) // u) >> 2)
    return buckets, seen, cands


def cpu_time(fn: Callable[[], Any], repeat: int = 3) -> float:
    """Best thread CPU time of ``fn``: other processes on the machine do not inflate it."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t0)
    return best


def calibrate(n: int, n_queries: int, rng: np.random.Generator) -> None:
    hashes = rng.integers(0, 256, (n, BYTES), dtype=np.uint8)
    queries = make_queries(hashes, n_queries, rng)
    index = PdqIndex()
    words, qwords = index._permute(hashes), index._permute(queries)
    qnums = np.arange(n_queries, dtype=np.int64)
    state = np.zeros(n, dtype=np.uint8)
    top = _plan.rowbits_for(n) - 3
    layouts = {
        _plan.make_layout(n, m, c) for m in (10, 11, 12, 13) for c in (top - 2, top - 1, top)
    }
    rows, times = [], []
    print(f"calibrating on {n:,} random hashes, {n_queries:,} queries, one thread")
    for layout in sorted(layouts, key=lambda lay: (lay.tables, lay.coarse(0))):
        m = layout.tables
        seg = Segment.build(words, np.arange(n), state, layout)
        plan = _plan.plan_query(layout, n, THRESHOLD, allow_scan=False)
        assert plan.radii is not None
        radii = np.asarray(plan.radii, dtype=np.int64)
        tables = (seg.words, seg.state, seg.entries, seg.offsets, *layout.arrays())
        args = (*tables, radii, layout.rowbits, plan.probes, qwords, qnums, THRESHOLD, 1 << 62, 3)
        _kernels.probe(*args)
        spent = cpu_time(lambda args=args: _kernels.probe(*args)) / n_queries * 1e9
        counts = count_events((seg.entries, seg.offsets, *layout.arrays(), layout.rowbits),
                              radii, qwords)  # fmt: skip
        rows.append([x / n_queries for x in counts])
        times.append(spent)
        print(f"  {m} tables, {layout.coarse(0)}-bit buckets: {spent / 1000:7.1f} us/query, "
              f"model {plan.cost_ns / 1000:7.1f}; buckets, entries, candidates per query "
              + ", ".join(f"{x / n_queries:.0f}" for x in counts))  # fmt: skip
        del seg
    fit = np.linalg.lstsq(np.asarray(rows), np.asarray(times), rcond=None)[0]
    print(f"fitted ns: COST_BUCKET={fit[0]:.1f} COST_ENTRY={fit[1]:.1f} COST_VERIFY={fit[2]:.1f}")
    span = min(n, 2_000_000)
    for nq, name in ((1, "COST_SCAN_ROW"), (64, "COST_SCAN_ROW_BATCHED")):
        scan_args = (words, state, 0, span, qwords[:nq], qnums[:nq], THRESHOLD)
        ns = cpu_time(lambda a=scan_args: _kernels.scan(*a))
        print(f"measured ns: {name}={ns / nq / span * 1e9:.2f}")
    print(
        f"in use: COST_BUCKET={_plan.COST_BUCKET} COST_ENTRY={_plan.COST_ENTRY} "
        f"COST_VERIFY={_plan.COST_VERIFY} COST_SCAN_ROW={_plan.COST_SCAN_ROW} "
        f"COST_SCAN_ROW_BATCHED={_plan.COST_SCAN_ROW_BATCHED}"
    )


if __name__ == "__main__":
    main()
