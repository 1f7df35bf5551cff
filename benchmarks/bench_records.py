"""bench_records: access-record ingest and the flagged-account analysis at the model case's scale.

Generates its own provider export (no real data): --events simulated access events (default 50
million) over --accounts accounts, 5% of objects flagged and ~90,000 "offender" accounts that
touch them, ~0.1% exact duplicate rows, IPv4 and IPv6 (some in non-canonical spelling). Then,
each step in its own process (so each peak resident set is its own):

  ingest-parquet  ``ingest_records`` of the whole export as typed Parquet -> rows/s
  ingest-csv      ``ingest_records`` of the first --csv-events rows as CSV with ISO 8601 text
                  timestamps (the slower, more common provider format) -> rows/s
  kaitiaki        ``DuckDBEngine.flagged_accounts`` over the ingested Parquet
  handwritten     the same answer as one DuckDB SQL query written by hand over the same files:
                  the practical limit (target: kaitiaki within 1.3x)
  pandas          read the needed columns, isin + groupby + merges, under a memory cap
                  (--pandas-mem-gb, RLIMIT_AS); an out-of-memory end is reported as such

Analyses run --repeat times each; the best time counts. The last line sums it up:
  ingest_rows_per_s=X analysis_s=Y handwritten_s=Z ratio=R pandas_s=P peak_gb=G
(peak_gb: the largest resident set of kaitiaki's own steps.)

    uv run python benchmarks/bench_records.py [--events 50000000] [--accounts 1000000]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

COUNTRIES = ["NZ", "AU", "US", "GB", "DE", "FR", "BR", "IN", "JP", "CA", "MX", "ZA", "PH", "ID"]
CHUNK = 5_000_000


def generate(
    folder: Path, events: int, accounts: int, objects: int, offenders: int, seed: int
) -> None:
    """events.parquet, flagged.parquet (object_id, category, hash_set), ip_geo.parquet."""
    import ipaddress

    rng = np.random.default_rng(seed)
    account_ids = pa.array([f"u{i:09d}" for i in range(accounts)])
    object_ids = pa.array([f"{v:016x}" for v in rng.integers(0, 2**62, objects)])
    flagged_n = objects // 20  # the first 5% of objects are the flagged ones
    pool = 400_000
    v4 = [str(ipaddress.IPv4Address(int(v))) for v in rng.integers(1 << 24, 0xDF000000, pool)]
    v6 = [
        str(ipaddress.IPv6Address((0x20010DB8 << 96) | int(v)))
        for v in rng.integers(1, 2**62, pool // 4)
    ]
    canonical = v4 + v6
    spelled = [ip.upper() if ":" in ip and i % 50 == 0 else ip for i, ip in enumerate(canonical)]
    ips = pa.array(spelled)
    actions = pa.array(["view", "download", "upload", "share"])
    schema = pa.schema(
        [
            ("timestamp", pa.timestamp("us", tz="UTC")),
            ("account_id", pa.string()),
            ("action", pa.string()),
            ("object_id", pa.string()),
            ("ip", pa.string()),
            ("port", pa.int32()),
        ]
    )
    start = np.datetime64("2023-01-01T00:00:00", "us").astype(np.int64)
    span = 2 * 365 * 86_400 * 1_000_000
    with pq.ParquetWriter(folder / "events.parquet", schema, compression="zstd") as writer:
        for first in range(0, events, CHUNK):
            n = min(CHUNK, events - first)
            flagged = rng.random(n) < 0.05
            acct = np.where(
                flagged, rng.integers(0, offenders, n), rng.integers(0, accounts, n)
            ).astype(np.int32)
            obj = np.where(
                flagged, rng.integers(0, flagged_n, n), rng.integers(flagged_n, objects, n)
            ).astype(np.int32)
            ip = ((acct.astype(np.int64) * 7 + rng.integers(0, 3, n)) % len(canonical)).astype(
                np.int32
            )
            act = rng.choice(4, n, p=[0.6, 0.25, 0.1, 0.05]).astype(np.int32)
            ts = start + rng.integers(0, span, n)
            port = rng.integers(1024, 65536, n).astype(np.int32)
            # ~0.1% of rows repeat an earlier row of the chunk exactly: a provider's double export.
            dup = rng.random(n) < 0.001
            src = rng.integers(0, n, n)
            for column in (acct, obj, ip, act, ts, port):
                column[dup] = column[src[dup]]
            table = pa.table(
                [
                    pa.array(ts, pa.timestamp("us", tz="UTC")),
                    pa.DictionaryArray.from_arrays(acct, account_ids).cast(pa.string()),
                    pa.DictionaryArray.from_arrays(act, actions).cast(pa.string()),
                    pa.DictionaryArray.from_arrays(obj, object_ids).cast(pa.string()),
                    pa.DictionaryArray.from_arrays(ip, ips).cast(pa.string()),
                    pa.array(port, mask=rng.random(n) < 0.05),
                ],
                schema=schema,
            )
            writer.write_table(table, row_group_size=1_000_000)
    # Flagged objects: category 1-3; every tenth also in a second hash set (two rows, one object).
    fo = np.arange(flagged_n)
    second = fo[fo % 10 == 0]
    pq.write_table(
        pa.table(
            {
                "object_id": pa.array(object_ids.take(pa.array(np.concatenate([fo, second])))),
                "category": pa.array(
                    np.concatenate([fo % 3 + 1, np.full(len(second), 2)]).astype(np.int32)
                ),
                "hash_set": pa.array(["bench-a"] * len(fo) + ["bench-b"] * len(second)),
            }
        ),
        folder / "flagged.parquet",
    )
    countries = [
        None if i % 17 == 0 else COUNTRIES[i % len(COUNTRIES)] for i in range(len(canonical))
    ]
    pq.write_table(pa.table({"ip": canonical, "country": countries}), folder / "ip_geo.parquet")


# Each step runs in a fresh process; it returns (seconds, result) and its peak RSS is read there.
def _child(
    queue: Any, step: Callable[..., tuple[float, Any]], args: tuple[Any, ...], cap_gb: float
) -> None:
    if cap_gb:
        limit = int(cap_gb * (1 << 30))
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        seconds, result = step(*args)
        outcome: tuple[str, Any] = ("ok", (seconds, result))
    except MemoryError:
        outcome = ("oom", None)
    except Exception as exc:  # reported, not raised: one failed step should not hide the rest
        outcome = ("error", f"{type(exc).__name__}: {exc}"[:300])
    queue.put((*outcome, _peak_rss()))


def _peak_rss() -> int:
    """This process's peak resident set (VmHWM). Not ru_maxrss: Linux carries that across exec,
    so a spawned child would report its parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def in_process(
    step: Callable[..., tuple[float, Any]], *args: Any, cap_gb: float = 0
) -> tuple[str, Any, int]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, step, args, cap_gb))
    proc.start()
    proc.join()
    if queue.empty():  # killed: by the kernel's OOM killer, or a crash in native code
        return ("oom" if proc.exitcode in (-9, 137) else f"died ({proc.exitcode})", None, 0)
    status, result, peak = queue.get()
    return status, result, peak


