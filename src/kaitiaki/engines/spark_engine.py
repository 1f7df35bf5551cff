"""The scale-out engine: the same ``engines/sql`` files, run by Spark SQL over Parquet.

Inputs are bound as temp views with exactly the columns ``TABLES`` names (cast to Spark's types,
absent optional ones as NULL), and the query text is ``base.render`` of the shared file: there is
no Spark copy of the logic. Results come back as Arrow tables with DuckDB's column types, and
``export`` writes them through the DuckDB engine's writer, so the CSV and Parquet files of both
engines are the same bytes for the same answer. ``export_dataset`` writes a result as a Parquet
folder from the executors, for answers too big to bring to the driver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

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
from kaitiaki.engines.duckdb_engine import OPTIONAL, write_arrow
from kaitiaki.engines.spark_session import SparkSettings, spark_session

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# The engine-neutral types of TABLES in Spark SQL (Spark's TIMESTAMP is an instant).
_SPARK_TYPES = {
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "VARCHAR": "STRING",
    "INTEGER": "INT",
}


class SparkEngine(SqlQueries):
    """Runs ``engines/sql`` on a SparkSession (given, or built from ``settings``)."""

    name = "spark"

    def __init__(
        self, session: SparkSession | None = None, settings: SparkSettings | None = None
    ) -> None:
        self.spark = session or spark_session(settings)
        self._count = 0

    def close(self) -> None:
        # The session is shared (spark-submit's, or a test's); only our views are ours to drop.
        for view in [t.name for t in self.spark.catalog.listTables() if t.name.startswith("kt_")]:
            self.spark.catalog.dropTempView(view)

    def frame(self, name: QueryName, tables: Mapping[str, Source | None]) -> DataFrame:
        """The query as a Spark DataFrame (lazy); its input views stay until close()."""
        bound: dict[str, str] = {}
        try:
            for role in tables_of(name):
                if role not in TABLES:
                    raise EngineError(f"query {name}: unknown table {role}")
                if role not in tables and role != "ip_geo":
                    raise EngineError(f"query {name} needs the {role} table")
                bound[role] = self._bind(role, tables.get(role))
            return self.spark.sql(render(name, bound))
        except BaseException:
            self._drop(tables_of(name))  # a failure half-way leaves nothing bound
            raise

    def query(self, name: QueryName, tables: Mapping[str, Source | None]) -> Any:
        """Run one query; the result as a ``pyarrow.Table`` in DuckDB's column types."""
        frame = self.frame(name, tables)
        try:
            return _plain(frame.toArrow())
        except Exception as exc:  # Py4J and analysis errors: name the query
            raise EngineError(f"{name}: {_first_line(exc)}") from exc
        finally:
            self._drop(tables_of(name))

    def export(
        self, name: QueryName, tables: Mapping[str, Source | None], out: Path, fmt: OutputFormat
    ) -> int:
        """Write a query's result to one file, as the DuckDB engine writes it."""
        table = self.query(name, tables)
        return write_arrow(table, out, fmt)

    def export_dataset(
        self, name: QueryName, tables: Mapping[str, Source | None], out: str
    ) -> None:
        """Write a query's result as a Parquet folder (part files written by the executors)."""
        try:
            self.frame(name, tables).write.mode("overwrite").parquet(out)
        finally:
            self._drop(tables_of(name))

    def _drop(self, roles: Sequence[str]) -> None:
        prefixes = tuple(f"kt_{role}_" for role in roles)
        for table in self.spark.catalog.listTables():
            if table.name.startswith(prefixes):
                self.spark.catalog.dropTempView(table.name)

    def _bind(self, role: str, source: Source | None) -> str:
        """A temp view over ``source`` with exactly the role's columns."""
        self._count += 1
        view = f"kt_{role}_{self._count}"
        columns = TABLES[role]
        if source is None or _is_empty_list(source):
            nulls = ", ".join(f"CAST(NULL AS {_SPARK_TYPES[t]}) AS {c}" for c, t in columns.items())
            self.spark.sql(f"SELECT {nulls} WHERE false").createOrReplaceTempView(view)
            return view
        frame = self._read(role, source)
        have = set(frame.columns)
        missing = [c for c in columns if c not in have and c not in OPTIONAL[role]]
        if missing:
            raise EngineError(f"{role}: no column {', '.join(missing)} in {_shown(source)}")
        selected = [
            f"CAST({'`' + c + '`' if c in have else 'NULL'} AS {_SPARK_TYPES[t]}) AS {c}"
            for c, t in columns.items()
        ]
        frame.selectExpr(*selected).createOrReplaceTempView(view)
        return view

    def _read(self, role: str, source: Source) -> DataFrame:
        from pyspark.sql import DataFrame

        if isinstance(source, DataFrame):
            return source
        try:
            if isinstance(source, str | Path) or _is_path_list(source):
                paths = [source] if isinstance(source, str | Path) else list(source)
                return self.spark.read.parquet(*[str(p) for p in paths])
            if isinstance(source, pa.RecordBatchReader):
                source = source.read_all()
            if isinstance(source, pa.Table):
                return self.spark.createDataFrame(_spark_ready(source))
            return self.spark.createDataFrame(source)
        except Exception as exc:
            raise EngineError(f"{role}: cannot read {_shown(source)}: {_first_line(exc)}") from exc


def _spark_ready(table: pa.Table) -> pa.Table:
    """Spark reads Arrow instants as timestamp[us]; narrow types it maps the same way."""
    fields = []
    for f in table.schema:
        if pa.types.is_timestamp(f.type):
            fields.append(pa.field(f.name, pa.timestamp("us", tz="UTC")))
        elif pa.types.is_large_string(f.type):
            fields.append(pa.field(f.name, pa.string()))
        else:
            fields.append(f)
    return table.cast(pa.schema(fields))


def _plain(table: pa.Table) -> pa.Table:
    """Spark's Arrow with DuckDB's types: nullable, string not large_string, instants in UTC."""
    fields = []
    for f in table.schema:
        kind = f.type
        if pa.types.is_large_string(kind):
            kind = pa.string()
        elif pa.types.is_timestamp(kind):
            kind = pa.timestamp("us", tz="UTC")
        fields.append(pa.field(f.name, kind, nullable=True))
    return table.cast(pa.schema(fields))


def _is_path_list(source: object) -> bool:
    return isinstance(source, Sequence) and all(isinstance(p, str | Path) for p in source)


def _is_empty_list(source: object) -> bool:
    return isinstance(source, list | tuple) and not source


def _shown(source: object) -> str:
    return repr(source) if isinstance(source, str | Path | list | tuple) else type(source).__name__


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _conforms(engine: SparkEngine) -> Engine:
    """Never called: makes mypy check SparkEngine against the Engine protocol."""
    return engine
