"""``kaitiaki disclose`` in-process, as an operator answering legal process runs it, and the
recipient's ``kaitiaki verify`` of what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from disclose_samples import Analysed, analyse_with_evidence, busiest_subject_account
from sqlalchemy import select
from typer.testing import CliRunner, Result

from in_process import _command, kaitiaki
from kaitiaki.cli import disclose as disclose_cli
from kaitiaki.refer.signing import generate_key, public_path
from kaitiaki.store.models import Disclosure

ENV = {"KAITIAKI_USER": "ana"}


def _disclose(*args: str, input: str | None = None) -> Result:
    """The registered ``kaitiaki disclose`` once app.py registers it; until then the same
    command on a root of its own (as ``kaitiaki`` would run it)."""
    if "disclose" in _command().commands:
        return kaitiaki("disclose", *args, input=input, env=ENV)
    root = typer.Typer()
    root.callback()(lambda: None)  # a group, so the command keeps its name
    disclose_cli.register(root)
    return CliRunner().invoke(root, ["disclose", *args], input=input, env={"COLUMNS": "200", **ENV})


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Analysed:
    return analyse_with_evidence(tmp_path_factory.mktemp("disclose-cli"), seed=12)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_key(tmp_path_factory.mktemp("keys") / "k.pem")


def _row(a: Analysed, ref: str) -> Disclosure:
    with a.store.session() as session:
        (row,) = session.scalars(select(Disclosure).where(Disclosure.request_ref == ref))
        session.expunge(row)
    return row


def test_disclose_writes_a_package_the_recipient_verifies(
    analysed: Analysed, key: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    account, _ = busiest_subject_account(analysed.store)
    monkeypatch.chdir(tmp_path)
    result = _disclose(
        "--account",
        account,
        "--request",
        "GJ-2026-17",
        "--analysis",
        str(analysed.root / "results"),
        "--key",
        str(key),
        "--db",
        analysed.db,
    )
    assert result.exit_code == 0, result.output
    folder = tmp_path / f"disclosure-GJ-2026-17-{account}"
    assert "wrote" in result.output and folder.is_dir()
    assert not (folder / "files").exists()
    meta = json.loads((folder / "disclosure.json").read_text())
    assert meta["generated_by"] == "cli:ana" and meta["includes"]["files"] is False
    assert _row(analysed, "GJ-2026-17").created_by == "cli:ana"

    checked = kaitiaki("verify", str(folder), "--key", str(public_path(key)))
    assert checked.exit_code == 0, checked.output
    assert "intact" in checked.stdout
    (folder / "subscriber.json").write_text("{}\n")
    tampered = kaitiaki("verify", str(folder), "--key", str(public_path(key)))
    assert tampered.exit_code == 1 and "altered: subscriber.json" in tampered.stdout


def test_files_with_a_named_confirmation(analysed: Analysed, key: Path, tmp_path: Path) -> None:
    account, _ = busiest_subject_account(analysed.store)
    out = tmp_path / "pkg"
    common = ["--account", account, "--workspace", str(analysed.workspace)]
    result = _disclose(
        *common,
        "--request",
        "W-1",
        "--out",
        str(out),
        "--key",
        str(key),
        "--db",
        analysed.db,
        "--include-files",
        "--confirm-files",
        "Ana Trust",
    )
    assert result.exit_code == 0, result.output
    assert any((out / "files").iterdir())
    row = _row(analysed, "W-1")
    assert row.includes_files and row.files_confirmed_by == "Ana Trust"


def test_files_confirmed_at_the_prompt_or_not_at_all(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    account, _ = busiest_subject_account(analysed.store)

    def run(ref: str, answer: str) -> Result:
        return _disclose(
            *("--account", account, "--workspace", str(analysed.workspace)),
            *("--request", ref, "--out", str(tmp_path / ref), "--key", str(key)),
            *("--db", analysed.db, "--include-files"),
            input=answer,
        )

    refused = run("W-2", "\n")
    assert refused.exit_code == 1 and "not confirmed" in refused.output
    assert not (tmp_path / "W-2").exists()
    confirmed = run("W-3", "Ben Reviewer\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert "Images will be disclosed" in confirmed.output
    assert _row(analysed, "W-3").files_confirmed_by == "Ben Reviewer"


def test_errors_are_one_line_and_name_the_problem(
    analysed: Analysed, key: Path, tmp_path: Path
) -> None:
    base = ["--workspace", str(analysed.workspace), "--key", str(key), "--db", analysed.db]
    unknown = _disclose(
        "--account", "nobody-42", "--request", "W-4", "--out", str(tmp_path / "a"), *base
    )
    assert unknown.exit_code == 1 and "'nobody-42'" in unknown.output
    assert "Traceback" not in unknown.output
    account, _ = busiest_subject_account(analysed.store)
    bad_ref = _disclose(
        "--account", account, "--request", "a\nb", "--out", str(tmp_path / "b"), *base
    )
    assert bad_ref.exit_code == 1 and "reference" in bad_ref.output
    both = _disclose("--account", account, "--request", "W-5", "--analysis", "x", *base)
    assert both.exit_code == 2
    assert list(tmp_path.iterdir()) == []
