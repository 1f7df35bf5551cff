"""`kaitiaki triage`, `kaitiaki review` and `kaitiaki series` as a user types them (on an app
that registers these groups the way cli/app.py does)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from triage_samples import EVIDENCE, SERIES_UNIDENTIFIED, scan_device
from typer.testing import CliRunner

from kaitiaki.audit import cli_actor
from kaitiaki.cli import scan as scan_cli
from kaitiaki.cli import series as series_cli
from kaitiaki.cli import triage as triage_cli
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, FileGroup


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    for module in (scan_cli, triage_cli, series_cli):
        module.register(app)
    return app


def _invoke(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("fmt", ["html", "pdf"])
def test_triage_writes_the_report_its_digest_and_an_audit_entry(
    cli: typer.Typer, sqlite_store: Store, tmp_path: Path, fmt: str
) -> None:
    device, _ = scan_device(sqlite_store, tmp_path)
    out = tmp_path / "reports" / f"phone.{fmt}"
    text = _invoke(
        cli,
        "triage",
        "--evidence",
        EVIDENCE,
        "--format",
        fmt,
        "-o",
        str(out),
        "--by",
        "Examiner E",
        "--db",
        sqlite_store.url,
    )
    assert "groups:" in text and "series met" in text
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert (out.parent / f"phone.{fmt}.sha256").read_text() == f"{digest}  phone.{fmt}\n"
    with sqlite_store.session() as session:
        audit = session.scalar(select(AuditEvent).where(AuditEvent.action == "triage.report"))
        groups = session.scalars(select(FileGroup.sha256)).all()
    assert audit is not None and audit.details is not None
    # The actor is the operator; --by only names the report's author.
    assert audit.details["sha256"] == digest and audit.actor == cli_actor()
    assert len(groups) == 18  # the new images: 11 camera originals, 5 bike, rocket, coins
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []

    # The reviewer decides on a group; the summary lists series first for victim ID.
    bike = device.sha256("Pictures/bike.jpg")
    decided = _invoke(
        cli,
        "review",
        "--evidence",
        EVIDENCE,
        bike,
        "1",
        "--by",
        "Reviewer R",
        "--db",
        sqlite_store.url,
    )
    assert "decided 5 file(s)" in decided
    summary = _invoke(cli, "summary", "--evidence", EVIDENCE, "--db", sqlite_store.url)
    assert "for victim identification: 18 new files linked to no series" in summary
    assert SERIES_UNIDENTIFIED in summary and "not identified" in summary


def test_triage_refuses_unknown_evidence_and_format(
    cli: typer.Typer, sqlite_store: Store, tmp_path: Path
) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        cli,
        ["triage", "--evidence", "nope", "-o", str(tmp_path / "r.html"), "--db", sqlite_store.url],
    )
    assert missing.exit_code == 1 and "no evidence item named 'nope'" in missing.output
    bad = runner.invoke(
        cli,
        [
            "triage",
            "--evidence",
            "x",
            "--format",
            "docx",
            "-o",
            str(tmp_path / "r"),
            "--db",
            sqlite_store.url,
        ],
    )
    assert bad.exit_code == 1


def test_series_commands(cli: typer.Typer, sqlite_store: Store, tmp_path: Path) -> None:
    db = ("--db", sqlite_store.url)
    vics = tmp_path / "set.json"
    vics.write_text(
        json.dumps(
            {
                "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml"
                "/US/$metadata#Media",
                "value": [
                    {
                        "MediaID": 1,
                        "MD5": "A" * 32,
                        "Category": 1,
                        "Series": "Kea",
                        "VictimIdentified": "false",
                    },
                    {"MediaID": 2, "MD5": "B" * 32, "Category": 1},
                ],
            }
        )
    )
    assert "1 series created, 1 entries linked" in _invoke(
        cli, "series", "import", str(vics), "--name", "kea-set", *db
    )
    _invoke(cli, "series", "add", "Tui", "--description", "beach", *db)
    _invoke(cli, "series", "link", "Tui", "--hash-set", "kea-set", "--media-id", "2", *db)
    _invoke(
        cli,
        "series",
        "victim",
        "add",
        "V-KEA-1",
        "--series",
        "Kea",
        "--age-band",
        "8-12",
        "--country",
        "NZ",
        "--agency",
        "NZ Police",
        *db,
    )
    _invoke(cli, "series", "offender", "add", "O-KEA-1", "--series", "Kea", *db)
    _invoke(
        cli, "series", "victim", "update", "V-KEA-1", "--identified", "--reason", "safeguarded", *db
    )
    listing = _invoke(cli, "series", "list", *db)
    assert "Kea" in listing and "Tui" in listing
    shown = _invoke(cli, "series", "show", "Kea", *db)
    assert "Kea: identified" in shown and "victim V-KEA-1: identified" in shown
    stats = _invoke(cli, "series", "stats", *db)
    assert "victims" in stats and "linked: 2 hash-set entries" in stats
    out = tmp_path / "vid.json"
    assert "wrote 2 records" in _invoke(cli, "series", "export", "-o", str(out), *db)
    exported = json.loads(out.read_text())["value"]
    assert {(m["Series"], m["VictimIdentified"]) for m in exported} == {
        ("Kea", True),
        ("Tui", False),
    }
    failed = CliRunner().invoke(cli, ["series", "victim", "add", "Jane Doe", *db])
    assert failed.exit_code == 1 and "pseudonymous" in failed.output
