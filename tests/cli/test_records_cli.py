"""`kaitiaki records ingest` and `kaitiaki geo locate` as a user runs them: each test's first
call in a process of its own, the calls after it in-process (a start-up each costs seconds)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from in_process import kaitiaki

KAITIAKI = [sys.executable, "-m", "kaitiaki"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KAITIAKI, *args], capture_output=True, text=True, timeout=120)


def test_records_ingest_reports_rejects_and_is_idempotent(tmp_path: Path) -> None:
    source = tmp_path / "access.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["timestamp", "account_id", "action", "object_id", "ip", "port"])
        writer.writerow(["2024-01-01T10:00:00+13:00", "a1", "upload", "o1", "203.0.113.9", "443"])
        writer.writerow(["2024-01-01T10:00:00", "a2", "view", "o1", "198.51.100.7", ""])
        writer.writerow(["2024-01-01T10:00:00Z", "a3", "delete", "o1", "198.51.100.7", ""])
    workspace = tmp_path / "ws"
    first = _run("records", "ingest", str(source), "--workspace", str(workspace))
    assert first.returncode == 0, first.stderr
    assert "ingested" in first.stdout
    with (workspace / "records" / "rejects.csv").open() as handle:
        rejects = [(r["row"], r["reason"]) for r in csv.DictReader(handle)]
    assert rejects == [
        ("2", "timestamp without time zone; pass --assume-tz"),
        ("3", "unknown action: delete"),
    ]
    again = kaitiaki("records", "ingest", str(source), "--workspace", str(workspace))
    assert again.exit_code == 0 and "skipped" in again.stdout
    bad_zone = kaitiaki(
        "records",
        "ingest",
        str(source),
        "--workspace",
        str(workspace),
        "--assume-tz",
        "Mars/Olympus",
    )
    assert bad_zone.exit_code == 1 and "Mars/Olympus" in bad_zone.stderr


def test_geo_locate_marks_scopes_and_routes(tmp_path: Path) -> None:
    done = _run("geo", "locate", "10.1.2.3", "100.64.0.9", "8.8.8.8", "not-an-ip")
    assert done.returncode == 0, done.stderr
    rows = {r["ip"] or "invalid": r for r in map(json.loads, done.stdout.splitlines())}
    assert rows["10.1.2.3"]["scope"] == "private" and rows["10.1.2.3"]["country"] is None
    assert rows["100.64.0.9"]["scope"] == "cgnat"
    assert rows["8.8.8.8"]["scope"] == "public" and rows["8.8.8.8"]["country"] == "US"
    assert rows["not-an-ip"]["scope"] == "invalid"
    assert rows["10.1.2.3"]["agency"].startswith("INTERPOL")
