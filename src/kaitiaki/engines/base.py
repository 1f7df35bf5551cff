"""The analytics engine interface, the tables it reads, and the SQL that defines each query.

The logic lives in ``engines/sql/*.sql``, written in the SQL that DuckDB and Spark SQL both
accept and parameterised only by table names (``{events}``), so the Spark engine binds the same
names to its own tables and runs the same text. Nullable sort keys say NULLS LAST: the two
engines' defaults differ. An engine's own code only binds inputs,
runs, and formats output.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Protocol, Self, get_args

# Query names, one per file in engines/sql/.
QueryName = Literal[
    "flagged_events",
    "flagged_accounts",
    "distinct_flagged_ips",
    "flagged_ip_events",
    "flagged_ip_activity",
    "flagged_account_identifiers",
]
QUERIES: tuple[QueryName, ...] = get_args(QueryName)
OutputFormat = Literal["csv", "parquet"]

# The tables the queries read and the columns they need, with engine-neutral SQL types.
# Extra columns in an input are ignored; a missing one is an error naming it.
TABLES: dict[str, dict[str, str]] = {
    "events": {
        "timestamp": "TIMESTAMP WITH TIME ZONE",
        "account_id": "VARCHAR",
        "action": "VARCHAR",
        "object_id": "VARCHAR",
        "ip": "VARCHAR",
        "port": "INTEGER",
    },
    "flagged_objects": {"object_id": "VARCHAR", "category": "VARCHAR", "hash_set": "VARCHAR"},
    "ip_geo": {"ip": "VARCHAR", "country": "VARCHAR"},
    "accounts": {
        "account_id": "VARCHAR",
        "username": "VARCHAR",
        "email": "VARCHAR",
        "phone": "VARCHAR",
        "device_id": "VARCHAR",
    },
}

# A table input: Parquet file(s) (paths, a folder or a glob) or an Arrow table.
Source = str | Path | Sequence[str | Path] | Any

_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")


class EngineError(Exception):
    """An input cannot be bound, or a query failed."""


def query_text(name: QueryName) -> str:
    """The portable SQL of one query, with ``{table}`` placeholders."""
    if name not in QUERIES:
        raise EngineError(f"unknown query {name!r}; expected one of {', '.join(QUERIES)}")
    return files("kaitiaki.engines").joinpath("sql", f"{name}.sql").read_text(encoding="utf-8")


def tables_of(name: QueryName) -> list[str]:
    """The table placeholders a query reads, in order of first use."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(query_text(name))))


def render(name: QueryName, bound: Mapping[str, str]) -> str:
    """The query with each ``{table}`` replaced by the engine's name for that table."""
    text = query_text(name)
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(bound))
    if missing:
        raise EngineError(f"query {name} needs table(s) {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda m: bound[m.group(1)], text)


class Engine(Protocol):
    """What the accounts stage asks of an analytics engine. Results are Arrow tables.

    ``events`` is what ``records.ingested_files(workspace)`` lists; ``flagged_objects`` has
    (object_id, category, hash_set) and may list an object more than once; ``ip_geo`` has
    (ip, country) and may be None when nothing is geolocated yet.
    """

    def flagged_events(self, events: Source, flagged_objects: Source) -> Any: ...

    def flagged_accounts(
        self, events: Source, flagged_objects: Source, ip_geo: Source | None = None
    ) -> Any: ...

    def distinct_flagged_ips(self, events: Source, flagged_objects: Source) -> Any: ...

    def flagged_ip_events(self, events: Source, flagged_objects: Source) -> Any: ...

    def flagged_ip_activity(self, events: Source, flagged_objects: Source) -> Any: ...

    def flagged_account_identifiers(
        self, accounts: Source, events: Source, flagged_objects: Source
    ) -> Any: ...

    def export(
        self, name: QueryName, tables: Mapping[str, Source | None], out: Path, fmt: OutputFormat
    ) -> int:
        """Run a query straight into a file (timestamps as ISO 8601 UTC in CSV); rows written."""
        ...

    def close(self) -> None: ...


class SqlQueries(ABC):
    """The Engine protocol's queries, each one ``engines/sql`` file; an engine supplies ``query``.

    Both engines run the same SQL, so they share this one mapping from method to query and
    tables rather than each spelling it out.
    """

    @abstractmethod
    def query(self, name: QueryName, tables: Mapping[str, Source | None]) -> Any:
        """Run one query; the result as a ``pyarrow.Table``."""

    @abstractmethod
    def close(self) -> None:
        """Release what the engine holds (its connection, or its views on a shared session)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def flagged_events(self, events: Source, flagged_objects: Source) -> Any:
        return self.query("flagged_events", {"events": events, "flagged_objects": flagged_objects})

    def flagged_accounts(
        self, events: Source, flagged_objects: Source, ip_geo: Source | None = None
    ) -> Any:
        tables = {"events": events, "flagged_objects": flagged_objects, "ip_geo": ip_geo}
        return self.query("flagged_accounts", tables)

    def distinct_flagged_ips(self, events: Source, flagged_objects: Source) -> Any:
        tables = {"events": events, "flagged_objects": flagged_objects}
        return self.query("distinct_flagged_ips", tables)

    def flagged_ip_events(self, events: Source, flagged_objects: Source) -> Any:
        tables = {"events": events, "flagged_objects": flagged_objects}
        return self.query("flagged_ip_events", tables)

    def flagged_ip_activity(self, events: Source, flagged_objects: Source) -> Any:
        tables = {"events": events, "flagged_objects": flagged_objects}
        return self.query("flagged_ip_activity", tables)

    def flagged_account_identifiers(
        self, accounts: Source, events: Source, flagged_objects: Source
    ) -> Any:
        tables = {"accounts": accounts, "events": events, "flagged_objects": flagged_objects}
        return self.query("flagged_account_identifiers", tables)


def write_flagged_accounts(
    engine: Engine,
    events: Source,
    flagged_objects: Source,
    ip_geo: Source | None,
    out_dir: Path,
) -> tuple[Path, Path]:
    """``flagged_accounts.csv`` and ``.parquet`` in ``out_dir``; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tables = {"events": events, "flagged_objects": flagged_objects, "ip_geo": ip_geo}
    csv_path, parquet_path = out_dir / "flagged_accounts.csv", out_dir / "flagged_accounts.parquet"
    engine.export("flagged_accounts", tables, csv_path, "csv")
    engine.export("flagged_accounts", tables, parquet_path, "parquet")
    return csv_path, parquet_path