def step_ingest(paths: list[str], workspace: str) -> tuple[float, Any]:
    from kaitiaki.records import ingest_records

    started = time.perf_counter()
    result = ingest_records([Path(p) for p in paths], Path(workspace))
    seconds = time.perf_counter() - started
    return seconds, (result.rows_read, result.written, result.duplicates, result.rejected)


def step_kaitiaki(workspace: str, flagged: str, geo: str) -> tuple[float, Any]:
    from kaitiaki.engines import DuckDBEngine
    from kaitiaki.records import ingested_files

    started = time.perf_counter()
    with DuckDBEngine() as engine:
        table = engine.flagged_accounts(ingested_files(Path(workspace)), flagged, geo)
    seconds = time.perf_counter() - started
    return seconds, _fingerprint(table.to_pylist())


HANDWRITTEN = """
WITH fe AS (
    SELECT account_id, object_id, action, timestamp, ip
    FROM read_parquet('{events}/*.parquet')
    SEMI JOIN (SELECT DISTINCT object_id FROM read_parquet('{flagged}')) USING (object_id)
),
c AS (
    SELECT account_id, string_agg(DISTINCT country, ';' ORDER BY country) AS countries
    FROM (SELECT DISTINCT account_id, ip FROM fe) JOIN read_parquet('{geo}') USING (ip)
    WHERE country <> ''
    GROUP BY account_id
),
k AS (
    SELECT account_id,
           string_agg(DISTINCT category::VARCHAR, ';' ORDER BY category::VARCHAR) AS categories
    FROM (SELECT DISTINCT account_id, object_id FROM fe)
    JOIN read_parquet('{flagged}') USING (object_id)
    GROUP BY account_id
)
SELECT account_id, count(DISTINCT object_id) AS flagged_files,
       count(*) FILTER (action = 'upload') AS uploads,
       count(*) FILTER (action = 'download') AS downloads,
       count(*) FILTER (action = 'view') AS views,
       count(*) FILTER (action = 'share') AS shares,
       min(timestamp) AS first_seen, max(timestamp) AS last_seen,
       count(DISTINCT ip) AS ips, any_value(countries) AS countries,
       any_value(categories) AS categories
FROM fe LEFT JOIN c USING (account_id) LEFT JOIN k USING (account_id)
GROUP BY account_id
ORDER BY account_id
"""


