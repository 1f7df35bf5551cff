"""The embedded engine: the shared SQL run by DuckDB over Parquet files or Arrow tables."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb

from kaitiaki.engines.base import (
    TABLES,
    Engine,
    EngineError,
    OutputFormat,
    QueryName,
    Source,
    SqlQueries,
    render,
    tables_of,
)
from kaitiaki.engines.duckdb_util import DuckDBSettings, open_duckdb, sql_ident, sql_literal
from kaitiaki.exports.csvcells import duckdb_safe_query

# Columns a query can do without: absent ones read as NULL.
OPTIONAL = {
    "flagged_objects": {"category", "hash_set"},
    "ip_geo": set(),
    "events": {"ip", "port"},
    "accounts": {"username", "email", "phone", "device_id"},
}


class DuckDBEngine(SqlQueries):
    """Runs ``engines/sql`` in one DuckDB connection; use as a context manager or close()."""

    name = "duckdb"

    def __init__(self, settings: DuckDBSettings | None = None) -> None:
        # Results come back in the queries' ORDER BY; keep it through the CSV formatting layer.
        self.con = open_duckdb(settings, preserve_order=True)
        # The one Spark function name DuckDB lacks, so the SQL files stay Spark-native.
        self.con.execute(
            "CREATE OR REPLACE TEMP MACRO array_join(l, sep) AS array_to_string(l, sep)"
        )
        self._count = 0

    def close(self) -> None:
        self.con.close()

    def query(self, name: QueryName, tables: Mapping[str, Source | None]) -> Any:
        """Run one query; the result as a ``pyarrow.Table``."""
        with self._bound(name, tables) as sql:
            return self.con.sql(sql).to_arrow_table()

    def export(
        self, name: QueryName, tables: Mapping[str, Source | None], out: Path, fmt: OutputFormat
    ) -> int:
        """Write a query's result to ``out`` (replaced whole, never left half-written)."""
        with self._bound(name, tables) as sql:
            return _copy(self.con, sql, out, fmt)

    def _bound(self, name: QueryName, tables: Mapping[str, Source | None]) -> _Binding:
        return _Binding(self, name, tables)

    def _bind(self, role: str, source: Source | None, cleanup: list[str]) -> str:
        """A temp view over ``source`` with exactly the role's columns.

        Adds to ``cleanup`` what undoes it as it goes, so a failure half-way leaks nothing.
        """
        self._count += 1
        view = f"kt_{role}_{self._count}"
        cleanup.append(f"DROP VIEW IF EXISTS {view}")
        columns = TABLES[role]
        if source is None or _is_empty_list(source):
            nulls = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in columns.items())
            self.con.execute(f"CREATE TEMP VIEW {view} AS SELECT {nulls} WHERE false")
            return view
        if isinstance(source, str | Path) or _is_path_list(source):
            paths = [source] if isinstance(source, str | Path) else list(source)
            relation = "read_parquet([" + ", ".join(_parquet_glob(p) for p in paths) + "])"
        else:  # an Arrow table, record batch reader or data frame
            arrow = f"{view}_arrow"
            cleanup.append(f"__unregister__{arrow}")
            self.con.register(arrow, source)
            relation = arrow
        try:
            have = {
                str(r[0]) for r in self.con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
            }
        except duckdb.Error as exc:
            raise EngineError(f"{role}: cannot read {source!r}: {exc}") from exc
        missing = [c for c in columns if c not in have and c not in OPTIONAL[role]]
        if missing:
            raise EngineError(f"{role}: no column {', '.join(missing)} in {source!r}")
        select = ", ".join(
            f"CAST({sql_ident(c) if c in have else 'NULL'} AS {t}) AS {c}"
            for c, t in columns.items()
        )
        self.con.execute(f"CREATE TEMP VIEW {view} AS SELECT {select} FROM {relation}")
        return view


def write_arrow(table: Any, out: Path, fmt: OutputFormat) -> int:
    """Write an Arrow table as ``export`` writes a query's result (another engine's answer)."""
    con = open_duckdb(DuckDBSettings(threads=1), preserve_order=True)
    try:
        con.register("kt_result", table)
        return _copy(con, "SELECT * FROM kt_result", out, fmt)
    finally:
        con.close()


def _copy(con: duckdb.DuckDBPyConnection, sql: str, out: Path, fmt: OutputFormat) -> int:
    """COPY a query to ``out`` through a temporary file; rows written."""
    if fmt == "csv":
        # Account ids and names come from suspects: no text cell may run as a formula.
        sql = duckdb_safe_query(con, _iso_timestamps(con, sql))
        options = "FORMAT csv, HEADER"
    elif fmt == "parquet":
        options = "FORMAT parquet, COMPRESSION zstd"
    else:
        raise EngineError(f"unknown output format {fmt!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex}.tmp")
    try:
        # fetchall: DuckDB 2 refuses new work while a result is left half-read.
        rows = con.execute(f"COPY ({sql}) TO {sql_literal(str(tmp))} ({options})").fetchall()
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return int(rows[0][0]) if rows else 0


def _iso_timestamps(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """Instants as ISO 8601 UTC with Z; fractions only when there are any."""
    described = con.execute(f"DESCRIBE ({sql})").fetchall()
    stamps = [str(r[0]) for r in described if str(r[1]) == "TIMESTAMP WITH TIME ZONE"]
    if not stamps:
        return sql
    formatted = ", ".join(
        f"strftime({c}, '%Y-%m-%dT%H:%M:%S') || CASE WHEN microsecond({c}) % 1000000 = 0"
        f" THEN '' ELSE strftime({c}, '.%f') END || 'Z' AS {c}"
        for c in map(sql_ident, stamps)
    )
    return f"SELECT * REPLACE ({formatted}) FROM ({sql})"


class _Binding:
    """Binds a query's tables for the length of a with-block, then drops the views."""

    def __init__(
        self, engine: DuckDBEngine, name: QueryName, tables: Mapping[str, Source | None]
    ) -> None:
        self.engine, self.name, self.tables = engine, name, tables
        self.cleanup: list[str] = []

    def __enter__(self) -> str:
        bound: dict[str, str] = {}
        try:
            for role in tables_of(self.name):
                if role not in TABLES:
                    raise EngineError(f"query {self.name}: unknown table {role}")
                if role not in self.tables and role != "ip_geo":
                    raise EngineError(f"query {self.name} needs the {role} table")
                bound[role] = self.engine._bind(role, self.tables.get(role), self.cleanup)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return render(self.name, bound)

    def __exit__(self, *exc: object) -> None:
        for step in reversed(self.cleanup):
            if step.startswith("__unregister__"):
                with contextlib.suppress(duckdb.Error):
                    self.engine.con.unregister(step.removeprefix("__unregister__"))
            else:
                self.engine.con.execute(step)
        self.cleanup = []


def _is_path_list(source: object) -> bool:
    return isinstance(source, Sequence) and all(isinstance(p, str | Path) for p in source)


def _is_empty_list(source: object) -> bool:
    return isinstance(source, list | tuple) and not source


def _parquet_glob(path: str | Path) -> str:
    """A folder means every Parquet file in it; a file or glob is taken as it is."""
    p = Path(path)
    return sql_literal(str(p / "*.parquet") if p.is_dir() else str(path))


def _conforms(engine: DuckDBEngine) -> Engine:
    """Never called: makes mypy check DuckDBEngine against the Engine protocol."""
    return engine
