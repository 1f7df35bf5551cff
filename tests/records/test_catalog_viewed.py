"""The catalog's ``viewed_by_provider`` column: read strictly from CSV, JSON Lines and Parquet.

A clear yes or no becomes a boolean, empty stays unknown, anything else rejects the row naming
the row and the column (a guess would decide who may open the file).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records_samples import events, rejects, write_csv, write_jsonl

from kaitiaki.records import ingest_records, parse_mapping
from kaitiaki.records.validate import VIEWED_VALUES

MD5 = "0123456789abcdef0123456789abcdef"
HEADER = ["object_id", "md5", "viewed_by_provider"]


def test_csv_values_are_read_strictly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog = write_csv(
        tmp_path / "catalog.csv",
        [
            ["o1", MD5, "true"],
            ["o2", MD5, " FALSE "],
            ["o3", MD5, "Yes"],
            ["o4", MD5, "0"],
            ["o5", MD5, ""],
            ["o6", MD5, "maybe"],
            ["o7", MD5, "2"],
            ["o8", MD5, '=HYPERLINK("x")'],
        ],
        header=HEADER,
    )
    result = ingest_records([catalog], tmp_path / "ws", kind="catalog")
    viewed = {r["object_id"]: r["viewed_by_provider"] for r in events(tmp_path / "ws", "catalog")}
    assert viewed == {"o1": True, "o2": False, "o3": True, "o4": False, "o5": None}
    problem = "viewed_by_provider is not true/false, yes/no or 1/0: "
    got = rejects(result)
    assert got[:2] == [
        ("catalog.csv", 6, problem + "maybe"),
        ("catalog.csv", 7, problem + "2"),
    ]
    assert got[2][:2] == ("catalog.csv", 8) and got[2][2].startswith(problem)


def test_a_catalog_without_the_column_says_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    catalog = write_csv(tmp_path / "catalog.csv", [["o1", MD5]], header=["object_id", "md5"])
    ingest_records([catalog], tmp_path / "ws", kind="catalog")
    [row] = events(tmp_path / "ws", "catalog")
    assert row["viewed_by_provider"] is None


def test_jsonl_and_parquet_booleans_and_a_mapped_column(tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = write_jsonl(
        tmp_path / "catalog.jsonl",
        [
            {"object_id": "j1", "md5": MD5, "seen": True},
            {"object_id": "j2", "md5": MD5, "seen": False},
            {"object_id": "j3", "md5": MD5, "seen": "perhaps"},
            {"object_id": "j4", "md5": MD5},
        ],
    )
    mapping = parse_mapping('[catalog]\nviewed_by_provider = "seen"\n')
    result = ingest_records([lines], tmp_path / "ws", kind="catalog", mapping=mapping)
    viewed = {r["object_id"]: r["viewed_by_provider"] for r in events(tmp_path / "ws", "catalog")}
    assert viewed == {"j1": True, "j2": False, "j4": None}
    assert [(row, reason.split(": ")[-1]) for _, row, reason in rejects(result)] == [(3, "perhaps")]
    table = pa.table(
        {
            "object_id": ["p1", "p2", "p3"],
            "md5": [MD5, MD5, MD5],
            "viewed_by_provider": pa.array([True, None, False], pa.bool_()),
        }
    )
    pq.write_table(table, tmp_path / "catalog.parquet")
    ingest_records([tmp_path / "catalog.parquet"], tmp_path / "ws2", kind="catalog")
    viewed = {r["object_id"]: r["viewed_by_provider"] for r in events(tmp_path / "ws2", "catalog")}
    assert viewed == {"p1": True, "p2": None, "p3": False}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(value=st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"), max_size=12))
def test_only_the_listed_spellings_are_accepted(
    tmp_path_factory: pytest.TempPathFactory, value: str
) -> None:
    folder = tmp_path_factory.mktemp("viewed")
    catalog = write_csv(folder / "catalog.csv", [["o1", MD5, value]], header=HEADER)
    result = ingest_records([catalog], folder / "ws", kind="catalog")
    rows = events(folder / "ws", "catalog")
    spelled = value.strip(" ").lower()  # trimmed of spaces, as the catalog's text columns
    if not spelled:
        assert [r["viewed_by_provider"] for r in rows] == [None]
    elif spelled in VIEWED_VALUES:
        assert [r["viewed_by_provider"] for r in rows] == [VIEWED_VALUES[spelled]]
    else:
        assert rows == [] and rejects(result)[0][1] == 1
