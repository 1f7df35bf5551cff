"""Opening DuckDB with bounded resources, and quoting for the SQL text we build."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def _cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _default_memory_limit() -> str:
    # Half the machine, at most 4 GiB: DuckDB spills past it, and the process stays well
    # under the 8 GB the issue budgets for 50 million events.
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return f"{max(256, min(4096, total // 2 >> 20))}MB"


@dataclass(frozen=True)
class DuckDBSettings:
    """Resource limits for one DuckDB connection; None picks the default."""

    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: Path | None = None


def open_duckdb(
    settings: DuckDBSettings | None = None, *, preserve_order: bool = False
) -> duckdb.DuckDBPyConnection:
    """An in-memory connection in UTC that spills to ``temp_directory`` and loads no extension.

    Extensions that are not built in would be downloaded at run time, which fails offline and
    is not something an evidence tool should do silently, so autoloading is switched off.
    """
    import duckdb  # here, not at the top: most importers only need the quoting below

    settings = settings or DuckDBSettings()
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
    }
    con = duckdb.connect(":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET threads = {int(settings.threads or _cores())}")
    con.execute(
        f"SET memory_limit = {sql_literal(settings.memory_limit or _default_memory_limit())}"
    )
    if settings.temp_directory is not None:
        settings.temp_directory.mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = {sql_literal(str(settings.temp_directory))}")
    # Ingest needs no row order (row numbers are columns): not keeping it lets DuckDB write
    # Parquet in parallel with less memory. Query results keep their ORDER BY.
    con.execute(f"SET preserve_insertion_order = {str(preserve_order).lower()}")
    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    return con


def sql_literal(value: str) -> str:
    """A DuckDB string literal (doubled quotes; Spark would read these differently)."""
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    """A double-quoted DuckDB identifier."""
    return '"' + name.replace('"', '""') + '"'
