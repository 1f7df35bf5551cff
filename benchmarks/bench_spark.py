"""bench_spark: the whole access-record analysis on DuckDB and on Spark local[1] / local[2].

For each --events size, a simulated operation (``simulate_operation``, Parquet records; cached
under --data, since 50 million events take minutes to generate) is analysed end to end by
``analyse_operation`` (ingest, match, geolocate, flagged accounts, resolve, attribute, store)
three times, each in its own process so that memory and the JVM are its own:

  duckdb      the embedded engine (the reference)
  spark[1]    --engine spark, master local[1]
  spark[2]    --engine spark, master local[2]

Printed: wall time per stage and in all, peak resident memory of the run's process tree (Python
+ JVM), the scaling factor spark[1] / spark[2] (2.0 would be perfect), and the ratio to DuckDB.
Each run's flagged_accounts.csv and subjects.csv are compared with DuckDB's: a run that differs
is reported, since a fast wrong answer is no answer.

The crossover estimate: each engine's time is fitted as t(n) = fixed + n * per_event from the two
largest sizes. Spark on C cores is estimated as fixed_spark + n * per_event_spark[1] / (C * e),
where e (parallel efficiency) is the measured scaling factor / 2. It prints the event count where
Spark on C cores overtakes DuckDB on this machine, and estimates for 1 and 10 billion events.
These are extrapolations from one machine; cluster shuffles and storage add time.

    uv run python benchmarks/bench_spark.py [--events 10000000 50000000] [--cores 64 256]
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

RUNS = {"duckdb": None, "spark[1]": "local[1]", "spark[2]": "local[2]"}


def dataset(root: Path, events: int) -> Path:
    """The simulated operation for ``events`` (generated once, then reused)."""
    from kaitiaki.simulate.operation import simulate_operation

    folder = root / f"operation-{events}"
    if (folder / "ground_truth.json").exists() and (folder / "records.parquet").exists():
        return folder
    accounts = max(10_000, min(1_000_000, events // 50))
    started = time.perf_counter()
    simulate_operation(
        folder,
        accounts=accounts,
        flagged_accounts=max(500, accounts * 9 // 100),
        events=events,
        seed=8,
        formats=("parquet",),
    )
    print(f"generated {events:,} events in {time.perf_counter() - started:.0f} s -> {folder}")
    return folder


def child(sim: Path, out: Path, engine: str, master: str | None) -> None:
    """One analysis (run in its own process); prints its stage times as JSON."""
    from kaitiaki.engines.spark_session import SparkSettings
    from kaitiaki.hashsets import import_hash_set
    from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation
    from kaitiaki.store import open_store

    store = open_store(f"sqlite:///{out / 'k.db'}")
    import_hash_set(store, sim / "hashset.json", "operation-set", "vics")
    marks: list[tuple[str, float]] = []
    started = time.perf_counter()
    options = AnalysisOptions(
        engine=engine,  # type: ignore[arg-type]
        spark=SparkSettings(master=master, driver_memory="6g") if master else None,
    )
    if master:  # the JVM start belongs to the Spark run's time
        from kaitiaki.engines.spark_session import spark_session

        spark_session(options.spark)
    analyse_operation(
        store,
        [sim / "records.parquet"],
        sim / "accounts.csv",
        sim / "catalog.csv",
        out / "results",
        options,
        step=lambda text: marks.append((text, time.perf_counter())),
        actor="bench",
    )
    ended = time.perf_counter()
    stages: dict[str, float] = {}
    name, since = "start (JVM for Spark)", started
    for text, when in marks:
        stages[name] = when - since
        name, since = text, when
    stages[name] = ended - since
    print("RESULT " + json.dumps({"seconds": ended - started, "stages": stages}))


def run(sim: Path, work: Path, name: str, master: str | None) -> dict[str, Any]:
    out = work / name.replace("[", "-").replace("]", "")
    out.mkdir(parents=True, exist_ok=True)
    engine = "spark" if master else "duckdb"
    command = [sys.executable, __file__, "--child", str(sim), str(out), engine, master or ""]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not stop.wait(0.5):
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    stdout, _ = proc.communicate()
    stop.set()
    watcher.join()
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode})")
    line = next(x for x in stdout.splitlines() if x.startswith("RESULT "))
    found: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    found["peak_gb"] = peak / 2**30
    found["out"] = out / "results"
    return found


def same_results(a: Path, b: Path) -> bool:
    return all(
        filecmp.cmp(a / f, b / f, shallow=False)
        for f in ("flagged_accounts.csv", "subjects.csv", "links.csv", "rejects.csv")
    )


def fit(points: list[tuple[int, float]]) -> tuple[float, float]:
    """(fixed seconds, seconds per event) through the two largest sizes."""
    (n0, t0), (n1, t1) = sorted(points)[-2:]
    per = (t1 - t0) / (n1 - n0) if n1 != n0 else t1 / n1
    return max(0.0, t1 - per * n1), max(per, 1e-12)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        folder, out, engine, master = sys.argv[2:6]
        child(Path(folder), Path(out), engine, master or None)
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, nargs="+", default=[10_000_000, 50_000_000])
    parser.add_argument("--cores", type=int, nargs="+", default=[64, 256])
    parser.add_argument(
        "--data", type=Path, default=Path(tempfile.gettempdir()) / "kaitiaki-bench-spark"
    )
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    table: dict[int, dict[str, dict[str, Any]]] = {}
    for events in args.events:
        sim = dataset(args.data, events)
        with tempfile.TemporaryDirectory(dir=args.data) as scratch:
            table[events] = {name: run(sim, Path(scratch), name, m) for name, m in RUNS.items()}
            for name in ("spark[1]", "spark[2]"):
                table[events][name]["same"] = same_results(
                    table[events][name]["out"], table[events]["duckdb"]["out"]
                )
        rows = table[events]
        print(f"\n{events:,} events")
        stages = list(dict.fromkeys(s for r in rows.values() for s in r["stages"]))
        print(f"  {'stage':44}" + "".join(f"{n:>11}" for n in rows))
        for stage in stages:
            cells = "".join(f"{rows[n]['stages'].get(stage, 0.0):>10.1f}s" for n in rows)
            print(f"  {stage[:44]:44}{cells}")
        print(f"  {'total':44}" + "".join(f"{rows[n]['seconds']:>10.1f}s" for n in rows))
        peaks = "".join(f"{rows[n]['peak_gb']:>9.2f}GB" for n in rows)
        print(f"  {'peak RSS (process tree)':44}{peaks}")
        scaling = rows["spark[1]"]["seconds"] / rows["spark[2]"]["seconds"]
        print(
            f"  scaling local[1] -> local[2]: {scaling:.2f}x;"
            f" spark[2] / duckdb: {rows['spark[2]']['seconds'] / rows['duckdb']['seconds']:.2f}x;"
            f" same results as duckdb: {rows['spark[1]']['same'] and rows['spark[2]']['same']}"
        )

    sizes = sorted(table)
    duck = fit([(n, table[n]["duckdb"]["seconds"]) for n in sizes])
    spark1 = fit([(n, table[n]["spark[1]"]["seconds"]) for n in sizes])
    largest = table[sizes[-1]]
    efficiency = min(1.0, largest["spark[1]"]["seconds"] / largest["spark[2]"]["seconds"] / 2)
    print(
        f"\nfit: duckdb {duck[0]:.1f} s + {duck[1] * 1e9:.1f} s per billion events;"
        f" spark local[1] {spark1[0]:.1f} s + {spark1[1] * 1e9:.1f} s per billion;"
        f" parallel efficiency {efficiency:.2f}"
    )
    for cores in args.cores:
        per = spark1[1] / (cores * efficiency)
        crossover = (spark1[0] - duck[0]) / (duck[1] - per) if duck[1] > per else float("inf")
        estimates = ", ".join(
            f"{n / 1e9:.0f}B events: spark {spark1[0] + per * n:,.0f} s"
            f" vs duckdb {duck[0] + duck[1] * n:,.0f} s (if one machine holds it)"
            for n in (1_000_000_000, 10_000_000_000)
        )
        print(f"  {cores} cores: crossover at ~{crossover:,.0f} events; {estimates}")
    print(
        "summary: "
        + " ".join(
            f"{n}:duckdb={table[n]['duckdb']['seconds']:.1f}s,"
            f"spark1={table[n]['spark[1]']['seconds']:.1f}s,"
            f"spark2={table[n]['spark[2]']['seconds']:.1f}s"
            for n in sizes
        )
    )


if __name__ == "__main__":
    main()
