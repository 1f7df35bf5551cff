"""Ingest on Spark: each input file validated on an executor, duplicates across files in Spark.

Why the rows are checked by the same passes as ``ingest_records`` (``passes.Job``, DuckDB SQL and
the Python IP canonicaliser), run inside the Spark task that owns the file, rather than rewritten
as Spark SQL: the rules include things Spark's readers cannot reproduce, so a rewrite would give
other answers, not only other code. Spark's CSV reader splits a file by byte ranges and has no
row numbers (a reject must name its row), classifies malformed rows differently from DuckDB's
parser (whose reasons the rejects report), and its JSON and timestamp parsing accept other
spellings. Running the one validator per file keeps the rejects, row numbers, time-zone rules and
IP canonicalisation identical by construction; the work that grows with the whole input, the
deduplication across files, is a Spark window over all of them. Parallelism is per input file
(provider exports at this scale come as many files); each file's DuckDB uses the task's cores.

The workspace layout and manifest are ``ingest_records``'s, so either engine can read (and a later
run of either can extend) what the other ingested. Inputs and the workspace must be on storage
every executor can read and write (a shared file system).
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from kaitiaki.engines.duckdb_util import DuckDBSettings, open_duckdb
from kaitiaki.records.ingest import (
    IngestResult,
    StagedFile,
    check_zone,
    check_zone_in_duckdb,
    reports_of,
    settle,
    write_rejects,
)
from kaitiaki.records.mapping import FIELDS, KINDS, ColumnMapping, Kind, KindMapping, load_mapping
from kaitiaki.records.passes import Job
from kaitiaki.records.sources import (
    Format,
    IngestError,
    check_paths,
    detect_format,
    digest_file,
    open_source,
)
from kaitiaki.records.workspace import (
    DATA_DIRS,
    ManifestEntry,
    locked,
    read_manifest,
    records_dir,
    sweep_unlisted,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class _Task:
    index: int
    path: str
    fmt: Format
    mapping: KindMapping
    tz: str | None
    options: str
    staging: str  # this input's own folder under the run's staging area
    threads: int


def _validate_file(task: _Task) -> ManifestEntry | str:
    """Executor side: the passes of ``ingest_records`` over one file; an error is its message."""
    folder = Path(task.staging)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        con = open_duckdb(DuckDBSettings(threads=task.threads, temp_directory=folder / "duckdb"))
        try:
            if task.tz is not None:
                check_zone_in_duckdb(con, task.tz)
            path = Path(task.path)
            digest = digest_file(path)
            source = open_source(con, path, task.fmt, task.mapping, f"f{task.index}")
            return Job(con, source, task.tz, None).run(digest, task.options, [], folder)
        finally:
            con.close()
    except Exception as exc:  # sent back to the driver, which raises it as the run's error
        return f"{type(exc).__name__}: {exc}" if not isinstance(exc, IngestError) else str(exc)


def spark_ingest_records(
    spark: SparkSession,
    paths: Sequence[Path | str],
    workspace: Path,
    *,
    kind: Kind = "records",
    mapping: ColumnMapping | Path | None = None,
    assume_tz: str | None = None,
    input_format: Format | None = None,
    rejects_path: Path | None = None,
) -> IngestResult:
    """``ingest_records`` on Spark: the same workspace, reports and rejects (see the module)."""
    if kind not in KINDS:
        raise IngestError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    if isinstance(mapping, Path):
        mapping = load_mapping(mapping)
    kmap = (mapping or ColumnMapping.default()).for_kind(kind)
    inputs = [Path(p) for p in paths]
    check_paths(inputs)
    formats = [input_format or detect_format(p) for p in inputs]
    tz = check_zone(assume_tz) if kind == "records" else None
    options = hashlib.sha256(f"{kmap.fingerprint()}|{tz or ''}".encode()).hexdigest()
    base = records_dir(workspace)
    context = spark.sparkContext
    threads = max(1, context.defaultParallelism // max(1, len(inputs)))
    threads = min(threads, int(spark.conf.get("spark.executor.cores", str(threads)) or threads))
    with locked(workspace) as staging:
        committed = read_manifest(workspace)
        sweep_unlisted(workspace, committed)
        tasks = [
            _Task(i, str(p.resolve()), f, kmap, tz, options, str(staging / f"in{i}"), threads)
            for i, (p, f) in enumerate(zip(inputs, formats, strict=True))
        ]
        answers = (
            context.parallelize(tasks, max(1, len(tasks))).map(_validate_file).collect()
            if tasks
            else []
        )
        for answer in answers:
            if isinstance(answer, str):
                raise IngestError(answer)
        done = _settle(inputs, tasks, answers, committed, base, kind, options, staging)
        fresh_done = [d for d in done if d.status == "ingested"]
        others = [
            base / e.data
            for e in committed
            if e.kind == kind and e.sha256 not in {d.entry.sha256 for d in fresh_done}
        ]
        if len(fresh_done) > 1 or (fresh_done and others):
            done = _deduplicate(spark, done, others, staging, kind)
        con = open_duckdb(DuckDBSettings(threads=1, temp_directory=staging.parent / "duckdb"))
        try:
            by_reason = write_rejects(con, done, staging / "rejects.csv")
        finally:
            con.close()
        rejects_out = settle(
            workspace, staging, committed, done, rejects_path or base / "rejects.csv"
        )
    return IngestResult(kind, reports_of(done, base), rejects_out, by_reason)


def _settle(
    inputs: list[Path],
    tasks: list[_Task],
    answers: list[ManifestEntry | str],
    committed: list[ManifestEntry],
    base: Path,
    kind: Kind,
    options: str,
    staging: Path,
) -> list[StagedFile]:
    """Skip what ``ingest_records`` skips (already committed, or the same content named twice);
    move the rest's files from their task folders into the staging area proper."""
    done: list[StagedFile] = []
    for path, task, answer in zip(inputs, tasks, answers, strict=True):
        assert not isinstance(answer, str)
        same = (kind, answer.sha256, options)
        prior = next((e for e in committed if (e.kind, e.sha256, e.options) == same), None)
        if prior is not None:
            done.append(StagedFile(path, prior, "skipped", base))
            continue
        twin = next(
            (d for d in done if d.status == "ingested" and d.entry.sha256 == answer.sha256), None
        )
        if twin is not None:
            done.append(StagedFile(path, twin.entry, "skipped", staging))
            continue
        for rel in (answer.data, answer.rejects):
            if rel:
                (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(task.staging) / rel).replace(staging / rel)
        done.append(StagedFile(path, answer, "ingested", staging))
    for task in tasks:
        shutil.rmtree(task.staging, ignore_errors=True)
    return done


