"""CyberTipline-shaped provider reports: schema-valid, the account's records, no content."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from cybertip_samples import PROVIDER_CLI, Analysed, analyse, subject_accounts
from lxml import etree

from kaitiaki.records import ingested_files
from kaitiaki.refer.cybertip import (
    Reporter,
    ReportError,
    ReportValidationError,
    _classification,
    cybertip_report,
    report_bytes,
    validate_report,
)

REPORTER = Reporter("Ana Trust", "ana.trust@example.org", "ExampleCloud")
REVIEWED_CLASS = "A2"


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysed, str, str]:
    """An analysed operation where a reviewer flagged one object of one subject's account."""
    root = tmp_path_factory.mktemp("cybertip")
    first = analyse(root, seed=3, size=1500)
    subject = next(s for s, a in sorted(subject_accounts(first.store).items()) if len(a) > 1)
    doc = cybertip_report(first.store, first.workspace, subject, reporter=REPORTER)
    reviewed = doc.findtext("report/fileDetails/fileId")
    flags = root / "reviewer.csv"
    with flags.open("w", newline="") as handle:
        csv.writer(handle).writerows([["object_id", "category"], [reviewed, REVIEWED_CLASS]])
    return analyse(root, seed=3, size=1500, reviewer_flags=flags), subject, reviewed


def _events(a: Analysed, account: str) -> list[dict[str, Any]]:
    flagged = ds.dataset(str(a.workspace / "flagged_objects.parquet")).to_table()
    objects = pc.unique(flagged.column("object_id"))
    table = ds.dataset([str(p) for p in ingested_files(a.workspace, "records")]).to_table(
        filter=(pc.field("account_id") == account) & pc.field("object_id").isin(objects)
    )
    return list(table.to_pylist())


def test_report_validates_and_holds_the_accounts_records(
    analysed: tuple[Analysed, str, str],
) -> None:
    a, subject, _ = analysed
    doc = cybertip_report(a.store, a.workspace, subject, reporter=REPORTER)
    schema = etree.XMLSchema(
        etree.parse(
            str(Path(__file__).parents[2] / "src/kaitiaki/refer/xsd/cybertip-subset-v1.xsd")
        )
    )
    assert schema.validate(doc), schema.error_log
    accounts = sorted(subject_accounts(a.store)[subject])
    reports = doc.findall("report")
    assert [r.findtext("personOrUserReported/espIdentifier") for r in reports] == accounts
    for report, account in zip(reports, accounts, strict=True):
        events = _events(a, account)
        first = min(e["timestamp"] for e in events)
        assert report.findtext("incidentSummary/incidentDateTime") == first.strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
        captured = {
            (c.findtext("ipAddress"), c.findtext("port"), c.findtext("eventName").lower())
            for c in report.iter("ipCaptureEvent")
        }
        expected = {(e["ip"], str(e["port"]), e["action"]) for e in events if e["ip"]}
        assert captured == expected and captured
        files = {f.findtext("fileId") for f in report.iter("fileDetails")}
        assert files == {e["object_id"] for e in events}
        for h in report.iter("originalFileHash"):
            length = {"MD5": 32, "SHA1": 40, "SHA256": 64}[h.get("hashType")]
            assert len(h.text) == length and int(h.text, 16) >= 0
    assert report.findtext("reporter/companyTemplate") == "ExampleCloud"


def test_no_file_content_in_the_report(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    data = report_bytes(cybertip_report(a.store, a.workspace, subject, reporter=REPORTER))
    text = data.decode("utf-8")
    assert text.isascii() and "base64" not in text.lower()
    # Only short text nodes: nothing that could carry an image.
    assert max(len(e.text or "") for e in etree.fromstring(data).iter()) <= 200


def test_file_viewed_by_esp_only_for_reviewer_flags(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, reviewed = analysed
    doc = cybertip_report(a.store, a.workspace, subject, reporter=REPORTER)
    viewed = {f.findtext("fileId"): f.findtext("fileViewedByEsp") for f in doc.iter("fileDetails")}
    assert viewed[reviewed] == "true"
    assert set(viewed.values()) == {"true", "false"}
    assert [k for k, v in viewed.items() if v == "true"] == [reviewed]
    classes = {
        f.findtext("fileId"): f.findtext("industryClassification") for f in doc.iter("fileDetails")
    }
    # The simulated hash set uses Project VIC categories: no NCMEC class is invented for them.
    assert classes[reviewed] == REVIEWED_CLASS
    assert {v for k, v in classes.items() if k != reviewed} == {None}


def test_industry_classification_only_from_ncmec_categories() -> None:
    profiles = {"ncmec-set": "ncmec", "vic": "projectvic-us-2.0"}
    assert _classification([("1", "vic")], profiles) is None
    assert _classification([("B2", "ncmec-set"), ("A2", "ncmec-set")], profiles) == "A2"
    assert _classification([("b1", "ncmec-set"), ("1", "vic")], profiles) == "B1"


def test_a_tampered_document_fails_validation(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    doc = cybertip_report(a.store, a.workspace, subject, reporter=REPORTER)
    doc.find("report/personOrUserReported/ipCaptureEvent/eventName").text = "Login"
    with pytest.raises(ReportValidationError, match="eventName"):
        validate_report(doc)
    doc = cybertip_report(a.store, a.workspace, subject, reporter=REPORTER)
    doc.find("report/fileDetails/originalFileHash").set("hashType", "CRC32")
    with pytest.raises(ReportValidationError):
        validate_report(doc)
    doc = cybertip_report(a.store, a.workspace, subject, reporter=REPORTER)
    etree.SubElement(doc.find("report/fileDetails"), "fileContent").text = "aGVsbG8="
    with pytest.raises(ReportValidationError):
        validate_report(doc)


def test_unknown_subject_is_a_clear_error(analysed: tuple[Analysed, str, str]) -> None:
    a, _, _ = analysed
    with pytest.raises(ReportError, match="no flagged accounts"):
        cybertip_report(a.store, a.workspace, "S-0000000000000000", reporter=REPORTER)


def test_cli_report_cybertipline(analysed: tuple[Analysed, str, str], tmp_path: Path) -> None:
    a, subject, _ = analysed
    out = tmp_path / "report.xml"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROVIDER_CLI,
            "report",
            "cybertipline",
            "--subject",
            subject,
            "-o",
            str(out),
            "--analysis",
            str(a.out),
            "--reporter-name",
            "Ana Trust",
            "--reporter-email",
            "ana@example.org",
            "--esp-name",
            "ExampleCloud",
            "--db",
            a.db,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    doc = etree.parse(str(out)).getroot()
    validate_report(doc)
    assert doc.get("subject") == subject
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            PROVIDER_CLI,
            "report",
            "cybertipline",
            "--subject",
            "S-nobody",
            "-o",
            str(tmp_path / "x.xml"),
            "--analysis",
            str(a.out),
            "--reporter-name",
            "A B",
            "--reporter-email",
            "a@example.org",
            "--esp-name",
            "E",
            "--db",
            a.db,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "no flagged accounts" in done.stderr
    assert not (tmp_path / "x.xml").exists()
