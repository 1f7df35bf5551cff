"""Ingest provider files (access records, accounts, catalog) into the workspace's Parquet.

Duplicates: the key is the whole canonical row (an event's timestamp, account, action,
object, IP and port; every column of an account or catalog row). Identical rows are one
event told twice, whether in one file or in two; the first row number is kept as provenance.
Re-ingesting a file with the same SHA-256 and the same options is a no-op reported as skipped;
with other options (a new mapping, another --assume-tz) its earlier output is replaced.
How one file is read is in ``records.passes``.
"""

from __future__ import annotations

import hashlib
import shutil
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb

from kaitiaki.engines.duckdb_util import DuckDBSettings, open_duckdb, sql_literal
from kaitiaki.exports.csvcells import duckdb_cell
from kaitiaki.records.mapping import KINDS, ColumnMapping, Kind, load_mapping
from kaitiaki.records.passes import Job, Progress
from kaitiaki.records.sources import (
    Format,
    IngestError,
    check_paths,
    detect_format,
    digest_file,
    open_source,
)
from kaitiaki.records.workspace import (
    ManifestEntry,
    locked,
    read_manifest,
    records_dir,
    sweep_unlisted,
    write_manifest,
)


@dataclass(frozen=True)
class FileReport:
    path: Path
    kind: Kind
    sha256: str
    format: str
    status: Literal["ingested", "skipped"]  # skipped: already ingested with the same options
    rows_read: int
    accepted: int  # rows that passed validation, duplicates included
    rejected: int
    duplicates: int  # accepted rows dropped as exact duplicates (in the file or of earlier input)
    written: int  # accepted - duplicates
    data: Path


@dataclass(frozen=True)
class IngestResult:
    kind: Kind
    files: tuple[FileReport, ...]
    rejects_path: Path
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def accepted(self) -> int:
        return sum(f.accepted for f in self.files)

    @property
    def rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def duplicates(self) -> int:
        return sum(f.duplicates for f in self.files)

    @property
    def written(self) -> int:
        return sum(f.written for f in self.files)

    @property
    def skipped(self) -> int:
        return sum(f.status == "skipped" for f in self.files)


def ingest_records(
    paths: Sequence[Path | str],
    workspace: Path,
    *,
    kind: Kind = "records",
    mapping: ColumnMapping | Path | None = None,
    assume_tz: str | None = None,
    input_format: Format | None = None,
    rejects_path: Path | None = None,
    progress: Progress | None = None,
    settings: DuckDBSettings | None = None,
) -> IngestResult:
    """Ingest ``paths`` (CSV, JSON Lines or Parquet; format from the name unless given).

    All or nothing: the workspace changes only when every input went through; a bad row is
    rejected, but a missing file, a missing mapped column or an unreadable file fails the run.
    ``rejects_path`` (default ``records/rejects.csv``: file, row, reason) lists the rejects of
    every input named, ingested now or before. ``assume_tz`` (an IANA name) is the zone of
    timestamps that carry none; access records only. ``progress(stage, done, total)`` gets
    ``"hash NAME"`` in bytes, then ``"read NAME"``, ``"check NAME"``, ``"deduplicate NAME"``,
    ``"write NAME"`` in percent; it may be called from a helper thread.
    """
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
    with locked(workspace) as staging:
        committed = read_manifest(workspace)
        sweep_unlisted(workspace, committed)
        con = open_duckdb(
            DuckDBSettings(
                memory_limit=settings.memory_limit if settings else None,
                threads=settings.threads if settings else None,
                temp_directory=staging.parent / "duckdb",
            )
        )
        try:
            if tz is not None:
                check_zone_in_duckdb(con, tz)
            done: list[StagedFile] = []
            for index, (path, fmt) in enumerate(zip(inputs, formats, strict=True)):
                digest = digest_file(path, _bytes_progress(progress, f"hash {path.name}"))
                prior = _find_prior(committed, done, base, kind, digest.sha256, options)
                if prior is not None:
                    done.append(StagedFile(path, prior[0], "skipped", prior[1]))
                    continue
                # Earlier inputs of the same kind, less the one this run replaces.
                others = [
                    base / e.data for e in committed if e.kind == kind and e.sha256 != digest.sha256
                ] + [d.folder / d.entry.data for d in done if d.status == "ingested"]
                source = open_source(con, path, fmt, kmap, f"f{index}")
                job = Job(con, source, tz, progress)
                entry = job.run(digest, options, others, staging)
                done.append(StagedFile(path, entry, "ingested", staging))
            by_reason = write_rejects(con, done, staging / "rejects.csv")
        finally:
            con.close()
        rejects_out = settle(
            workspace, staging, committed, done, rejects_path or base / "rejects.csv"
        )
    return IngestResult(kind, reports_of(done, base), rejects_out, by_reason)


