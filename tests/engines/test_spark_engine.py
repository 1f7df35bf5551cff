"""The Spark engine runs the same SQL files and answers exactly what the DuckDB engine answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from engine_reference import Event, events_table, flagged_table, geo_table
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaitiaki.engines import DuckDBEngine, EngineError, write_flagged_accounts
from kaitiaki.engines.spark_engine import SparkEngine
from kaitiaki.engines.spark_session import (
    local_cores,
    resolve_master,
)

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

T0 = datetime(2024, 3, 10, 2, 30, tzinfo=UTC)
EVENTS = [
    Event(T0, "alice", "upload", "bad1", "10.0.0.1", 443),
    Event(T0 + timedelta(hours=1), "alice", "view", "bad1", "10.0.0.2"),
    Event(T0 + timedelta(hours=2), "alice", "share", "bad2", "2001:db8::1", 80),
    Event(T0 - timedelta(days=1), "alice", "view", "benign", "192.0.2.9"),
    Event(T0, "bob", "download", "bad2", None),
    Event(T0 + timedelta(microseconds=250_000), "bob", "download", "bad2", "10.0.0.9"),
    Event(T0, "carol", "view", "benign", "10.0.0.1"),
    Event(T0, "dave", "view", "bad3", "10.0.0.1"),
    Event(T0, "dave", "view", "bad3", "10.0.0.1"),  # told twice
]
FLAGGED = [("bad1", 1, "vics"), ("bad2", 2, "vics"), ("bad2", 0, "own"), ("bad3", None, "own")]
GEO = [("10.0.0.1", "NZ"), ("10.0.0.2", "AU"), ("2001:db8::1", "NZ"), ("10.0.0.9", "")]
TWO_TABLE = ["flagged_events", "distinct_flagged_ips", "flagged_ip_events", "flagged_ip_activity"]


@pytest.fixture(scope="module")
def engines(spark: SparkSession) -> Iterator[tuple[SparkEngine, DuckDBEngine]]:
    with SparkEngine(spark) as sparked, DuckDBEngine() as duck:
        yield sparked, duck


@pytest.mark.parametrize("name", TWO_TABLE)
def test_two_table_queries_equal_duckdb(
    engines: tuple[SparkEngine, DuckDBEngine], name: str
) -> None:
    sparked, duck = engines
    tables = (events_table(EVENTS), flagged_table(FLAGGED))
    got, want = getattr(sparked, name)(*tables), getattr(duck, name)(*tables)
    assert got.schema == want.schema
    assert got.to_pylist() == want.to_pylist()
    assert got.num_rows > 0


def test_flagged_accounts_and_identifiers_equal_duckdb(
    engines: tuple[SparkEngine, DuckDBEngine],
) -> None:
    sparked, duck = engines
    ev, fl, geo = events_table(EVENTS), flagged_table(FLAGGED), geo_table(GEO)
    assert sparked.flagged_accounts(ev, fl, geo).to_pylist() == (
        duck.flagged_accounts(ev, fl, geo).to_pylist()
    )
    accounts = pa.table(
        {
            "account_id": ["alice", "alice", "bob", "carol"],
            "username": ["al", None, "bobby", "c"],
            "email": [None, "a@example.org", None, None],
        }
    )
    got = sparked.flagged_account_identifiers(accounts, ev, fl)
    assert got.to_pylist() == duck.flagged_account_identifiers(accounts, ev, fl).to_pylist()
    assert [r["username"] for r in got.to_pylist()] == ["al", None, "bobby"]  # NULLS LAST


def test_written_files_are_the_same_bytes(
    engines: tuple[SparkEngine, DuckDBEngine], tmp_path: Path
) -> None:
    sparked, duck = engines
    ev, fl, geo = events_table(EVENTS), flagged_table(FLAGGED), geo_table(GEO)
    write_flagged_accounts(sparked, ev, fl, geo, tmp_path / "spark")
    write_flagged_accounts(duck, ev, fl, geo, tmp_path / "duck")
    csv_spark = (tmp_path / "spark" / "flagged_accounts.csv").read_text()
    assert csv_spark == (tmp_path / "duck" / "flagged_accounts.csv").read_text()
    assert "2024-03-10T02:30:00.250000Z" in csv_spark
    got = pq.read_table(tmp_path / "spark" / "flagged_accounts.parquet")
    assert (
        got.to_pylist() == pq.read_table(tmp_path / "duck" / "flagged_accounts.parquet").to_pylist()
    )


def test_parquet_inputs_empty_inputs_and_errors(
    engines: tuple[SparkEngine, DuckDBEngine], tmp_path: Path
) -> None:
    sparked, _ = engines
    pq.write_table(events_table(EVENTS), tmp_path / "events.parquet")
    got = sparked.flagged_events(str(tmp_path / "events.parquet"), flagged_table(FLAGGED))
    assert got.num_rows == 7
    assert sparked.flagged_accounts([], flagged_table(FLAGGED)).num_rows == 0
    with pytest.raises(EngineError, match="flagged_objects: no column object_id"):
        sparked.flagged_events(events_table(EVENTS), pa.table({"id": ["bad1"]}))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet")
    with pytest.raises(EngineError, match="events"):
        sparked.flagged_events(str(broken), flagged_table(FLAGGED))
    # Nothing bound is left behind, after a failure either.
    assert not [t for t in sparked.spark.catalog.listTables() if t.name.startswith("kt_")]


def test_master_from_option_environment_or_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAITIAKI_SPARK_MASTER", raising=False)
    assert resolve_master(None) == "local[2]"
    monkeypatch.setenv("KAITIAKI_SPARK_MASTER", "spark://head:7077")
    assert resolve_master(None) == "spark://head:7077"
    assert resolve_master("local[4]") == "local[4]"
    assert [local_cores(m) for m in ("local", "local[3]", "spark://head:7077")] == [1, 3, None]


ACCOUNT = st.sampled_from(["a", "b", "c"])
OBJECT = st.sampled_from(["x", "y", "z"])
IP = st.one_of(st.none(), st.sampled_from(["10.0.0.1", "10.0.0.2", "2001:db8::1"]))
EVENT = st.builds(
    Event,
    timestamp=st.integers(0, 5).map(lambda s: T0 + timedelta(seconds=s)),
    account_id=ACCOUNT,
    action=st.sampled_from(["upload", "download", "view", "share"]),
    object_id=OBJECT,
    ip=IP,
    port=st.one_of(st.none(), st.sampled_from([80, 443])),
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(EVENT, max_size=12),
    flagged=st.lists(
        st.tuples(OBJECT, st.one_of(st.none(), st.integers(0, 2)), ACCOUNT), max_size=3
    ),
)
def test_generated_cases_equal_duckdb(
    engines: tuple[SparkEngine, DuckDBEngine],
    events: list[Event],
    flagged: list[tuple[str, int | None, str]],
) -> None:
    sparked, duck = engines
    ev, fl, geo = events_table(events), flagged_table(flagged), geo_table(GEO)
    for name in TWO_TABLE:
        assert getattr(sparked, name)(ev, fl).to_pylist() == getattr(duck, name)(ev, fl).to_pylist()
    assert sparked.flagged_accounts(ev, fl, geo).to_pylist() == (
        duck.flagged_accounts(ev, fl, geo).to_pylist()
    )
