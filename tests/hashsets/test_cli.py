"""``kaitiaki hashset ...`` through the real root application."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from hashset_samples import media, row_counts
from typer.testing import CliRunner, Result

from kaitiaki.store import open_store

WriteVics = Callable[..., Path]


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    from kaitiaki.cli import app as root

    root._register()
    return root.app


def run(app: typer.Typer, db: str, *args: str) -> Result:
    return CliRunner().invoke(app, ["hashset", *args, "--db", db])


def test_import_list_export_roundtrip(
    app: typer.Typer, store_url: str, write_vics: WriteVics, tmp_path: Path
) -> None:
    path = write_vics([media(i) for i in range(1, 4)], bom=True)
    result = run(app, store_url, "import", str(path), "--name", "pv", "--source", "ProjVIC")
    assert result.exit_code == 0, result.output
    assert "imported 3 entries into hash set 'pv'" in result.stdout

    listed = run(app, store_url, "list")
    assert listed.exit_code == 0
    for text in ("pv", "ProjVIC", "projectvic", "31", "yes", "3"):
        assert text in listed.stdout

    out = tmp_path / "out.json"
    exported = run(app, store_url, "export", "pv", "--format", "vics", "-o", str(out))
    assert exported.exit_code == 0, exported.output
    assert [r["MD5"] for r in json.loads(out.read_text())["value"]] == [
        media(i)["MD5"] for i in range(1, 4)
    ]
    again = run(app, store_url, "import", str(out), "--name", "pv2", "--threshold", "12")
    assert again.exit_code == 0, again.output
    assert "PDQ threshold 12" in again.stdout


def test_bad_file_is_one_line_on_stderr_and_exit_1(
    app: typer.Typer, store_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "list.txt"
    path.write_text(f"{'a' * 32}\n[bold]{'b' * 3}\n")
    result = run(app, store_url, "import", str(path), "--name", "l")
    assert result.exit_code == 1
    assert result.stdout == ""
    # One line, quoting the file's text literally (not read as markup), no traceback.
    assert result.stderr.strip().splitlines() == [
        f"error: {path}: line 2: '[bold]bbb' is not a hex digest"
    ]
    store = open_store(store_url)
    try:
        assert row_counts(store) == (0, 0)
    finally:
        store.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "missing.txt", "--name", "x"], "missing.txt: no such file"),
        (["import", "{file}", "--name", "x", "--profile", "caid"], "unknown category profile"),
        (["import", "{file}", "--name", "x", "--columns", "colour=C"], "unknown field 'colour'"),
        (["export", "nope", "--format", "list", "-o", "x.txt"], "no hash set named 'nope'"),
        (["disable", "nope"], "no hash set named 'nope'"),
    ],
)
def test_user_errors(app: typer.Typer, tmp_path: Path, args: list[str], message: str) -> None:
    file = tmp_path / "l.txt"
    file.write_text("a" * 32 + "\n")
    db = f"sqlite:///{tmp_path / 'k.db'}"
    result = run(app, db, *[a.replace("{file}", str(file)) for a in args])
    assert result.exit_code == 1
    assert message in result.stderr and "Traceback" not in result.output


def test_db_from_environment_enable_disable_remove(
    app: typer.Typer, tmp_path: Path, write_vics: WriteVics
) -> None:
    env = {"KAITIAKI_DB": f"sqlite:///{tmp_path / 'env.db'}"}
    runner = CliRunner()

    def cli(*args: str) -> Result:
        return runner.invoke(app, ["hashset", *args], env=env)

    assert cli("list").stdout.strip() == "no hash sets"
    assert cli("import", str(write_vics([media(1), media(2)])), "--name", "pv").exit_code == 0
    assert cli("disable", "pv").exit_code == 0
    assert "no" in cli("list").stdout
    assert cli("enable", "pv").exit_code == 0
    refused = runner.invoke(app, ["hashset", "remove", "pv"], env=env, input="n\n")
    assert refused.exit_code == 1 and "pv" in cli("list").stdout
    removed = cli("remove", "pv", "--yes")
    assert removed.exit_code == 0 and "removed 'pv' (2 entries)" in removed.stdout
    assert cli("list").stdout.strip() == "no hash sets"


def test_csv_and_list_options(app: typer.Typer, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    csv_file = tmp_path / "s.csv"
    csv_file.write_text(f"Digest;Grade\n{'c' * 64};A\n")
    result = run(
        app,
        db,
        "import",
        str(csv_file),
        "--name",
        "uk",
        "--profile",
        "uk-caid",
        "--columns",
        "hash=Digest,category=Grade",
        "--hex64",
        "pdq",
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "uk.txt"
    assert run(app, db, "export", "uk", "--format", "list", "-o", str(out)).exit_code == 0
    assert out.read_text().splitlines()[1] == "pdq:" + "c" * 64
