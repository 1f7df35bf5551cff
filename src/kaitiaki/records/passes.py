"""The passes over one input file, in DuckDB (see ``records.ingest`` for the whole run).

1. survey: count rows, collect the CSV parser's rejects, the distinct IP spellings;
2. the IP spellings are canonicalised in Python (once per distinct value) into a join table;
3. validate once, writing good rows and rejects to two sides of a staging Parquet split;
4. hash every good row's key: hashes seen twice, or in an earlier input, mark the only rows
   that need an exact comparison, so the common case needs no sort of the whole file;
5. write the accepted, deduplicated rows, and the (row, reason) rejects.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.engines.duckdb_util import sql_literal
from kaitiaki.records import validate
from kaitiaki.records.mapping import FIELDS, Kind
from kaitiaki.records.sources import Digest, IngestError, Source, duckdb_reason
from kaitiaki.records.workspace import DATA_DIRS, ManifestEntry

Progress = Callable[[str, int, int], None]


class Job:
    """The passes over one input (see the module docstring)."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        source: Source,
        tz: str | None,
        progress: Progress | None,
    ) -> None:
        self.con = con
        self.src = source
        self.kind: Kind = source.mapping.kind
        self.tz = tz
        self.progress = progress
        self.key = ", ".join(name for name, _ in FIELDS[self.kind])

    def run(self, digest: Digest, options: str, others: list[Path], staging: Path) -> ManifestEntry:
        src, name = self.src, self.src.path.name
        # 1. Survey: rows, the parser's rejects, the IP spellings to canonicalise.
        ip_seen = src.table("ip_seen")
        given_ip = "nullif(trim(CAST(ip AS VARCHAR)), '')" if self.kind == "records" else "NULL"
        self._sql(
            f"CREATE TEMP TABLE {ip_seen} AS SELECT {given_ip} AS given, count(*) AS n"
            f" FROM ({src.rows(numbered=False)}) GROUP BY ALL",
            f"read {name}",
        )
        yielded = self._scalar(f"SELECT coalesce(sum(n), 0) FROM {ip_seen}")
        with self._read_errors(f"lines of {name}"):
            src.finish_first_pass(self.con, digest.has_blank_lines)
        rows_read = yielded + len(src.skipped)
        checked = self._validated(ip_seen)

        # 2. Validate once, splitting good rows from rejects in the same write.
        pre = staging / f"pre-{src.tag}"
        self._sql(
            f"COPY (SELECT {self.key}, row_n, reason, reason IS NULL AS ok FROM ({checked}))"
            f" TO {sql_literal(str(pre))} (FORMAT parquet, PARTITION_BY (ok), COMPRESSION snappy)",
            f"check {name}",
        )
        good = _part(pre, ok=True) or f"(SELECT {self.key}, row_n FROM ({checked}) WHERE false)"
        accepted = self._scalar(f"SELECT count(*) FROM {good}")

        # 3. Duplicates: key hashes seen twice here, or in an earlier input, mark the rows that
        # need an exact comparison (DuckDB's hash is only ever compared within this run).
        suspects, matches = src.table("suspects"), src.table("match")
        if others:
            earlier = self._earlier(others)
            self._sql(
                f"CREATE TEMP TABLE {matches} AS SELECT {self.key} FROM {earlier}"
                f" WHERE hash({self.key}) IN (SELECT hash({self.key}) FROM {good})",
                f"compare {name}",
            )
        else:
            self.con.execute(
                f"CREATE TEMP TABLE {matches} AS SELECT {self.key} FROM {good} LIMIT 0"
            )
        self._sql(
            f"CREATE TEMP TABLE {suspects} AS SELECT hash({self.key}) AS h FROM {good}"
            f" GROUP BY 1 HAVING count(*) > 1 UNION SELECT hash({self.key}) FROM {matches}",
            f"deduplicate {name}",
        )
        data = f"{DATA_DIRS[self.kind]}/{digest.sha256}-{options[:16]}.parquet"
        (staging / data).parent.mkdir(parents=True, exist_ok=True)
        provenance = f"{sql_literal(digest.sha256)} AS source_sha256"
        rows = f"SELECT {self.key}, {provenance}, row_n AS source_row FROM {good} g"
        if self._scalar(f"SELECT count(*) FROM {suspects}"):
            same = " AND ".join(f"m.{c} IS NOT DISTINCT FROM d.{c}" for c in self.key.split(", "))
            rows = (
                f"{rows} ANTI JOIN {suspects} s ON hash({self.key}) = s.h"
                f" UNION ALL SELECT * FROM (SELECT {self.key}, {provenance},"
                f" min(row_n) AS source_row FROM {good} SEMI JOIN {suspects} s"
                f" ON hash({self.key}) = s.h GROUP BY ALL) d"
                f" WHERE NOT EXISTS (SELECT 1 FROM {matches} m WHERE {same})"
            )
        # 4. The accepted, deduplicated rows in their final place in the staging area.
        written = self._scalar(
            f"COPY ({rows}) TO {sql_literal(str(staging / data))}"
            " (FORMAT parquet, COMPRESSION zstd)",
            f"write {name}",
        )
        stem = f"{self.kind}-{digest.sha256}-{options[:16]}"
        rejects, rejected = self._rejects(_part(pre, ok=False), staging, stem)
        shutil.rmtree(pre, ignore_errors=True)
        if rows_read != accepted + rejected:  # every row is counted once, or we have a bug
            raise IngestError(f"{src.path}: {rows_read} rows read but {accepted} + {rejected}")
        for table in ("ip_seen", "ip_map", "match", "suspects", "shift"):
            self.con.execute(f"DROP TABLE IF EXISTS {src.table(table)}")
        return ManifestEntry(
            kind=self.kind,
            sha256=digest.sha256,
            options=options,
            source=str(src.path),
            format=src.fmt,
            size=digest.size,
            rows_read=rows_read,
            accepted=accepted,
            rejected=rejected,
            duplicates=accepted - written,
            written=written,
            data=data,
            rejects=rejects,
            ingested_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            assume_tz=self.tz,
        )

    def _earlier(self, others: list[Path]) -> str:
        """The earlier inputs' key columns, by name: an input ingested before a column was
        added (the catalog's viewed_by_provider) reads it as NULL."""
        paths = ", ".join(sql_literal(str(p)) for p in others)
        files = f"read_parquet([{paths}], union_by_name = true)"
        described = self.con.execute(f"DESCRIBE SELECT * FROM {files}").fetchall()
        present = {str(row[0]) for row in described}
        cols = ", ".join(c if c in present else f"NULL AS {c}" for c in self.key.split(", "))
        return f"(SELECT {cols} FROM {files})"

    def _validated(self, ip_seen: str) -> str:
        raw = self.src.rows(numbered=True)
        if self.kind == "accounts":
            return validate.accounts_sql(raw)
        if self.kind == "catalog":
            return validate.catalog_sql(raw)
        ip_map = self.src.table("ip_map")
        pattern = sql_literal(validate.IPV4_CANONICAL)
        odd = self.con.execute(
            f"SELECT given FROM {ip_seen} WHERE given IS NOT NULL"
            f" AND NOT regexp_full_match(given, {pattern})"
        ).fetchall()
        given, canonical = validate.canonical_ips(str(row[0]) for row in odd)
        self.con.register("kt_ip_odd", pa.table({"given": given, "ip": canonical}, _IP_SCHEMA))
        try:
            self.con.execute(
                f"CREATE TEMP TABLE {ip_map} AS SELECT given, given AS ip FROM {ip_seen}"
                f" WHERE regexp_full_match(given, {pattern}) UNION ALL SELECT * FROM kt_ip_odd"
            )
        finally:
            self.con.unregister("kt_ip_odd")
        return validate.records_sql(raw, self.src.types, self.src.mapping, self.tz, ip_map)

    def _rejects(self, bad: str | None, staging: Path, stem: str) -> tuple[str | None, int]:
        """(row, reason) of the rows validation or the parser rejected: (path, count)."""
        parts = [f"SELECT row_n, reason FROM {bad}"] if bad else []
        if self.src.skipped:
            rows, reasons = zip(*self.src.skipped, strict=True)
            table = self.src.table("skipped")
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {table} AS"
                " SELECT unnest($1::BIGINT[]) AS row_n, unnest($2::VARCHAR[]) AS reason",
                [list(rows), list(reasons)],
            )
            parts.append(f"SELECT row_n, reason FROM {table}")
        if not parts:
            return None, 0
        rel = f"rejects/{stem}.parquet"
        (staging / rel).parent.mkdir(parents=True, exist_ok=True)
        count = self._scalar(
            f"COPY (SELECT * FROM ({' UNION ALL '.join(parts)}) ORDER BY row_n)"
            f" TO {sql_literal(str(staging / rel))} (FORMAT parquet)"
        )
        self.con.execute(f"DROP TABLE IF EXISTS {self.src.table('skipped')}")
        return rel, count

    def _scalar(self, sql: str, stage: str | None = None) -> int:
        # fetchall, not fetchone: DuckDB 2 keeps a half-read result open and refuses the next call.
        rows = self._sql(sql, stage).fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def _sql(self, sql: str, stage: str | None = None) -> duckdb.DuckDBPyConnection:
        with (
            self._read_errors(stage),
            _polling(self.con, self.progress if stage else None, stage or ""),
        ):
            return self.con.execute(sql)

    @contextmanager
    def _read_errors(self, stage: str | None) -> Iterator[None]:
        """DuckDB failing on the file's content part-way (a damaged Parquet page, a compressed
        stream cut short, lines its CSV reader cannot split) fails the whole input, naming it."""
        try:
            yield
        except duckdb.InterruptException:
            raise
        except duckdb.Error as exc:
            raise IngestError(
                f"{self.src.path}: cannot read as {self.src.fmt}"
                f"{f' ({stage})' if stage else ''}: {duckdb_reason(exc, self.src.path)}"
            ) from exc


def _part(folder: Path, *, ok: bool) -> str | None:
    """The Parquet of one side of the validation split, or None when no row went that way."""
    side = folder / f"ok={str(ok).lower()}"
    if not any(side.glob("*.parquet")):
        return None
    return f"read_parquet({sql_literal(str(side / '*.parquet'))}, hive_partitioning = false)"


_IP_SCHEMA = pa.schema([("given", pa.string()), ("ip", pa.string())])


@contextmanager
def _polling(
    con: duckdb.DuckDBPyConnection, progress: Progress | None, stage: str
) -> Iterator[None]:
    """Report DuckDB's progress on the running query; the callback runs on a helper thread."""
    if progress is None:
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(0.25):
            done = con.query_progress()
            if done >= 0:
                progress(stage, int(done), 100)

    thread = threading.Thread(target=poll, name="kaitiaki-progress", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    progress(stage, 100, 100)