def step_handwritten(workspace: str, flagged: str, geo: str) -> tuple[float, Any]:
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    sql = HANDWRITTEN.format(events=f"{workspace}/records/events", flagged=flagged, geo=geo)
    table = con.sql(sql).to_arrow_table()
    seconds = time.perf_counter() - started
    return seconds, _fingerprint(table.to_pylist())


def step_pandas(workspace: str, flagged: str, geo: str) -> tuple[float, Any]:
    import pandas as pd

    started = time.perf_counter()
    events = pd.read_parquet(
        f"{workspace}/records/events",
        columns=["account_id", "object_id", "action", "timestamp", "ip"],
    )
    objects = pd.read_parquet(flagged)
    fe = events[events["object_id"].isin(objects["object_id"].unique())]
    del events
    grouped = fe.groupby("account_id")
    out = grouped.agg(
        flagged_files=("object_id", "nunique"),
        first_seen=("timestamp", "min"),
        last_seen=("timestamp", "max"),
        ips=("ip", "nunique"),
    )
    actions = pd.crosstab(fe["account_id"], fe["action"])
    for action, column in [
        ("upload", "uploads"),
        ("download", "downloads"),
        ("view", "views"),
        ("share", "shares"),
    ]:
        out[column] = actions.get(action, 0)

    def joined(frame: Any, key: str, value: str) -> Any:
        pairs = frame[["account_id", key]].drop_duplicates().merge(value_table[value], on=key)
        pairs = pairs[pairs[value].notna() & (pairs[value].astype(str) != "")]
        return pairs.groupby("account_id")[value].agg(lambda s: ";".join(sorted(set(map(str, s)))))

    value_table = {"country": pd.read_parquet(geo), "category": objects}
    out["countries"] = joined(fe, "ip", "country")
    out["categories"] = joined(fe, "object_id", "category")
    out = out.reset_index().sort_values("account_id")
    seconds = time.perf_counter() - started
    return seconds, len(out)


