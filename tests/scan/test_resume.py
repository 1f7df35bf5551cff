"""A scan killed with SIGKILL at an arbitrary moment and started again records every file once.

The killed scan is a process of its own; the resumed and fresh scans and the exports run
in-process (each process start costs seconds and the test is about what the kill left)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from scan_samples import noise_image

from in_process import kaitiaki

FILES = 600


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM file_instances").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _scan(db: Path, root: Path, evidence: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kaitiaki",
            "scan",
            str(root),
            "--evidence",
            evidence,
            "--workers",
            "2",
            "--db",
            f"sqlite:///{db}",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _in_process_scan(db: Path, root: Path, evidence: str) -> str:
    args = ("scan", str(root), "--evidence", evidence, "--workers", "2")
    done = kaitiaki(*args, "--db", f"sqlite:///{db}")
    assert done.exit_code == 0, done.output
    return done.stdout


def _manifest(db: Path, evidence: str, out: Path) -> str:
    args = ("export", "--evidence", evidence, "--format", "manifest", "-o", str(out))
    done = kaitiaki(*args, "--db", f"sqlite:///{db}")
    assert done.exit_code == 0, done.output
    return out.read_text()


def test_kill_9_then_resume(tmp_path: Path) -> None:
    root = tmp_path / "device"
    for i in range(FILES):
        folder = root / f"d{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"img{i:04d}.jpg").write_bytes(noise_image(i, size=160))
    db = tmp_path / "kaitiaki.db"

    victim = _scan(db, root, "device")
    deadline = time.monotonic() + 120
    while _count(db) == 0 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    before_kill = _count(db)
    assert victim.poll() is None, "scan finished before it could be killed; make it bigger"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    assert 0 < before_kill < FILES

    assert "already recorded" in _in_process_scan(db, root, "device")

    with sqlite3.connect(db) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT path) FROM file_instances"
        ).fetchone()
    assert total == distinct == FILES

    fresh_db = tmp_path / "fresh.db"
    _in_process_scan(fresh_db, root, "device")
    assert _manifest(db, "device", tmp_path / "a.txt") == _manifest(
        fresh_db, "device", tmp_path / "b.txt"
    )
