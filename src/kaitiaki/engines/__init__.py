"""Analytics engines: the shared SQL in ``engines/sql``, run by DuckDB (embedded) or Spark."""

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
from kaitiaki.engines.duckdb_engine import DuckDBEngine
from kaitiaki.engines.duckdb_util import DuckDBSettings, open_duckdb

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
