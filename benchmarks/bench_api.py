"""bench_api: kaitiaki's HMA-compatible lookups against HMA itself, on the same bank and queries.

One run, loopback only, bounded: a uniform random PDQ bank (``--hashes``, seeded) goes into
HMA (from ``../shared/anchors/hma``: its own venv, a fresh PostgreSQL database, hma-bench's
``load_bank.py``, ``flask build_indices``, gunicorn with 2 workers and jemalloc) and into
kaitiaki (a fresh store: ``hashset import`` of the list, ``kaitiaki serve --workers 2``), each
served alone while ``wrk`` sends the same queries (half a banked hash with 0-20 bits flipped,
half uniform random) to ``GET /m/raw_lookup`` at a fixed concurrency. HMA is measured tuned
(``OMP_NUM_THREADS=1``) and as shipped. Then, per server: match sets for a sample of queries
against a brute-force scan at 31 bits (HMA's threshold; the kaitiaki bank is set to 31), RSS and
PSS of each worker after the load, and how soon a hash added through the API is found. Under
load, kaitiaki's bank gains 100,000 entries: the worst latency then, and when they are found.
Every process is killed, every database dropped and every temporary folder removed at the end,
on Ctrl-C or a failure too. The load generator runs on the same machine; its CPU is printed.

    uv run python benchmarks/bench_api.py [--hashes 1000000] [--duration 30] [--concurrency 8]
        [--skip-hma] [--skip-hma-as-shipped] [--kaitiaki-db postgresql://postgres@127.0.0.1/x]
        [--with-lookup] [--hma-rebuild] [--keep]

The last line reads ``throughput_vs_hma=R p99_ms=P hma_p99_ms=Q identical=true|false``
(R: kaitiaki's lookups/s over HMA tuned's).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_api_checks import (
    Visibility,
    brute_force,
    check_matches,
    hma_ids_to_rows,
    kaitiaki_ids_to_hex,
    lookup_ids,
    swap_under_load,
    time_to_visible,
)
from bench_api_servers import (
    BANK,
    Memory,
    ensure_hma_venv,
    hma_build,
    hma_database,
    hma_load,
    hma_serve,
    kaitiaki,
    kaitiaki_serve,
    kaitiaki_store,
    memory_of,
    serve_workers_supported,
    stop_group,
)
from bench_api_wrk import Load, run_load, write_script

THRESHOLD = 31  # HMA's PDQ match threshold; kaitiaki's bank is imported with the same
SEED = 20261203
# hma-bench's README: (lookups/s, p50 ms, p99 ms) and RSS per worker, measured on this kind of
# machine, raw_lookup at concurrency 8.
REFERENCE = {
    1_000_000: {"tuned": (793, 9.9, 16.6), "shipped": (307, 25.8, 37.3), "rss": "770 MB"},
    10_000_000: {"tuned": (356, 22.2, 27.1), "shipped": (180, 44.3, 57.6), "rss": "6.2 GB"},
}
TARGETS = {1_000_000: 5.0, 10_000_000: 8.0}  # kaitiaki's lookups/s over HMA tuned's


def flip_bits(rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> None:
    """Flip ``counts[i]`` random bits of ``rows[i]`` in place (a repeat flips back)."""
    most = int(counts.max(initial=0))
    pos = rng.integers(0, 256, (rows.shape[0], most))
    for c in range(most):
        sel = np.flatnonzero(counts > c)
        rows[sel, pos[sel, c] >> 3] ^= (1 << (pos[sel, c] & 7)).astype(np.uint8)


def make_data(n: int, queries: int, swap: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bank, the queries (shuffled: half near a banked hash, half random) and the hashes
    added later (one for visibility, then ``swap`` for the swap under load)."""
    rng = np.random.default_rng(SEED)
    bank = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    near = bank[rng.integers(0, n, queries // 2)].copy()
    flip_bits(near, rng.integers(0, 21, (near.shape[0],)), rng)
    far = rng.integers(0, 256, (queries - near.shape[0], 32), dtype=np.uint8)
    asked = np.concatenate([near, far])[rng.permutation(queries)]
    later = rng.integers(0, 256, (1 + swap, 32), dtype=np.uint8)
    return bank, asked, later


def to_hex(rows: np.ndarray) -> list[str]:
    return [row.tobytes().hex() for row in rows]


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def write_bank(path: Path, bank: np.ndarray) -> Path:
    """One hex hash a line, a chunk at a time (10M hashes as Python strings would take GBs)."""
    with path.open("w") as out:
        for start in range(0, bank.shape[0], 100_000):
            out.write("".join(f"{h}\n" for h in to_hex(bank[start : start + 100_000])))
    return path


def found(base: str, hex_: str, token: str | None) -> bool:
    return bool(lookup_ids(base, hex_, token))


def show_load(name: str, load: Load | None) -> str:
    if load is None:
        return f"{name:<28}{'(not run)':>10}"
    return (
        f"{name:<28}{load.rate:>10,.0f}{load.p50_ms:>9.1f}{load.p99_ms:>9.1f}{load.max_ms:>9.0f}"
        f"{load.errors:>8,}{load.cpu_share:>9.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--hashes", type=int, default=1_000_000, help="bank size")
    parser.add_argument("--queries", type=int, default=10_000, help="distinct queries, cycled")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load per run")
    parser.add_argument("--concurrency", type=int, default=8, help="open connections")
    parser.add_argument("--check", type=int, default=500, help="queries checked by brute force")
    parser.add_argument("--swap-entries", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--kaitiaki-db", help="PostgreSQL server URL (default: a SQLite file)")
    parser.add_argument(
        "--hma-visible-wait",
        type=float,
        default=35.0,
        help="seconds to wait for HMA to find a new hash (its cache reloads "
        "every 30 s; nothing rebuilds its index here but build_indices)",
    )
    parser.add_argument(
        "--hma-rebuild",
        action="store_true",
        help="after adding a hash to HMA, run its build_indices and time until lookups find it "
        "(at 10M: minutes and ~9 GB beside the serving workers)",
    )
    parser.add_argument("--skip-hma", action="store_true", help="kaitiaki only")
    parser.add_argument("--skip-hma-as-shipped", action="store_true")
    parser.add_argument("--with-lookup", action="store_true", help="also load GET /m/lookup")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    # SIGTERM unwinds like Ctrl-C: the ExitStack's callbacks stop servers and drop databases.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.monotonic()
    bank, queries, later = make_data(args.hashes, args.queries, args.swap_entries)
    query_hex, later_hex = to_hex(queries), to_hex(later)
    sample = list(range(min(args.check, len(query_hex))))
    truth = [set(to_hex(bank[brute_force(bank, queries[i], THRESHOLD)])) for i in sample]
    print(
        f"bench_api: {args.hashes:,} hashes, {args.queries:,} queries, concurrency "
        f"{args.concurrency}, {args.duration:.0f} s per run, {os.cpu_count()} CPU(s); data and "
        f"brute force in {time.monotonic() - started:.1f} s",
        flush=True,
    )
    loads: dict[str, Load | None] = {}
    memory: dict[str, Memory] = {}
    lines: list[str] = []
    identical: dict[str, bool] = {}
    seen: dict[str, Visibility] = {}
    with contextlib.ExitStack() as stack:
        if args.keep:
            work = Path(tempfile.mkdtemp(prefix="bench-api-"))
            print(f"work folder (kept): {work}")
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        queries_file = write_lines(work / "queries.txt", query_hex)

        # kaitiaki.
        (work / "kaitiaki").mkdir()
        krun = kaitiaki_store(stack, args.kaitiaki_db, work / "kaitiaki")
        listing = write_bank(work / "bank.txt", bank)
        import_s, _ = kaitiaki(
            krun,
            "hashset",
            "import",
            str(listing),
            "--name",
            BANK,
            "--format",
            "list",
            "--hex64",
            "pdq",
            "--threshold",
            str(THRESHOLD),
            "--source",
            "bench_api",
        )
        _, out = kaitiaki(
            krun, "tokens", "create", "bench-api", "--scope", "match", "--scope", "curate"
        )
        token = out.strip().splitlines()[-1].strip()
        workers = args.workers
        if workers > 1 and not serve_workers_supported(krun):
            lines.append("note: `kaitiaki serve` has no --workers yet: kaitiaki ran 1 process")
            workers = 1
        probe = to_hex(bank[:1])[0]
        proc, base, ready_s = kaitiaki_serve(stack, krun, workers, lambda b: found(b, probe, token))
        print(
            f"kaitiaki: imported in {import_s:.1f} s, serving after {ready_s:.1f} s ({base})",
            flush=True,
        )
        script = write_script(work, "kaitiaki", queries_file, "raw_lookup", token)
        loads["kaitiaki"] = run_load(
            base, script, args.duration, args.concurrency, work / "wrk-kaitiaki.log"
        )
        memory["kaitiaki"] = memory_of(proc.pid, int(base.rsplit(":", 1)[1]))
        if args.with_lookup:
            script = write_script(work, "kaitiaki-lookup", queries_file, "lookup", token)
            loads["kaitiaki /m/lookup"] = run_load(
                base, script, args.duration, args.concurrency, work / "wrk-kl.log"
            )
        answers = [lookup_ids(base, query_hex[i], token) for i in sample]
        hexes = kaitiaki_ids_to_hex(krun.url, {i for ids in answers for i in ids})
        got = [{hexes.get(i, f"?{i}") for i in ids} for ids in answers]
        identical["kaitiaki"], note = check_matches(got, truth)
        lines.append(f"kaitiaki against brute force: {note}")
        seen["kaitiaki"] = time_to_visible(base, BANK, later_hex[0], token, 120.0)
        swap = swap_under_load(
            base, krun, queries_file, token, later_hex[1:], args.concurrency, work
        )
        stop_group(proc)

        # HMA.
        if not args.skip_hma:
            hlog = work / "hma.log"
            ensure_hma_venv(hlog)
            hrun = hma_database(stack, hlog)
            np.save(work / "bank.npy", bank)
            load_s, build_s, build_rss = hma_load(hrun, work / "bank.npy", args.hashes)
            ids = np.load(work / "bank.ids.npy")
            lines.append(
                f"HMA: loaded in {load_s:.1f} s (hma-bench's load_bank.py), build_indices "
                f"{build_s:.1f} s, peak RSS {build_rss / 2**20:,.0f} MiB"
            )
            modes = [("HMA tuned (OMP_NUM_THREADS=1)", True)]
            if not args.skip_hma_as_shipped:
                modes.append(("HMA as shipped", False))
            for name, tuned in modes:
                proc, base, ready_s = hma_serve(stack, hrun, tuned, lambda b: found(b, probe, None))
                print(f"{name}: serving after {ready_s:.1f} s ({base})", flush=True)
                script = write_script(work, "hma", queries_file, "raw_lookup", None)
                loads[name] = run_load(
                    base, script, args.duration, args.concurrency, work / "wrk-hma.log"
                )
                memory[name] = memory_of(proc.pid, int(base.rsplit(":", 1)[1]))
                if tuned:
                    if args.with_lookup:
                        script = write_script(work, "hma-lookup", queries_file, "lookup", None)
                        loads["HMA tuned /m/lookup"] = run_load(
                            base, script, args.duration, args.concurrency, work / "wrk-hl.log"
                        )
                    answers = [lookup_ids(base, query_hex[i], None) for i in sample]
                    rows = hma_ids_to_rows(ids, answers)
                    got = [
                        {to_hex(bank[r : r + 1])[0] if r >= 0 else "?" for r in rs} for rs in rows
                    ]
                    identical["HMA"], note = check_matches(got, truth)
                    lines.append(f"HMA against brute force: {note}")
                    seen["HMA"] = time_to_visible(
                        base,
                        BANK,
                        later_hex[0],
                        None,
                        0.0 if args.hma_rebuild else args.hma_visible_wait,
                        (lambda: hma_build(hrun)[0]) if args.hma_rebuild else None,
                    )
                    seen["HMA"].reference_s = build_s
                stop_group(proc)

    report(args, loads, memory, lines, identical, seen, swap, import_s, workers)


def report(
    args: argparse.Namespace,
    loads: dict[str, Load | None],
    memory: dict[str, Memory],
    lines: list[str],
    identical: dict[str, bool],
    seen: dict[str, Visibility],
    swap: list[str],
    import_s: float,
    workers: int,
) -> None:
    print(
        f"\n== {args.hashes:,} hashes, GET /m/raw_lookup, {args.concurrency} connections, "
        f"{args.duration:.0f} s each; kaitiaki {workers} worker(s), HMA 2 gunicorn workers"
    )
    print(
        f"{'':<28}{'lookups/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
        f"{'wrk CPU':>9}"
    )
    for name, load in loads.items():
        print(show_load(name, load))
    print("(wrk CPU: cores' worth the load generator itself took, on the same machine)")
    ref = REFERENCE.get(args.hashes)
    if ref is not None:
        for mode in ("tuned", "shipped"):
            rate, p50, p99 = ref[mode]
            print(
                f"{'  hma-bench ' + mode:<28}{rate:>10,}{p50:>9.1f}{p99:>9.1f}"
                f"   (README; RSS per worker {ref['rss']})"
            )
    k = loads.get("kaitiaki")
    h = loads.get("HMA tuned (OMP_NUM_THREADS=1)")
    s = loads.get("HMA as shipped")
    ratio = k.rate / h.rate if k and h and h.rate else float("nan")
    target = TARGETS.get(args.hashes)
    if k and h:
        print(
            f"\nthroughput kaitiaki / HMA tuned: {ratio:.2f}x"
            + (f" (target >= {target:.0f}x)" if target else "")
        )
    if k and s and s.rate:
        print(f"throughput kaitiaki / HMA as shipped: {k.rate / s.rate:.2f}x")
    if k and h:
        print(f"p99 kaitiaki / HMA tuned: {k.p99_ms / h.p99_ms:.2f} (target <= 0.5)")
    print("\nmemory after the load:")
    for name, mem in memory.items():
        print(f"  {name}: {mem.line()}")
    km, hm = memory.get("kaitiaki"), memory.get("HMA tuned (OMP_NUM_THREADS=1)")
    if km and hm and hm.total_pss:
        print(
            f"  kaitiaki / HMA tuned, whole tree PSS: {km.total_pss / hm.total_pss:.3f} "
            "(target at 10M: <= 0.1)"
        )
    print(f"\nkaitiaki: hashset import {import_s:.1f} s (index built on first lookup)")
    for line in lines:
        print(line)
    print("\nbank change visible in lookups (one hash added through POST /c/bank/BENCH/signal):")
    for name, vis in seen.items():
        print(f"  {name}: {vis.line()}")
    kv, hv = seen.get("kaitiaki"), seen.get("HMA")
    if kv and hv and kv.stable_s and hv.reference_s:
        best = hv.stable_s or hv.reference_s
        print(
            f"  HMA ({'seen' if hv.stable_s else 'build_indices'} {best:.1f} s) / kaitiaki: "
            f"{best / kv.stable_s:,.0f}x sooner (target >= 50x)"
        )
    print("\nswap under load (kaitiaki):")
    for line in swap:
        print(f"  {line}")
    ok = bool(identical) and all(identical.values())
    print(
        f"\nidentical match sets (each server against brute force at {THRESHOLD} bits, "
        f"{min(args.check, args.queries)} queries): {', '.join(identical)} -> {ok}"
    )
    p99 = k.p99_ms if k else float("nan")
    hp99 = h.p99_ms if h else float("nan")
    print(
        f"throughput_vs_hma={ratio:.2f} p99_ms={p99:.1f} hma_p99_ms={hp99:.1f} "
        f"identical={'true' if ok else 'false'}"
    )


if __name__ == "__main__":
    main()
