"""Timestamps: explicit zones in every ISO 8601 spelling, --assume-tz, DST gaps and overlaps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from records_samples import events, rejects, utc, write_csv

from kaitiaki.records import NO_ZONE, ingest_records, parse_mapping


def _ingest(
    folder: Path, stamps: list[str], **kwargs: Any
) -> tuple[list[str], list[tuple[str, int, str]]]:
    """Ingest one row per stamp; (UTC value or "" per stamp, rejects)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [[stamp, f"acct{i}", "view", "o", "192.0.2.1", ""] for i, stamp in enumerate(stamps)]
    result = ingest_records([write_csv(folder / "t.csv", rows)], folder / "ws", **kwargs)
    by_row = {e["source_row"]: utc(e["timestamp"]) for e in events(folder / "ws")}
    return [by_row.get(i + 1, "") for i in range(len(stamps))], rejects(result)


def test_explicit_zones_in_every_spelling(tmp_path: Path) -> None:
    stamps = [
        "2024-03-10T02:30:00Z",
        "2024-03-10T02:30:00z",
        "2024-03-10 02:30:00 UTC",
        "2024-03-10T02:30:00+13:00",
        "2024-03-10T02:30:00+1300",
        "2024-03-10T02:30:00+13",
        "2024-03-10T02:30:00 -05:30",
        "2024-03-10T02:30Z",
        "2024-03-10T02:30:00.250000Z",
        "2024-03-10T02:30:00,5+00:00",
    ]
    got, bad = _ingest(tmp_path, stamps)
    assert bad == []
    assert got == [
        "2024-03-10T02:30:00Z",
        "2024-03-10T02:30:00Z",
        "2024-03-10T02:30:00Z",
        "2024-03-09T13:30:00Z",
        "2024-03-09T13:30:00Z",
        "2024-03-09T13:30:00Z",
        "2024-03-10T08:00:00Z",
        "2024-03-10T02:30:00Z",
        "2024-03-10T02:30:00.250000Z",
        "2024-03-10T02:30:00.500000Z",
    ]


@pytest.mark.parametrize(
    "stamp",
    ["2024-02-30T00:00:00Z", "2024-03-10", "10/03/2024 02:30", "2024-03-10T02:30:00+25:00", "x"],
)
def test_unparseable_timestamps_are_rejected(tmp_path: Path, stamp: str) -> None:
    _, bad = _ingest(tmp_path, [stamp])
    assert bad == [("t.csv", 1, "unparseable timestamp")]


def test_no_zone_is_rejected_unless_one_is_assumed(tmp_path: Path) -> None:
    _, bad = _ingest(tmp_path, ["2024-07-01 12:00:00"])
    assert bad == [("t.csv", 1, NO_ZONE)]
    got, bad = _ingest(
        tmp_path / "again",
        ["2024-07-01 12:00:00", "2024-07-01T12:00:00Z"],
        assume_tz="Pacific/Auckland",
    )
    # The assumed zone applies only where the value has none.
    assert (got, bad) == (["2024-07-01T00:00:00Z", "2024-07-01T12:00:00Z"], [])


def test_dst_gap_and_overlap_are_rejected_and_their_edges_exact(tmp_path: Path) -> None:
    zone = "America/New_York"
    stamps = [
        "2024-03-10 01:59:59",  # last second before the spring-forward gap
        "2024-03-10 02:30:00",  # in the gap: never happened
        "2024-03-10 03:00:00",  # first wall time after the gap
        "2024-11-03 00:59:59",  # last unambiguous second before the overlap
        "2024-11-03 01:30:00",  # twice that night: ambiguous
        "2024-11-03 02:00:00",  # after the overlap
        "2024-07-04 12:00:00",  # nowhere near a transition
    ]
    got, bad = _ingest(tmp_path, stamps, assume_tz=zone)
    assert bad == [
        ("t.csv", 2, f"nonexistent local time in {zone} (DST gap)"),
        ("t.csv", 5, f"ambiguous local time in {zone} (DST overlap)"),
    ]
    for stamp, value in zip(stamps, got, strict=True):
        if value:
            local = datetime.fromisoformat(stamp).replace(tzinfo=ZoneInfo(zone))
            assert value == utc(local.astimezone(UTC)), stamp


def test_southern_hemisphere_transitions(tmp_path: Path) -> None:
    zone = "Pacific/Auckland"  # DST ends first Sunday of April, starts last Sunday of September
    got, bad = _ingest(
        tmp_path,
        ["2024-04-07 02:30:00", "2024-09-29 02:30:00", "2024-04-07 03:00:00"],
        assume_tz=zone,
    )
    assert [reason for _, _, reason in bad] == [
        f"ambiguous local time in {zone} (DST overlap)",
        f"nonexistent local time in {zone} (DST gap)",
    ]
    assert got[2] == "2024-04-06T15:00:00Z"


def test_epoch_timestamps_only_when_the_mapping_says_so(tmp_path: Path) -> None:
    got, bad = _ingest(tmp_path, ["1700000000", "1700000000.5"])
    assert [reason for _, _, reason in bad] == ["unparseable timestamp"] * 2
    seconds = parse_mapping('[records]\ntimestamp_format = "epoch_seconds"')
    got, bad = _ingest(
        tmp_path / "s", ["1700000000", "1700000000.5", "-1", "17e8"], mapping=seconds
    )
    assert got[:3] == [
        "2023-11-14T22:13:20Z",
        "2023-11-14T22:13:20.500000Z",
        "1969-12-31T23:59:59Z",
    ]
    assert bad == [("t.csv", 4, "unparseable timestamp")]
    millis = parse_mapping('[records]\ntimestamp_format = "epoch_millis"')
    got, _ = _ingest(tmp_path / "ms", ["1700000000123"], mapping=millis)
    assert got == ["2023-11-14T22:13:20.123000Z"]