def _fingerprint(rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Row count and an order-independent digest: the two SQL answers must agree exactly."""
    import hashlib

    digest = 0
    for row in rows:
        text = "|".join(str(row[k]) for k in sorted(row))
        digest ^= int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")
    return len(rows), digest


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--accounts", type=int, default=1_000_000)
    parser.add_argument("--objects", type=int, default=2_000_000)
    parser.add_argument("--offenders", type=int, default=90_000)
    parser.add_argument("--csv-events", type=int, default=5_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--pandas-mem-gb", type=float, default=16.0)
    parser.add_argument("--workdir", type=Path, default=None, help="kept when given")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_records-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    data = workdir / "input"
    data.mkdir(exist_ok=True)
    started = time.perf_counter()
    generate(data, args.events, args.accounts, args.objects, args.offenders, args.seed)
    print(f"generated {args.events:,} events in {time.perf_counter() - started:.1f}s", flush=True)
    csv_rows = min(args.csv_events, args.events)
    _write_csv(data / "events.parquet", data / "events.csv", csv_rows)

    flagged, geo = str(data / "flagged.parquet"), str(data / "ip_geo.parquet")
    peaks: list[int] = []

    workspace = workdir / "ws"
    shutil.rmtree(workspace, ignore_errors=True)
    status, result, peak = in_process(step_ingest, [str(data / "events.parquet")], str(workspace))
    _check(status, result, "ingest-parquet")
    seconds, (read, written, duplicates, rejected) = result
    ingest_rate = read / seconds
    peaks.append(peak)
    print(
        f"ingest-parquet  {read:,} rows in {seconds:.1f}s = {ingest_rate:,.0f} rows/s;"
        f" {written:,} written, {duplicates:,} duplicates, {rejected:,} rejected;"
        f" peak {peak / 2**30:.2f} GB",
        flush=True,
    )
    csv_ws = workdir / "ws-csv"
    shutil.rmtree(csv_ws, ignore_errors=True)
    status, result, peak = in_process(step_ingest, [str(data / "events.csv")], str(csv_ws))
    _check(status, result, "ingest-csv")
    peaks.append(peak)
    seconds, (read, *_rest) = result
    print(
        f"ingest-csv      {read:,} rows in {seconds:.1f}s = {read / seconds:,.0f} rows/s;"
        f" peak {peak / 2**30:.2f} GB",
        flush=True,
    )
    shutil.rmtree(csv_ws, ignore_errors=True)

    best: dict[str, float] = {}
    answers: dict[str, Any] = {}
    for _ in range(args.repeat):
        for name, step in (("handwritten", step_handwritten), ("kaitiaki", step_kaitiaki)):
            status, result, peak = in_process(step, str(workspace), flagged, geo)
            _check(status, result, name)
            best[name] = min(best.get(name, float("inf")), result[0])
            answers[name] = result[1]
            if name == "kaitiaki":
                peaks.append(peak)
            print(
                f"{name:<15} {result[0]:.2f}s, {result[1][0]:,} accounts;"
                f" peak {peak / 2**30:.2f} GB",
                flush=True,
            )
    same = answers["kaitiaki"] == answers["handwritten"]
    print(f"kaitiaki and handwritten answers identical: {same}")
    ratio = best["kaitiaki"] / best["handwritten"]

    status, result, peak = in_process(
        step_pandas, str(workspace), flagged, geo, cap_gb=args.pandas_mem_gb
    )
    if status == "ok":
        pandas_s: str = f"{result[0]:.2f}"
        print(
            f"pandas          {result[0]:.2f}s, {result[1]:,} accounts; peak {peak / 2**30:.2f} GB"
        )
    else:
        pandas_s = "OOM" if status == "oom" else "error"
        print(f"pandas          {status} {result or ''} (cap {args.pandas_mem_gb} GB)")
    print(
        f"ingest_rows_per_s={ingest_rate:.0f} analysis_s={best['kaitiaki']:.2f}"
        f" handwritten_s={best['handwritten']:.2f} ratio={ratio:.2f} pandas_s={pandas_s}"
        f" peak_gb={max(peaks) / 2**30:.2f}"
    )


def _write_csv(parquet: Path, out: Path, rows: int) -> None:
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # ISO 8601 text with an explicit offset, as a provider's CSV export would have it.
    con.execute(
        f"COPY (SELECT strftime(timestamp, '%Y-%m-%dT%H:%M:%S.%fZ') AS timestamp,"
        f" * EXCLUDE (timestamp) FROM read_parquet('{parquet}') LIMIT {rows})"
        f" TO '{out}' (FORMAT csv, HEADER)"
    )
    con.close()


def _check(status: str, result: Any, name: str) -> None:
    if status != "ok":
        raise SystemExit(f"{name} failed: {status} {result or ''}")


if __name__ == "__main__":
    main()
