"""Scan on Spark: files hashed on the executors, results as Parquet, then loaded into the store.

The driver walks the evidence (``scan.walk``, the same order and the same walk errors as a local
scan) and hands the paths to the executors, which hash them with the local scan's worker
function (``runner.hash_sources``: ``hasher.hash_path`` with its per-file error handling), so a
hash is computed by the same code whichever engine runs it. The executors write one row per file
instance (archive members included) to a Parquet folder: the scan's results in a form any other
tool can read. The driver then reads that folder in walk order, matches the records against the
hash sets and stores them through ``scan.writer``, batch by batch, as a local scan does: the
store ends with the same rows. The evidence must be on a file system every executor mounts at
the same path (NFS, Lustre, a mounted bucket), and ``results`` on storage the driver can read.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from kaitiaki.content.archives import ArchiveLimits
from kaitiaki.scan.acquisition import AcquisitionChecker, VerifyProgress
from kaitiaki.scan.evidence import finish_scan
from kaitiaki.scan.hasher import display_path
from kaitiaki.scan.manifest import manifest_sha256
from kaitiaki.scan.runner import (
    BATCH_RECORDS,
    ProgressCallback,
    ScanResult,
    hash_sources,
    pending_entries,
    start_scan,
)
from kaitiaki.scan.walk import walk
from kaitiaki.scan.writer import write_batch
from kaitiaki.signals.record import FileRecord
from kaitiaki.store import Store

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# One row per file instance; ``entry`` is the walk position, ``seq`` the order within it.
RESULT_SCHEMA = pa.schema(
    [
        ("entry", pa.int64()),
        ("seq", pa.int32()),
        ("path", pa.string()),
        ("source", pa.string()),
        ("depth", pa.int32()),
        ("kind", pa.string()),
        ("mime", pa.string()),
        ("size", pa.int64()),
        ("md5", pa.string()),
        ("sha1", pa.string()),
        ("sha256", pa.string()),
        ("pdq", pa.string()),
        ("pdq_quality", pa.int32()),
        ("pdq_dihedral", pa.list_(pa.string())),
        ("pdq_views", pa.string()),  # JSON: [{"view", "box", "quality", "dihedral"}, ...]
        ("robust", pa.binary()),
        ("vpdq", pa.string()),  # JSON: [[frame, quality, hex, seconds], ...]
        ("exif", pa.string()),  # JSON object
        ("error", pa.string()),
        ("notes", pa.list_(pa.string())),
    ]
)


def _row(entry: int, seq: int, record: FileRecord) -> dict[str, Any]:
    return {
        "entry": entry,
        "seq": seq,
        "path": record.path,
        "source": record.source,
        "depth": record.depth,
        "kind": record.kind,
        "mime": record.mime,
        "size": record.size,
        "md5": record.md5,
        "sha1": record.sha1,
        "sha256": record.sha256,
        "pdq": record.pdq,
        "pdq_quality": record.pdq_quality,
        "pdq_dihedral": record.pdq_dihedral,
        "pdq_views": None if record.pdq_views is None else json.dumps(record.pdq_views),
        "robust": record.robust,
        "vpdq": None if record.vpdq is None else json.dumps(record.vpdq),
        "exif": None if record.exif is None else json.dumps(record.exif, sort_keys=True),
        "error": record.error,
        "notes": record.notes,
    }


def _record(row: dict[str, Any]) -> FileRecord:
    return FileRecord(
        path=row["path"],
        source=row["source"],
        depth=row["depth"],
        kind=row["kind"],
        mime=row["mime"],
        size=row["size"],
        md5=row["md5"],
        sha1=row["sha1"],
        sha256=row["sha256"],
        pdq=row["pdq"],
        pdq_quality=row["pdq_quality"],
        pdq_dihedral=row["pdq_dihedral"],
        pdq_views=None if row["pdq_views"] is None else json.loads(row["pdq_views"]),
        robust=None if row["robust"] is None else bytes(row["robust"]),
        vpdq=None if row["vpdq"] is None else json.loads(row["vpdq"]),
        exif=None if row["exif"] is None else json.loads(row["exif"]),
        error=row["error"],
        notes=list(row["notes"] or []),
    )


def _hash_batches(
    batches: Iterator[pa.RecordBatch], limits: ArchiveLimits
) -> Iterator[pa.RecordBatch]:
    """Executor side: hash each path with the local scan's worker function; Arrow batches out."""
    rows: list[dict[str, Any]] = []
    for batch in batches:
        for entry, raw in zip(
            batch.column("entry").to_pylist(), batch.column("path").to_pylist(), strict=True
        ):
            (records,) = hash_sources([Path(os.fsdecode(raw))], limits)
            rows.extend(_row(entry, seq, record) for seq, record in enumerate(records))
            if len(rows) >= 256:
                yield pa.RecordBatch.from_pylist(rows, schema=RESULT_SCHEMA)
                rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows, schema=RESULT_SCHEMA)


