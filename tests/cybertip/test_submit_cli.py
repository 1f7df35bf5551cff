"""``kaitiaki report credentials|status|submit|show|list|retract`` against the stand-in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from submit_world import PASSWORD, USER, draft, scan_evidence, served

from in_process import kaitiaki
from kaitiaki.cli import cybertip  # noqa: F401  (attaches the commands to ``report``)
from kaitiaki.store import Store


def test_the_commands(sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    monkeypatch.setenv("KAITIAKI_USER", "alice")
    db = ["--db", sqlite_store.url]
    report = draft(sqlite_store, scan_evidence(sqlite_store, tmp_path))
    never_sent = draft(sqlite_store, [])
    missing = kaitiaki("report", "submit", str(report), *db)
    assert missing.exit_code == 1 and "no CyberTipline credentials" in missing.stderr
    # Credentials on the command line are not even an option.
    assert kaitiaki("report", "credentials", "--password", PASSWORD, *db).exit_code == 2
    given = json.dumps({"username": USER, "password": PASSWORD})
    stored = kaitiaki("report", "credentials", *db, input=given)
    assert stored.exit_code == 0 and "test environment" in stored.stdout
    with served() as (standin, url):
        env = {"KAITIAKI_CYBERTIP_URL": url}
        status = kaitiaki("report", "status", *db, env=env)
        assert status.exit_code == 0 and f"Remote User : {USER}" in status.stdout
        sent = kaitiaki("report", "submit", str(report), *db, env=env)
        assert sent.exit_code == 0, sent.output
        assert "finished" in sent.stdout and "NCMEC report id: 4564654" in sent.stdout
        again = kaitiaki("report", "submit", str(report), *db, env=env)
        assert again.exit_code == 0 and "nothing sent" in again.stdout
        refused = kaitiaki("report", "retract", str(report), *db, env=env)
        assert refused.exit_code == 1 and "cannot be retracted" in refused.stderr
        assert kaitiaki("report", "retract", str(never_sent), *db).exit_code == 0
        wrong = json.dumps({"username": USER, "password": "wrong"})
        kaitiaki("report", "credentials", "--production", *db, input=wrong)
        denied = kaitiaki("report", "status", *db, env=env)
        assert denied.exit_code == 1 and "2000 (Authentication required)" in denied.stderr
    assert standin.count("submit") == 1
    shown = kaitiaki("report", "show", str(report), *db)
    assert shown.exit_code == 0 and "file obj-2: detailed NCMEC file" in shown.stdout
    listed = kaitiaki("report", "list", "--state", "retracted", *db)
    assert listed.exit_code == 0 and "1 CyberTipline report(s)" in listed.stdout
    for result in (missing, stored, status, sent, refused, denied, shown, listed):
        assert PASSWORD not in result.output
    assert kaitiaki("report", "credentials", "--clear", *db).stdout.strip() == (
        "credentials cleared"
    )


def test_the_stand_in_command_needs_a_password(tmp_path: Path) -> None:
    empty = tmp_path / "password"
    empty.write_text("\n")
    args = ["report", "stand-in", "--username", "u", "--password-file", str(empty)]
    result = kaitiaki(*args)
    assert result.exit_code == 1 and "is empty" in result.stderr