def _deduplicate(
    spark: SparkSession, done: list[StagedFile], others: list[Path], staging: Path, kind: Kind
) -> list[StagedFile]:
    """Drop rows already in an earlier input (committed ones first, then in input order).

    Each input was deduplicated within itself by its task; across inputs the first occurrence
    wins, as in ``ingest_records``. The survivors of each input become its data (a folder of
    Parquet parts written by the executors).
    """
    from pyspark.sql import functions as sf
    from pyspark.sql.window import Window

    key = [name for name, _ in FIELDS[kind]]
    parts = [spark.read.parquet(str(p)).select(*key).withColumn("_i", sf.lit(-1)) for p in others]
    fresh = [(n, d) for n, d in enumerate(done) if d.status == "ingested"]
    for n, d in fresh:
        frame = spark.read.parquet(str(staging / d.entry.data)).withColumn("_i", sf.lit(n))
        parts.append(frame)
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part, allowMissingColumns=True)
    first = sf.min("_i").over(Window.partitionBy(*key))
    kept = union.withColumn("_first", first).where("_i = _first AND _i >= 0").drop("_first")
    out = staging / "dedup"
    # Spark's own writer, with instants as microseconds adjusted to UTC (not INT96).
    spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    kept.write.mode("overwrite").partitionBy("_i").parquet(str(out))
    counts = {
        int(r["_i"]): int(r["count"])
        for r in spark.read.parquet(str(out)).groupBy("_i").count().collect()
    }
    settled = list(done)
    for n, d in fresh:
        rel = f"{DATA_DIRS[kind]}/{d.entry.sha256}-{d.entry.options[:16]}.spark"
        (staging / d.entry.data).unlink()
        survivors = out / f"_i={n}"
        if survivors.exists():
            survivors.replace(staging / rel)
        else:
            (staging / rel).mkdir(parents=True)
            _empty_part(staging / rel, kind)
        written = counts.get(n, 0)
        entry = replace(d.entry, data=rel, written=written, duplicates=d.entry.accepted - written)
        settled[n] = StagedFile(d.path, entry, "ingested", staging)
    shutil.rmtree(out, ignore_errors=True)
    return settled


def _empty_part(folder: Path, kind: Kind) -> None:
    """An input whose every row was already seen still gets data: an empty Parquet part."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [name for name, _ in FIELDS[kind]]
    columns = {n: pa.array([], pa.string()) for n in names}
    if kind == "records":
        columns["timestamp"] = pa.array([], pa.timestamp("us", tz="UTC"))
        columns["port"] = pa.array([], pa.int32())
    if kind == "catalog":
        columns["viewed_by_provider"] = pa.array([], pa.bool_())
    columns["source_sha256"] = pa.array([], pa.string())
    columns["source_row"] = pa.array([], pa.int64())
    pq.write_table(pa.table(columns), folder / "part-empty.parquet")