def hash_on_spark(
    spark: SparkSession,
    paths: Sequence[tuple[int, Path]],
    results: str,
    limits: ArchiveLimits,
) -> None:
    """Hash ``(entry, path)`` pairs on the executors; write the rows to the ``results`` folder."""
    from pyspark.sql.pandas.types import from_arrow_schema

    # File names are bytes on POSIX (not always UTF-8): they travel as bytes.
    listing = pa.table(
        {
            "entry": pa.array([entry for entry, _ in paths], pa.int64()),
            "path": pa.array([os.fsencode(p) for _, p in paths], pa.binary()),
        }
    )
    slices = max(1, min(len(paths), spark.sparkContext.defaultParallelism * 4))
    frame = spark.createDataFrame(listing).repartition(slices)
    hashed = frame.mapInArrow(
        lambda batches: _hash_batches(batches, limits), from_arrow_schema(RESULT_SCHEMA)
    )
    hashed.write.mode("overwrite").parquet(results)


def run_spark_scan(
    store: Store,
    spark: SparkSession,
    roots: Sequence[Path],
    evidence: str,
    results: str | Path,
    hash_sets: Sequence[str] | None = None,
    *,
    limits: ArchiveLimits | None = None,
    description: str = "",
    acquired_by: str = "",
    add_to_existing: bool = False,
    actor: str,
    on_progress: ProgressCallback | None = None,
    instances_viewed: bool | None = None,
    expected_sha256: Mapping[str, str] | None = None,
    on_verify: VerifyProgress | None = None,
) -> ScanResult:
    """``run_scan`` with the hashing on Spark; per-file results also kept in ``results``.
    Acquisition hashes are checked here, on the driver, once the records are written."""
    started = time.perf_counter()
    matcher, evidence_id, scan_id = start_scan(
        store,
        roots,
        evidence,
        hash_sets,
        description,
        acquired_by,
        add_to_existing=add_to_existing,
        actor=actor,
    )
    limits = limits or ArchiveLimits()

    total = 0
    skipped = 0
    to_hash: list[tuple[int, Path]] = []
    walk_errors: dict[int, FileRecord] = {}
    for entry in pending_entries(store, evidence_id, walk(roots)):
        total += 1
        if entry is None:
            skipped += 1
        elif entry.error is not None:
            shown = display_path(entry.path)
            walk_errors[total] = FileRecord(path=shown, source=shown, error=entry.error)
        else:
            to_hash.append((total, entry.path))
    result = ScanResult(evidence_id, scan_id, total, skipped, 0, None)
    if to_hash:
        hash_on_spark(spark, to_hash, str(results), limits)

    done = skipped
    batch: list[FileRecord] = []

    def flush() -> None:
        nonlocal batch
        if batch:
            hits = matcher.match(batch)
            with store.session() as session:
                write_batch(session, evidence_id, batch, hits, viewed_by_provider=instances_viewed)
            result.records_written += len(batch)
        batch = []

    def sources() -> Iterator[list[FileRecord]]:
        """Each walked entry's records, in walk order (whole sources, as write_batch needs)."""
        errors = sorted(walk_errors.items())
        hashed = _read_results(spark, str(results)) if to_hash else iter(())
        pending: tuple[int, list[FileRecord]] | None = next(hashed, None)
        while errors or pending is not None:
            if pending is None or (errors and errors[0][0] < pending[0]):
                yield [errors.pop(0)[1]]
            else:
                yield pending[1]
                pending = next(hashed, None)

    for records in sources():
        batch.extend(records)
        done += 1
        if len(batch) >= BATCH_RECORDS:
            flush()
            if on_progress:
                on_progress(done, total)
    flush()
    if on_progress:
        on_progress(done, total)

    digest = manifest_sha256(store, evidence_id)
    with store.session() as session:
        finish_scan(
            session, evidence_id, scan_id, digest, actor=actor, records=result.records_written
        )
    result.manifest_sha256 = digest
    checker = AcquisitionChecker(store, evidence_id, roots, expected_sha256, on_verify)
    result.acquisition = checker.finish(actor)
    result.seconds = time.perf_counter() - started
    return result


def _read_results(spark: SparkSession, folder: str) -> Iterator[tuple[int, list[FileRecord]]]:
    """(entry, records) from the results folder in walk order, streamed a partition at a time."""
    ordered = spark.read.parquet(folder).orderBy("entry", "seq")
    current: int | None = None
    records: list[FileRecord] = []
    for row in ordered.toLocalIterator(prefetchPartitions=True):
        values = row.asDict()
        if values["entry"] != current and records:
            assert current is not None
            yield current, records
            records = []
        current = values["entry"]
        records.append(_record(values))
    if records and current is not None:
        yield current, records
