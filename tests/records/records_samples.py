"""Helpers for the records tests: small provider files, workspace snapshots, reading results."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from kaitiaki.records import IngestResult, ingested_files

HEADER = ["timestamp", "account_id", "action", "object_id", "ip", "port"]


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_jsonl(path: Path, lines: list[dict[str, Any] | str]) -> Path:
    """Dicts become JSON objects; strings are written as they are (malformed lines, blanks)."""
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def events(workspace: Path, kind: str = "records") -> list[dict[str, Any]]:
    """Every committed row of one kind, sorted by source_row."""
    rows: list[dict[str, Any]] = []
    for path in ingested_files(workspace, kind):  # type: ignore[arg-type]
        rows += pq.read_table(path).to_pylist()
    return sorted(rows, key=lambda r: (r["source_sha256"], r["source_row"]))


def utc(value: datetime) -> str:
    """An aware datetime as ISO 8601 UTC (``2024-03-09T13:30:00Z``)."""
    assert value.utcoffset() is not None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rejects(result: IngestResult) -> list[tuple[str, int, str]]:
    with result.rejects_path.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == ["file", "row", "reason"]
        return [(Path(r["file"]).name, int(r["row"]), r["reason"]) for r in reader]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the SHA-256 of its content."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