@dataclass(frozen=True)
class StagedFile:
    path: Path
    entry: ManifestEntry
    status: Literal["ingested", "skipped"]
    folder: Path  # where entry.data and entry.rejects are now: staging, or records/ once committed


def _find_prior(
    committed: list[ManifestEntry],
    done: list[StagedFile],
    base: Path,
    kind: Kind,
    sha256: str,
    options: str,
) -> tuple[ManifestEntry, Path] | None:
    for entry in committed:
        if (entry.kind, entry.sha256, entry.options) == (kind, sha256, options):
            return entry, base
    for d in done:  # the same content named twice in one run
        if d.status == "ingested" and d.entry.sha256 == sha256:
            return d.entry, d.folder
    return None


def check_zone(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise IngestError(
            f"unknown time zone {name!r}: give an IANA name such as 'Pacific/Auckland' or 'UTC'"
        ) from exc
    return name


def check_zone_in_duckdb(con: duckdb.DuckDBPyConnection, name: str) -> None:
    # fetchall, not fetchone: DuckDB 2 keeps a half-read result open and refuses the next call.
    rows = con.execute(
        "SELECT count(*) FROM pg_timezone_names() WHERE name = $1", [name]
    ).fetchall()
    if not rows or not rows[0][0]:
        raise IngestError(f"time zone {name!r} is not known to DuckDB's ICU data")


def _bytes_progress(progress: Progress | None, stage: str) -> Callable[[int, int], None] | None:
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def write_rejects(
    con: duckdb.DuckDBPyConnection, done: list[StagedFile], out: Path
) -> dict[str, int]:
    parts = [
        f"SELECT {i} AS i, {sql_literal(str(d.path))} AS file, row_n, reason"
        f" FROM read_parquet({sql_literal(str(d.folder / d.entry.rejects))})"
        for i, d in enumerate(done)
        if d.entry.rejects
    ]
    union = " UNION ALL ".join(parts) or (
        "SELECT 0 AS i, CAST(NULL AS VARCHAR) AS file, CAST(NULL AS BIGINT) AS row_n,"
        " CAST(NULL AS VARCHAR) AS reason WHERE false"
    )
    con.execute(
        # File names and reasons (which quote values) from outside: no cell may be a formula.
        f'COPY (SELECT {duckdb_cell("file")} AS file, row_n AS "row", {duckdb_cell("reason")}'
        f" AS reason FROM ({union}) ORDER BY i, row_n)"
        f" TO {sql_literal(str(out))} (FORMAT csv, HEADER)"
    )
    counts = con.execute(
        f"SELECT reason, count(*) FROM ({union}) GROUP BY reason ORDER BY count(*) DESC, reason"
    ).fetchall()
    return {str(reason): int(n) for reason, n in counts}


def commit_staged(
    workspace: Path,
    staging: Path,
    fresh: list[ManifestEntry],
    replaced: list[ManifestEntry],
    entries: list[ManifestEntry],
) -> None:
    """Move staged files into place, then replace the manifest: the one commit point."""
    base = records_dir(workspace)
    for entry in fresh:
        for rel in (entry.data, entry.rejects):
            if rel:
                (base / rel).parent.mkdir(parents=True, exist_ok=True)
                (staging / rel).replace(base / rel)
    write_manifest(workspace, entries)
    keep = {e.data for e in entries} | {e.rejects for e in entries if e.rejects}
    for entry in replaced:
        for rel in (entry.data, entry.rejects):
            if rel and rel not in keep:
                (base / rel).unlink(missing_ok=True)


def settle(
    workspace: Path,
    staging: Path,
    committed: list[ManifestEntry],
    done: list[StagedFile],
    rejects_out: Path,
) -> Path:
    """Commit what was staged (a fresh file replaces its earlier ingest) and move the rejects."""
    fresh = [d.entry for d in done if d.status == "ingested"]
    replaced = [
        e for e in committed if any((e.kind, e.sha256) == (n.kind, n.sha256) for n in fresh)
    ]
    entries = [e for e in committed if e not in replaced] + fresh
    commit_staged(workspace, staging, fresh, replaced, entries)
    rejects_out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(staging / "rejects.csv", rejects_out)
    return rejects_out


def reports_of(done: list[StagedFile], base: Path) -> tuple[FileReport, ...]:
    return tuple(
        FileReport(
            d.path,
            d.entry.kind,
            d.entry.sha256,
            d.entry.format,
            d.status,
            d.entry.rows_read,
            d.entry.accepted,
            d.entry.rejected,
            d.entry.duplicates,
            d.entry.written,
            base / d.entry.data,
        )
        for d in done
    )
