"""flagged_accounts is exact: a hand-built case and generated ones against plain Python."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from engine_reference import (
    Event,
    events_table,
    flagged_accounts,
    flagged_table,
    geo_table,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from kaitiaki.engines import DuckDBEngine, write_flagged_accounts

T0 = datetime(2024, 3, 10, 2, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> Iterator[DuckDBEngine]:
    with DuckDBEngine() as opened:
        yield opened


EVENTS = [
    Event(T0, "alice", "upload", "bad1", "10.0.0.1", 443),
    Event(T0 + timedelta(hours=1), "alice", "view", "bad1", "10.0.0.2"),
    Event(T0 + timedelta(hours=2), "alice", "share", "bad2", "2001:db8::1", 80),
    Event(T0 - timedelta(days=1), "alice", "view", "benign", "192.0.2.9"),  # not flagged
    Event(T0, "bob", "download", "bad2", None),
    Event(T0 + timedelta(microseconds=250_000), "bob", "download", "bad2", "10.0.0.9"),
    Event(T0, "carol", "view", "benign", "10.0.0.1"),  # never touched flagged material
    Event(T0, "dave", "view", "bad3", "10.0.0.1"),
]
# bad2 is in two hash sets with two categories; bad3 has no category; category 0 is a value.
FLAGGED = [("bad1", 1, "vics"), ("bad2", 2, "vics"), ("bad2", 0, "own"), ("bad3", None, "own")]
GEO = [
    ("10.0.0.1", "NZ"),
    ("10.0.0.2", "AU"),
    ("2001:db8::1", "NZ"),
    ("10.0.0.9", ""),
    ("192.0.2.9", "US"),
]


def test_hand_built_case(engine: DuckDBEngine) -> None:
    got = engine.flagged_accounts(events_table(EVENTS), flagged_table(FLAGGED), geo_table(GEO))
    expected = flagged_accounts(EVENTS, FLAGGED, GEO)
    assert got.to_pylist() == expected
    alice, bob, dave = expected
    assert (alice["flagged_files"], alice["uploads"], alice["views"], alice["shares"]) == (
        2,
        1,
        1,
        1,
    )
    assert (alice["ips"], alice["countries"], alice["categories"]) == (3, "AU;NZ", "0;1;2")
    assert (bob["downloads"], bob["ips"], bob["countries"]) == (2, 1, None)
    assert (dave["categories"], dave["countries"]) == (None, "NZ")


def test_without_geolocation_countries_are_empty(engine: DuckDBEngine) -> None:
    got = engine.flagged_accounts(events_table(EVENTS), flagged_table(FLAGGED), None)
    assert [r["countries"] for r in got.to_pylist()] == [None, None, None]


def test_written_csv_and_parquet(engine: DuckDBEngine, tmp_path: Path) -> None:
    events_path = tmp_path / "events.parquet"
    pq.write_table(events_table(EVENTS), events_path)
    csv_path, parquet_path = write_flagged_accounts(
        engine, [events_path], flagged_table(FLAGGED), geo_table(GEO), tmp_path / "out"
    )
    with csv_path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == [
        "account_id",
        "flagged_files",
        "uploads",
        "downloads",
        "views",
        "shares",
        "first_seen",
        "last_seen",
        "ips",
        "countries",
        "categories",
    ]
    assert rows[0]["first_seen"] == "2024-03-10T02:30:00Z"
    assert rows[1]["last_seen"] == "2024-03-10T02:30:00.250000Z"
    assert rows[0]["countries"] == "AU;NZ" and rows[1]["countries"] == ""
    table = pq.read_table(parquet_path)
    assert table.to_pylist() == flagged_accounts(EVENTS, FLAGGED, GEO)
    assert not list((tmp_path / "out").glob(".*tmp"))


ACCOUNTS = st.sampled_from(["a", "b", "c", "d"])
OBJECTS = st.sampled_from(["o1", "o2", "o3", "o4", "o5"])
IPS = st.sampled_from([None, "10.0.0.1", "10.0.0.2", "2001:db8::1", "192.0.2.1"])
EVENT = st.builds(
    Event,
    timestamp=st.integers(0, 10_000).map(lambda s: T0 + timedelta(seconds=s)),
    account_id=ACCOUNTS,
    action=st.sampled_from(["upload", "download", "view", "share"]),
    object_id=OBJECTS,
    ip=IPS,
    port=st.one_of(st.none(), st.integers(0, 65535)),
)
FLAG = st.tuples(OBJECTS, st.one_of(st.none(), st.integers(0, 3)), st.sampled_from(["x", "y"]))
GEO_ROW = st.tuples(
    IPS.filter(lambda ip: ip is not None), st.sampled_from([None, "", "NZ", "AU", "US"])
)


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(EVENT, max_size=40),
    flagged=st.lists(FLAG, max_size=6),
    geo=st.lists(GEO_ROW, max_size=6),  # an IP may have two countries: both count
)
def test_generated_cases_match_the_reference(
    engine: DuckDBEngine,
    events: list[Event],
    flagged: list[tuple[str, int | None, str]],
    geo: list[tuple[str, str | None]],
) -> None:
    got = engine.flagged_accounts(events_table(events), flagged_table(flagged), geo_table(geo))
    assert got.to_pylist() == flagged_accounts(events, flagged, geo)
