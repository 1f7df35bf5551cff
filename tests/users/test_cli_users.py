"""``kaitiaki users`` end to end, with the password on standard input or typed at the prompt."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from in_process import kaitiaki
from kaitiaki.store import open_store
from kaitiaki.store.models import AuditEvent
from kaitiaki.users import authenticate

PASSWORD = "correct horse battery staple"


def _cli(db: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """``kaitiaki users ARGS --db DB`` as a shell runs it (exit status, standard output and
    error apart), in this process: a process per call cost each test seconds of imports."""
    done = kaitiaki("users", *args, "--db", db, input=stdin, env={"KAITIAKI_USER": "ops.lead"})
    return subprocess.CompletedProcess(
        ["kaitiaki", "users", *args], done.exit_code, done.stdout, done.stderr
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
        "--jurisdiction",
        "nz:NZ Police",
        "--jurisdiction",
        "AU:Australian Federal Police",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert done.returncode == 0, done.stderr

    listed = _cli(db, "list")
    assert listed.returncode == 0, listed.stderr
    assert "alice" in listed.stdout and "NZ:NZ Police" in listed.stdout
    assert "argon2" not in listed.stdout

    changed = _cli(db, "jurisdiction", "nz.liaison", "--set", "TO:INTERPOL National Central Bureau")
    assert changed.returncode == 0, changed.stderr
    shown = _cli(db, "jurisdiction", "nz.liaison")
    assert shown.stdout.strip() == "TO:INTERPOL National Central Bureau"

    assert (
        _cli(db, "passwd", "alice", "--password-stdin", stdin="a new long password\n").returncode
        == 0
    )
    assert _cli(db, "disable", "nz.liaison").returncode == 0

    store = open_store(db)
    try:
        assert authenticate(store, "alice", "a new long password") is not None
        assert authenticate(store, "nz.liaison", PASSWORD) is None
        with store.session() as session:
            audited = [
                (e.actor, e.action, e.target_id)
                for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            ]
    finally:
        store.close()
    # Every change names the operator at the keyboard (KAITIAKI_USER), never a literal.
    assert audited == [
        ("cli:ops.lead", "user.added", "alice"),
        ("cli:ops.lead", "user.added", "nz.liaison"),
        ("cli:ops.lead", "user.jurisdiction", "nz.liaison"),
        ("cli:ops.lead", "user.password_changed", "alice"),
        ("cli:ops.lead", "user.disabled", "nz.liaison"),
    ]


def test_users_cli_errors_are_one_clear_line(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    done = _cli(db, "add", "bob", "--role", "liaison", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 1 and "needs --jurisdiction" in done.stderr
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


@pytest.mark.parametrize(
    ("jurisdiction", "message"),
    [
        ("NZ Police", "must be COUNTRY:AGENCY"),
        ("NZL:NZ Police", "two-letter"),
        ("ZZ:NZ Police", "not an ISO 3166-1 country code"),
        ("NZ:", "agency name is empty"),
        ("NZ:" + "p" * 201, "longer than 200"),
    ],
)
def test_users_add_refuses_a_bad_jurisdiction(
    tmp_path: Path, jurisdiction: str, message: str
) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    args = ["add", "bob", "--role", "liaison", "--jurisdiction", "AU:AFP"]
    done = _cli(db, *args, "--jurisdiction", jurisdiction, "--password-stdin", stdin=PASSWORD)
    assert done.returncode == 2, done.stderr  # a usage error, before any password is read
    assert message in " ".join(done.stderr.split()) and "Traceback" not in done.stderr
    assert "bob" not in _cli(db, "list").stdout


def test_a_jurisdiction_is_for_a_liaison_only(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    args = ["add", "bob", "--role", "auditor", "--jurisdiction", "AU:AFP", "--password-stdin"]
    done = _cli(db, *args, stdin=PASSWORD)
    assert done.returncode == 1 and "has no jurisdiction" in done.stderr
    assert (
        _cli(db, "add", "ann", "--role", "admin", "--password-stdin", stdin=PASSWORD).returncode
        == 0
    )
    done = _cli(db, "jurisdiction", "ann", "--set", "AU:AFP")
    assert done.returncode == 1 and "has no jurisdiction" in done.stderr
    # The old name-only option is gone rather than silently ignored.
    done = _cli(
        db, "add", "cat", "--role", "liaison", "--agency", "AFP", "--password-stdin", stdin=PASSWORD
    )
    assert done.returncode == 2
