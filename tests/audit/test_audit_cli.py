"""``kaitiaki audit`` as a user runs it: in-process through Click's runner for most calls (a
Python start-up each would cost seconds), and in a process of its own where the exit status and
standard error of the real process are what the test is about."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import typer
from audit_samples import cli, fill, raw
from typer.testing import CliRunner, Result

from kaitiaki.cli import audit as audit_cli
from kaitiaki.store import Store

_APP = typer.Typer()
audit_cli.register(_APP)


def audit(*args: str) -> Result:
    # Wide enough that Rich does not wrap the lines the tests look for.
    return CliRunner().invoke(_APP, ["audit", *args], env={"COLUMNS": "200"})


def audit_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*cli("audit"), "audit", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_verify_log_and_anchor(sqlite_store: Store, tmp_path: Path) -> None:
    db = sqlite_store.url
    fill(sqlite_store, 3, actor="alice")
    fill(sqlite_store, 2, actor="bob", target="T")
    done = audit("verify", "--db", db)
    assert done.exit_code == 0, done.output
    assert "intact: 5 entries" in done.stdout

    shown = audit("log", "--actor", "bob", "--db", db)
    assert shown.exit_code == 0 and "subject:T1" in shown.stdout and "alice" not in shown.stdout
    one = audit("log", "--target", "subject:S2", "--db", db)
    assert "S2" in one.stdout and "S1" not in one.stdout
    limited = audit("log", "--limit", "1", "--db", db)
    assert "subject:T2" in limited.stdout and "subject:T1" not in limited.stdout

    printed = audit("anchor", "--db", db)
    assert printed.exit_code == 0 and json.loads(printed.stdout)["id"] == 5
    anchor = tmp_path / "anchor.json"
    assert audit("anchor", "-o", str(anchor), "--db", db).exit_code == 0
    assert audit("verify", "--anchor", str(anchor), "--db", db).exit_code == 0

    raw(sqlite_store, "DELETE FROM audit_events WHERE id = 5")
    assert audit("verify", "--db", db).exit_code == 0
    caught = audit("verify", "--anchor", str(anchor), "--db", db)
    assert caught.exit_code == 1
    assert "anchor: entry 5 is gone" in caught.stdout

    raw(sqlite_store, "UPDATE audit_events SET actor = 'mallory' WHERE id = 2")
    # The real process, as a script checking the log sees it: exit status 1 and the problem.
    edited = audit_process("verify", "--db", db)
    assert edited.returncode == 1 and "entry 2: contents changed" in edited.stdout


def test_anchor_of_an_empty_log_and_a_bad_anchor_file(sqlite_store: Store, tmp_path: Path) -> None:
    empty = audit_process("anchor", "--db", sqlite_store.url)
    assert empty.returncode == 1 and "empty" in empty.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    done = audit("verify", "--anchor", str(bad), "--db", sqlite_store.url)
    assert done.exit_code == 1 and "not a kaitiaki audit anchor" in done.stderr
