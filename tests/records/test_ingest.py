"""Ingest of access records: formats, mapping, rejects with row numbers, dedup, idempotence."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from records_samples import events, rejects, snapshot, utc, write_csv, write_jsonl

from kaitiaki.records import (
    NO_ZONE,
    IngestError,
    ingest_records,
    parse_mapping,
    read_manifest,
)
from kaitiaki.records.workspace import locked

MAPPING = parse_mapping(
    """
[records]
timestamp = "event_time"
account_id = "user"
action = "op"
object_id = "blob"
ip = "client_ip"
port = "client_port"

[records.action_values]
upload = "PUT"
download = ["GET", "fetch"]
"""
)
PROVIDER_HEADER = ["event_time", "user", "op", "blob", "client_ip", "client_port", "extra"]


def test_csv_with_mapping_rejects_each_bad_row_with_its_number_and_reason(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "export.csv",
        [
            ["2024-03-10T02:30:00Z", "alice", "PUT", "o1", "2001:DB8::0:1", "443", "x"],  # 1
            ["2024-03-10 02:30:00+13:00", "bob", "get", "o2", "::ffff:192.0.2.1", "", ""],  # 2
            ["yesterday", "carol", "view", "o2", "10.0.0.1", "80", ""],  # 3
            ["2024-03-10T02:30:00Z", "", "view", "o2", "10.0.0.1", "80", ""],  # 4
            ["2024-03-10T02:30:00Z", "dave", "delete", "o2", "10.0.0.1", "80", ""],  # 5
            ["2024-03-10T02:30:00Z", "dave", "view", "o2", "10.0.0.256", "80", ""],  # 6
            ["2024-03-10T02:30:00Z", "dave", "view", "o2", "10.0.0.1", "70000", ""],  # 7
            ["2024-03-10T02:30:00Z", "dave", "view", "o2", "10.0.0.1", "-1", ""],  # 8
            ["2024-03-10T02:30:00Z", "dave", "view", "", "10.0.0.1", "80", ""],  # 9
            ["2024-03-10T02:30:00Z", "erin", "Share-Link", "o3", "10.0.0.2", "8080", ""],  # 10
            ["2024-03-10 02:30:00", "frank", "view", "o3", "10.0.0.1", "80", ""],  # 11
            ["2024-03-10T02:30:00Z", "gina", "view", "o3", "", "8080", ""],  # 12
        ],
        header=PROVIDER_HEADER,
    )
    result = ingest_records([source], tmp_path / "ws", mapping=MAPPING)

    assert (result.rows_read, result.accepted, result.rejected) == (12, 3, 9)
    assert rejects(result) == [
        ("export.csv", 3, "unparseable timestamp"),
        ("export.csv", 4, "missing account_id"),
        ("export.csv", 5, "unknown action: delete"),
        ("export.csv", 6, "invalid IP address"),
        ("export.csv", 7, "invalid port"),
        ("export.csv", 8, "invalid port"),
        ("export.csv", 9, "missing object_id"),
        ("export.csv", 11, NO_ZONE),
        ("export.csv", 12, "missing IP address"),
    ]
    assert result.rejected_by_reason["invalid port"] == 2
    got = [
        (utc(e["timestamp"]), e["account_id"], e["action"], e["ip"], e["port"], e["source_row"])
        for e in events(tmp_path / "ws")
    ]
    assert got == [
        ("2024-03-10T02:30:00Z", "alice", "upload", "2001:db8::1", 443, 1),
        ("2024-03-09T13:30:00Z", "bob", "download", "192.0.2.1", None, 2),
        ("2024-03-10T02:30:00Z", "erin", "share", "10.0.0.2", 8080, 10),
    ]


def test_missing_mapped_column_fails_naming_it(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "export.csv",
        [["2024-01-01T00:00:00Z", "a", "view", "o"]],
        header=["event_time", "user", "op", "object"],
    )
    with pytest.raises(IngestError, match=r"'blob' \(for object_id\)"):
        ingest_records([source], tmp_path / "ws", mapping=MAPPING)
    assert read_manifest(tmp_path / "ws") == []


def test_csv_parser_rejects_and_blank_lines_keep_row_numbers_right(tmp_path: Path) -> None:
    source = tmp_path / "broken.csv"
    source.write_text(
        "timestamp,account_id,action,object_id,ip,port\n"
        "2024-01-01T00:00:00Z,a,view,o1,10.0.0.1,1\n"  # 1
        "\n"  # 2: blank, not a record
        "2024-01-01T00:00:00Z,b,view,o1,10.0.0.1,2,surplus\n"  # 3: too many columns
        "2024-01-01T00:00:00Z,c,view,o1,10.0.0.1,3\n"  # 4
        "2024-01-01T00:00:00Z,d,view,o1,10.0.0.1,99999\n"  # 5
        "2024-01-01T00:00:00Z,e,view,o1,10.0.0.1,5\n",  # 6
        encoding="utf-8",
    )
    result = ingest_records([source], tmp_path / "ws")
    assert rejects(result) == [
        ("broken.csv", 3, "malformed CSV row: too many columns"),
        ("broken.csv", 5, "invalid port"),
    ]
    assert [(e["account_id"], e["source_row"]) for e in events(tmp_path / "ws")] == [
        ("a", 1),
        ("c", 4),
        ("e", 6),
    ]
    assert (result.rows_read, result.accepted, result.rejected) == (5, 3, 2)


def test_jsonl_line_numbers_cover_malformed_lines_and_blank_lines(tmp_path: Path) -> None:
    good = {
        "event_time": "2024-01-01T00:00:00+00:00",
        "user": "a",
        "op": "fetch",
        "blob": "o1",
        "client_ip": "10.0.0.1",
        "client_port": 443,
    }
    source = write_jsonl(
        tmp_path / "export.jsonl",
        [
            good,  # line 1
            "{not json",  # 2
            "",  # 3: blank, skipped
            "[1, 2]",  # 4
            {**good, "user": 7, "client_port": "x"},  # 5
            {**good, "user": "b", "client_ip": None},  # 6
        ],
    )
    result = ingest_records([source], tmp_path / "ws", mapping=MAPPING)
    assert rejects(result) == [
        ("export.jsonl", 2, "malformed JSON"),
        ("export.jsonl", 4, "not a JSON object"),
        ("export.jsonl", 5, "invalid port"),
        ("export.jsonl", 6, "missing IP address"),
    ]
    got = [
        (e["account_id"], e["action"], e["ip"], e["port"], e["source_row"])
        for e in events(tmp_path / "ws")
    ]
    assert got == [("a", "download", "10.0.0.1", 443, 1)]
    assert result.rows_read == 5


def test_parquet_typed_columns_and_rows_counted_from_one(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array(
                [1_700_000_000_000_000, None, 1_700_000_001_000_000], pa.timestamp("us", tz="UTC")
            ),
            "account_id": pa.array([1, 2, 3], pa.int64()),
            "action": ["upload", "view", "view"],
            "object_id": ["o1", "o2", "o3"],
            "ip": ["10.0.0.1", "10.0.0.2", "10.0.0.3"],
            "port": pa.array([80, 443, 70000], pa.int32()),
        }
    )
    pq.write_table(table, tmp_path / "export.parquet")
    result = ingest_records([tmp_path / "export.parquet"], tmp_path / "ws")
    assert rejects(result) == [
        ("export.parquet", 2, "missing timestamp"),
        ("export.parquet", 3, "invalid port"),
    ]
    [event] = events(tmp_path / "ws")
    assert (utc(event["timestamp"]), event["account_id"], event["source_row"]) == (
        "2023-11-14T22:13:20Z",
        "1",
        1,
    )


def test_parquet_wall_clock_timestamps_need_a_zone(tmp_path: Path) -> None:
    table = pa.table(
        {
            "timestamp": pa.array([1_700_000_000_000_000], pa.timestamp("us")),
            "account_id": ["a"],
            "action": ["view"],
            "object_id": ["o"],
            "ip": ["192.0.2.1"],
        }
    )
    pq.write_table(table, tmp_path / "naive.parquet")
    first = ingest_records([tmp_path / "naive.parquet"], tmp_path / "ws")
    assert rejects(first) == [("naive.parquet", 1, NO_ZONE)]
    second = ingest_records([tmp_path / "naive.parquet"], tmp_path / "ws", assume_tz="Asia/Tokyo")
    assert second.written == 1
    assert utc(events(tmp_path / "ws")[0]["timestamp"]) == "2023-11-14T13:13:20Z"


def test_duplicates_within_a_file_are_dropped_keeping_the_first_row(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "dups.csv",
        [
            ["2024-01-01T00:00:00Z", "a", "view", "o1", "2001:db8::1", "80"],
            ["2024-01-01 00:00:00+00:00", "a", "viewed", "o1", "2001:DB8::0:1", "80"],  # same
            ["2024-01-01T00:00:00Z", "a", "view", "o1", "2001:db8::1", ""],  # other port
            ["2024-01-01T00:00:00Z", "a", "view", "o1", "2001:db8::1", ""],  # same as 3
            ["2024-01-01T00:00:01Z", "a", "view", "o1", "2001:db8::1", "80"],
        ],
    )
    result = ingest_records([source], tmp_path / "ws")
    assert (result.accepted, result.duplicates, result.written) == (5, 2, 3)
    assert sorted(e["source_row"] for e in events(tmp_path / "ws")) == [1, 3, 5]


def test_reingest_is_a_noop_and_overlap_with_earlier_input_is_dropped(tmp_path: Path) -> None:
    rows = [["2024-01-01T00:00:00Z", "a", "view", f"o{i}", "10.0.0.1", "80"] for i in range(4)]
    first = write_csv(tmp_path / "first.csv", rows)
    ws = tmp_path / "ws"
    ingest_records([first], ws)
    again = ingest_records([first], ws)
    assert (again.skipped, again.files[0].status, again.written) == (1, "skipped", 4)
    assert len(events(ws)) == 4 and len(read_manifest(ws)) == 1

    # Same content under another name: the SHA-256 says it is the same input.
    copy = tmp_path / "copy.csv"
    copy.write_bytes(first.read_bytes())
    assert ingest_records([copy], ws).skipped == 1

    # A later export repeating two events: only the new ones are written.
    later = write_csv(tmp_path / "later.csv", [*rows[2:], [*rows[0][:3], "o9", *rows[0][4:]]])
    result = ingest_records([later], ws)
    assert (result.accepted, result.duplicates, result.written) == (3, 2, 1)
    assert sorted(e["object_id"] for e in events(ws)) == ["o0", "o1", "o2", "o3", "o9"]


def test_same_file_with_other_options_replaces_its_earlier_output(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "local.csv",
        [
            ["2024-06-01 12:00:00", "a", "view", "o1", "192.0.2.1", ""],
            ["2024-06-01T12:00:00Z", "b", "view", "o1", "192.0.2.1", ""],
        ],
    )
    ws = tmp_path / "ws"
    assert ingest_records([source], ws).rejected == 1
    result = ingest_records([source], ws, assume_tz="Europe/Berlin")
    assert (result.rejected, result.written, result.duplicates) == (0, 2, 0)
    assert [utc(e["timestamp"]) for e in events(ws)] == [
        "2024-06-01T10:00:00Z",
        "2024-06-01T12:00:00Z",
    ]
    assert len(read_manifest(ws)) == 1
    assert len(list((ws / "records" / "events").glob("*.parquet"))) == 1


def test_failure_part_way_leaves_the_workspace_as_it_was(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    good = write_csv(
        tmp_path / "good.csv", [["2024-01-01T00:00:00Z", "a", "view", "o", "192.0.2.1", ""]]
    )
    ingest_records([good], ws)
    before = snapshot(ws)

    with pytest.raises(IngestError, match="not a readable file"):
        ingest_records([good, tmp_path / "missing.csv"], ws)
    assert snapshot(ws) == before

    other = write_csv(
        tmp_path / "other.csv", [["2024-01-02T00:00:00Z", "b", "view", "o", "192.0.2.1", ""]]
    )
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet at all")
    with pytest.raises(IngestError, match=r"corrupt\.parquet"):
        ingest_records([other, corrupt], ws)
    assert snapshot(ws) == before
    assert not (ws / "records" / "tmp").exists()


def test_progress_reports_stages(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "p.csv", [["2024-01-01T00:00:00Z", "a", "view", "o", "192.0.2.1", ""]]
    )
    seen: list[tuple[str, int, int]] = []
    ingest_records([source], tmp_path / "ws", progress=lambda *a: seen.append(a))
    stages = {stage for stage, _, _ in seen}
    assert {"hash p.csv", "read p.csv", "check p.csv", "write p.csv"} <= stages
    assert ("write p.csv", 100, 100) in seen


def test_unknown_zone_and_unknown_format_are_refused(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "x.csv", [])
    with pytest.raises(IngestError, match="unknown time zone"):
        ingest_records([source], tmp_path / "ws", assume_tz="Mars/Olympus")
    odd = tmp_path / "x.xlsx"
    odd.write_bytes(b"")
    with pytest.raises(IngestError, match="cannot tell the format"):
        ingest_records([odd], tmp_path / "ws")


def test_one_ingest_at_a_time_per_workspace(tmp_path: Path) -> None:
    source = write_csv(tmp_path / "x.csv", [])
    with locked(tmp_path / "ws"), pytest.raises(IngestError, match="another ingest"):
        ingest_records([source], tmp_path / "ws")


def test_gzipped_csv_with_blank_lines(tmp_path: Path) -> None:
    text = (
        "timestamp,account_id,action,object_id,ip,port\n\n"
        "2024-01-01T00:00:00Z,a,view,o,192.0.2.1,99999\n"
        "2024-01-01T00:00:00Z,b,view,o,192.0.2.1,\n"
    )
    path = tmp_path / "export.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    result = ingest_records([path], tmp_path / "ws")
    assert rejects(result) == [("export.csv.gz", 2, "invalid port")]
    assert [e["source_row"] for e in events(tmp_path / "ws")] == [3]
