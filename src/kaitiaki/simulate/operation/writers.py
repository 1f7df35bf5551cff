"""Access records written chunk by chunk as CSV, JSON Lines and/or Parquet, rows in one order."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.csv as pacsv  # type: ignore[import-untyped, unused-ignore]
import pyarrow.parquet as pq  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.simulate.operation.events import SCHEMA

FORMATS = ("csv", "jsonl", "parquet")


class RecordWriter:
    """Appends Arrow tables to ``records.<format>`` for each format asked for."""

    def __init__(self, out_dir: Path, formats: tuple[str, ...]) -> None:
        unknown = set(formats) - set(FORMATS)
        if unknown or not formats:
            raise ValueError(f"formats must be among {FORMATS}, got {formats}")
        self.paths = {fmt: out_dir / f"records.{fmt}" for fmt in dict.fromkeys(formats)}
        self._csv = self._parquet = None
        self._jsonl: Any = None
        if "csv" in self.paths:
            options = pacsv.WriteOptions(quoting_style="needed")
            self._csv = pacsv.CSVWriter(self.paths["csv"], SCHEMA, write_options=options)
        if "parquet" in self.paths:
            self._parquet = pq.ParquetWriter(self.paths["parquet"], SCHEMA, compression="zstd")
        if "jsonl" in self.paths:
            self._jsonl = self.paths["jsonl"].open("wb")
            self._scratch = out_dir / ".records.part.jsonl"
            self._db = duckdb.connect()
            self._db.execute("SET preserve_insertion_order = true")

    def write(self, table: pa.Table) -> None:
        if self._csv is not None:
            self._csv.write_table(table)
        if self._parquet is not None:
            self._parquet.write_table(table)
        if self._jsonl is not None:
            # DuckDB writes JSON Lines fast and in row order; append its output to ours.
            self._db.register("chunk", table)
            target = str(self._scratch).replace("'", "''")
            self._db.execute(f"COPY chunk TO '{target}' (FORMAT JSON)")
            self._db.unregister("chunk")
            self._jsonl.write(self._scratch.read_bytes())
            self._scratch.unlink()

    def close(self) -> None:
        for writer in (self._csv, self._parquet):
            if writer is not None:
                writer.close()
        if self._jsonl is not None:
            self._jsonl.close()
            self._db.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
