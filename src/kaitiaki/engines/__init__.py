"""Analytics engines: the shared SQL in ``engines/sql``, run by DuckDB (embedded) or Spark."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kaitiaki.engines.base import (
    QUERIES,
    TABLES,
    Engine,
    EngineError,
    OutputFormat,
    QueryName,
    Source,
    query_text,
    render,
    write_flagged_accounts,
)
from kaitiaki.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from kaitiaki.engines.duckdb_engine import DuckDBEngine
    from kaitiaki.engines.duckdb_util import DuckDBSettings, open_duckdb

# Loaded on first use: DuckDB is large, and the web server's worker processes import this
# package without running a query.
_LAZY = {
    "DuckDBEngine": "kaitiaki.engines.duckdb_engine",
    "DuckDBSettings": "kaitiaki.engines.duckdb_util",
    "open_duckdb": "kaitiaki.engines.duckdb_util",
}

__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "QUERIES",
    "TABLES",
    "DuckDBEngine",
    "DuckDBSettings",
    "Engine",
    "EngineError",
    "OutputFormat",
    "QueryName",
    "Source",
    "open_duckdb",
    "query_text",
    "render",
    "write_flagged_accounts",
]
