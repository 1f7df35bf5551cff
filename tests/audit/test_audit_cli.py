"""``kaitiaki audit`` through a subprocess, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from audit_samples import cli, fill, raw

from kaitiaki.store import Store


def audit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli("audit"), "audit", *args], capture_output=True, text=True, check=False, env=_env()
    )


def _env() -> dict[str, str]:
    # Wide enough that Rich does not wrap the lines the tests look for.
    return {**os.environ, "COLUMNS": "200"}


def test_verify_log_and_anchor(sqlite_store: Store, tmp_path: Path) -> None:
    db = sqlite_store.url
    fill(sqlite_store, 3, actor="alice")
    fill(sqlite_store, 2, actor="bob", target="T")
    done = audit("verify", "--db", db)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "intact: 5 entries" in done.stdout

    shown = audit("log", "--actor", "bob", "--db", db)
    assert shown.returncode == 0 and "subject:T1" in shown.stdout and "alice" not in shown.stdout
    one = audit("log", "--target", "subject:S2", "--db", db)
    assert "S2" in one.stdout and "S1" not in one.stdout
    limited = audit("log", "--limit", "1", "--db", db)
    assert "subject:T2" in limited.stdout and "subject:T1" not in limited.stdout

    printed = audit("anchor", "--db", db)
    assert printed.returncode == 0 and json.loads(printed.stdout)["id"] == 5
    anchor = tmp_path / "anchor.json"
    assert audit("anchor", "-o", str(anchor), "--db", db).returncode == 0
    assert audit("verify", "--anchor", str(anchor), "--db", db).returncode == 0

    raw(sqlite_store, "DELETE FROM audit_events WHERE id = 5")
    assert audit("verify", "--db", db).returncode == 0
    caught = audit("verify", "--anchor", str(anchor), "--db", db)
    assert caught.returncode == 1
    assert "anchor: entry 5 is gone" in caught.stdout

    raw(sqlite_store, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    edited = audit("verify", "--db", db)
    assert edited.returncode == 1 and "entry 2: contents changed" in edited.stdout


def test_anchor_of_an_empty_log_and_a_bad_anchor_file(sqlite_store: Store, tmp_path: Path) -> None:
    empty = audit("anchor", "--db", sqlite_store.url)
    assert empty.returncode == 1 and "empty" in empty.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = audit("verify", "--anchor", str(bad), "--db", sqlite_store.url)
    assert done.returncode == 1 and "not a kaitiaki audit anchor" in done.stderr
