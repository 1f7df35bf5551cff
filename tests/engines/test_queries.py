"""The other queries, binding errors, and the SQL files staying portable."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_reference import Event, events_table, flagged_accounts, flagged_table, geo_table

from kaitiaki.engines import QUERIES, TABLES, DuckDBEngine, EngineError, query_text, render
from kaitiaki.records import ingest_records, ingested_files

T0 = datetime(2024, 1, 1, tzinfo=UTC)
EVENTS = [
    Event(T0, "a", "upload", "bad", "10.0.0.1", 443),
    Event(T0 + timedelta(seconds=1), "a", "view", "bad", "10.0.0.1", 443),
    Event(T0, "b", "view", "bad", "10.0.0.2"),
    Event(T0, "b", "view", "fine", "10.0.0.3"),
    Event(T0, "c", "view", "fine", "10.0.0.1"),
]
FLAGGED = flagged_table([("bad", 1, "x"), ("bad", 2, "y")])


@pytest.fixture(scope="module")
def engine() -> Iterator[DuckDBEngine]:
    with DuckDBEngine() as opened:
        yield opened


def test_flagged_events_once_each_despite_two_flag_rows(engine: DuckDBEngine) -> None:
    got = engine.flagged_events(events_table(EVENTS), FLAGGED).to_pylist()
    assert [(r["account_id"], r["action"]) for r in got] == [
        ("a", "upload"),
        ("a", "view"),
        ("b", "view"),
    ]


def test_distinct_flagged_ips(engine: DuckDBEngine) -> None:
    got = engine.distinct_flagged_ips(events_table(EVENTS), FLAGGED)
    assert got.column("ip").to_pylist() == ["10.0.0.1", "10.0.0.2"]


def test_flagged_ip_events(engine: DuckDBEngine) -> None:
    got = engine.flagged_ip_events(events_table(EVENTS), FLAGGED).to_pylist()
    assert [(r["ip"], r["port"], r["account_id"], r["timestamp"]) for r in got] == [
        ("10.0.0.1", 443, "a", T0),
        ("10.0.0.1", 443, "a", T0 + timedelta(seconds=1)),
        ("10.0.0.2", None, "b", T0),
    ]


def test_identifiers_of_flagged_accounts_only(engine: DuckDBEngine) -> None:
    accounts = pa.table(
        {
            "account_id": ["a", "a", "b", "c"],
            "username": ["ann", "ann2", "bo", "cy"],
            "email": [None, "a@example.org", None, None],
        }
    )  # phone and device_id absent: read as NULL
    got = engine.flagged_account_identifiers(accounts, events_table(EVENTS), FLAGGED).to_pylist()
    assert [(r["account_id"], r["username"], r["phone"]) for r in got] == [
        ("a", "ann", None),
        ("a", "ann2", None),
        ("b", "bo", None),
    ]


def test_ingested_workspace_end_to_end(engine: DuckDBEngine, tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    source.write_text(
        "timestamp,account_id,action,object_id,ip,port\n"
        + "".join(
            f"{e.timestamp.isoformat()},{e.account_id},{e.action},{e.object_id},{e.ip or ''},"
            f"{'' if e.port is None else e.port}\n"
            for e in EVENTS
        ),
        encoding="utf-8",
    )
    ingest_records([source], tmp_path / "ws")
    files = ingested_files(tmp_path / "ws")
    geo = [("10.0.0.1", "NZ")]
    got = engine.flagged_accounts(files, FLAGGED, geo_table(geo)).to_pylist()
    assert got == flagged_accounts(EVENTS, [("bad", 1, "x"), ("bad", 2, "y")], geo)
    # A folder of Parquet files binds too.
    assert engine.flagged_accounts(tmp_path / "ws" / "records" / "events", FLAGGED).num_rows == 2


def test_no_events_yet_gives_an_empty_answer(engine: DuckDBEngine) -> None:
    got = engine.flagged_accounts([], FLAGGED)
    assert got.num_rows == 0
    assert got.column_names[:3] == ["account_id", "flagged_files", "uploads"]


def test_missing_columns_and_unreadable_files_are_named(
    engine: DuckDBEngine, tmp_path: Path
) -> None:
    with pytest.raises(EngineError, match="flagged_objects: no column object_id"):
        engine.flagged_events(events_table(EVENTS), pa.table({"id": ["bad"]}))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(EngineError, match="events: cannot read"):
        engine.flagged_events(str(broken), FLAGGED)
    # Nothing bound is left behind after a failure.
    views = engine.con.execute("SELECT count(*) FROM duckdb_views() WHERE NOT internal").fetchall()
    assert views == [(0,)]


def test_export_parquet_keeps_types(engine: DuckDBEngine, tmp_path: Path) -> None:
    out = tmp_path / "events.parquet"
    rows = engine.export(
        "flagged_events",
        {"events": events_table(EVENTS), "flagged_objects": FLAGGED},
        out,
        "parquet",
    )
    assert rows == 3
    assert pq.read_schema(out).field("timestamp").type == pa.timestamp("us", tz="UTC")


# Constructs one engine has and the other lacks; the shared SQL must use none of them.
NOT_PORTABLE = [
    r"::",
    r"\bstring_agg\b",
    r"\blist_\w+",
    r"\bFILTER\s*\(",
    r"\bQUALIFY\b",
    r'"',
    r"`",
    r"\bUSING\s*\(",
    r"\bSEMI\b",
    r"\bANTI\b",
    r"\bILIKE\b",
    r"\bcollect_(list|set)\b",
    r"\bGROUP BY ALL\b",
    r"\bEXCLUDE\b",
]


@pytest.mark.parametrize("name", QUERIES)
def test_sql_files_use_only_the_portable_subset(name: str) -> None:
    text = "\n".join(line.split("--")[0] for line in query_text(name).splitlines())
    for pattern in NOT_PORTABLE:
        assert not re.search(pattern, text, re.IGNORECASE), (name, pattern)
    placeholders = set(re.findall(r"\{(\w+)\}", text))
    assert placeholders <= set(TABLES)
    assert "{" not in render(name, {t: f"t_{t}" for t in placeholders})
