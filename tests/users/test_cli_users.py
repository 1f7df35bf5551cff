"""``kaitiaki users`` end to end, in a subprocess, with the password on standard input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from kaitiaki.store import open_store
from kaitiaki.users import authenticate

# The group on a root of its own, as ``kaitiaki`` will mount it once app.py registers it.
CLI = (
    "import typer; from kaitiaki.cli.users import register; "
    "app = typer.Typer(); register(app); app()"
)
PASSWORD = "correct horse battery staple"


def _cli(db: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, "users", *args, "--db", db],
        input=stdin,
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": ""},
        check=False,
    )


def test_users_commands(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    done = _cli(db, "add", "Alice", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "added alice (admin)" in done.stdout
    done = _cli(
        db,
        "add",
        "nz.liaison",
        "--role",
        "LIAISON",
        "--agency",
        "NZ Police",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr

    listed = _cli(db, "list")
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and "NZ Police" in listed.stdout
    assert "argon2" not in listed.stdout

    assert (
        _cli(db, "passwd", "alice", "--password-stdin", stdin="a new long password\n").returncode
        == 0
    )
    assert _cli(db, "disable", "nz.liaison").returncode == 0

    store = open_store(db)
    try:
        assert authenticate(store, "alice", "a new long password") is not None
        assert authenticate(store, "nz.liaison", PASSWORD) is None
    finally:
        store.close()


def test_users_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    done = _cli(db, "add", "bob", "--role", "liaison", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 1 and "needs --agency" in done.stderr
    assert "Traceback" not in done.stderr
    done = _cli(db, "add", "bob", "--role", "admin", "--password-stdin", stdin="short\n")
    assert done.returncode == 1 and "at least 12" in done.stderr
    done = _cli(db, "add", "bob", "--role", "wizard", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 2  # Typer refuses a role outside the choices
    done = _cli(db, "disable", "nobody")
    assert done.returncode == 1 and "no user named" in done.stderr
    assert "bob" not in _cli(db, "list").stdout


def test_add_prompts_twice_without_password_stdin(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    done = _cli(db, "add", "zed", "--role", "auditor", stdin=f"{PASSWORD}\n{PASSWORD}\n")
    assert done.returncode == 0, done.stderr
    store = open_store(db)
    try:
        assert authenticate(store, "zed", PASSWORD) is not None
    finally:
        store.close()
