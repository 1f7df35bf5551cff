"""Drafted CyberTipline reports: every one valid against NCMEC's published XSD, holding the
subject's records and nothing of the files but their hashes."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from cybertip_samples import Analysed, analyse, subject_accounts
from lxml import etree
from ncmec_shared import ncmec_schema
from sqlalchemy import select

from kaitiaki.cybertip import CyberTipConflictError, CyberTipError, CyberTipNotFoundError
from kaitiaki.cybertip.document import with_ids
from kaitiaki.cybertip.drafts import (
    draft_report,
    get_report,
    list_reports,
    report_document,
    revise_draft,
)
from kaitiaki.cybertip.gather import classification, gather
from kaitiaki.cybertip.profile import set_profile
from kaitiaki.records import ingested_files
from kaitiaki.store.models import AuditEvent, CyberTipReport, CyberTipReportFile, Subject

REVIEWED_CLASS = "A2"
ACTOR = "test:analyst"


def _profile(a: Analysed) -> None:
    set_profile(
        a.store,
        actor="test:setup",
        first_name="Ana",
        last_name="Trust",
        email="ana.trust@example.org",
        esp_name="ExampleCloud",
        esp_service="Example Drive",
        platform="Example Drive for Android",
        legal_url="https://example.org/legal",
        terms_of_service="Section 4: no child sexual abuse material.",
    )


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Analysed, str, str]:
    """An analysed operation where a reviewer flagged one object of a multi-account subject."""
    root = tmp_path_factory.mktemp("cybertip")
    first = analyse(root, seed=3, size=1500)
    subject = next(s for s, a in sorted(subject_accounts(first.store).items()) if len(a) > 1)
    reviewed = gather(first.store, first.workspace, subject).files[0].object_id
    flags = root / "reviewer.csv"
    with flags.open("w", newline="") as handle:
        csv.writer(handle).writerows([["object_id", "category"], [reviewed, REVIEWED_CLASS]])
    a = analyse(root, seed=3, size=1500, reviewer_flags=flags)
    _profile(a)
    return a, subject, reviewed


def _doc(a: Analysed, report_id: int) -> Any:
    return etree.fromstring(report_document(a.store, report_id))


def _details(a: Analysed, report_id: int) -> list[Any]:
    with a.store.session() as session:
        rows = session.scalars(
            select(CyberTipReportFile.details).where(CyberTipReportFile.report_id == report_id)
        ).all()
    return [etree.fromstring(d.encode()) for d in rows]


def _events(a: Analysed, accounts: list[str]) -> list[dict[str, Any]]:
    flagged = ds.dataset(str(a.workspace / "flagged_objects.parquet")).to_table()
    objects = pc.unique(flagged.column("object_id"))
    table = ds.dataset([str(p) for p in ingested_files(a.workspace, "records")]).to_table(
        filter=pc.field("account_id").isin(accounts) & pc.field("object_id").isin(objects)
    )
    return list(table.to_pylist())


def test_every_subjects_report_is_valid_ncmec(analysed: tuple[Analysed, str, str]) -> None:
    a, _, _ = analysed
    schema = ncmec_schema()
    subjects = sorted(subject_accounts(a.store))
    assert len(subjects) > 50
    attributed = 0
    for n, subject in enumerate(subjects):
        report_id = draft_report(a.store, a.workspace, subject, actor=ACTOR)
        doc = _doc(a, report_id)
        assert doc.tag == "report" and schema.validate(doc), (subject, schema.error_log)
        # The attributed country as NCMEC's estimatedLocation, never claimed verified.
        with a.store.session() as session:
            row = session.get(Subject, subject)
            country = None if row is None else row.country
        located = doc.find("personOrUserReported/estimatedLocation")
        if country is None:
            assert located is None
        else:
            assert located is not None and located.get("verified") == "false"
            assert located.findtext("countryCode") == country
            attributed += 1
        stored = get_report(a.store, report_id)
        assert stored.state == "draft" and stored.environment == "test"
        assert (
            stored.document_sha256
            == hashlib.sha256(report_document(a.store, report_id)).hexdigest()
        )
        details = _details(a, report_id)
        assert len(details) == len(stored.files) > 0
        for k, file in enumerate(details):
            assert (file.findtext("reportId"), file.findtext("fileId")) == ("0", "pending")
            filled = with_ids(etree.tostring(file), 4564654 + n, f"{k:032x}")
            assert schema.validate(filled), (subject, schema.error_log)
    assert attributed > 0


def test_the_report_holds_the_subjects_records(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    doc = _doc(a, draft_report(a.store, a.workspace, subject, actor=ACTOR))
    accounts = sorted(subject_accounts(a.store)[subject])
    events = _events(a, accounts)
    first = min(e["timestamp"] for e in events)
    assert doc.findtext("incidentSummary/incidentDateTime") == first.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc.findtext("incidentSummary/platform") == "Example Drive for Android"
    assert doc.find("incidentSummary/escalateToHighPriority") is None
    assert doc.find("incidentSummary/reportAnnotations") is None
    assert doc.findtext("reporter/reportingPerson/email") == "ana.trust@example.org"
    assert doc.findtext("reporter/legalURL") == "https://example.org/legal"
    # One reported user (the account active first); the others as linked accounts.
    users = doc.findall("personOrUserReported")
    assert len(users) == 1
    user = users[0]
    linked = user.findall("associatedAccount")
    assert {e.get("type") for e in linked} == {"Linked"}
    reported = [user.findtext("espIdentifier"), *(e.findtext("espIdentifier") for e in linked)]
    assert sorted(reported) == sorted({e["account_id"] for e in events})
    by_first = min(events, key=lambda e: e["timestamp"])["account_id"]
    assert reported[0] == by_first
    assert user.findtext("espService") == "Example Drive"
    captured = {
        (c.findtext("ipAddress"), c.findtext("port"), c.findtext("eventName"))
        for c in doc.iter("ipCaptureEvent")
        if c.getparent().tag != "fileDetails"
    }
    expected = {
        (e["ip"], str(e["port"]), "Upload" if e["action"] == "upload" else "Other")
        for e in events
        if e["ip"]
    }
    assert captured == expected and captured
    assert len(user.findall("screenName")) <= 1


def test_hashes_listed_when_files_are_not_uploaded(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    report_id = draft_report(a.store, a.workspace, subject, actor=ACTOR)
    listing = _doc(a, report_id).findtext("additionalInfo")
    details = _details(a, report_id)
    assert listing.startswith(f"Reported files not uploaded ({len(details)})")
    for file in details:
        for h in file.iter("originalFileHash"):
            length = {"MD5": 32, "SHA1": 40, "SHA256": 64}[h.get("hashType")]
            assert len(h.text) == length and f"{h.get('hashType')}={h.text}" in listing
    assert all(f.instance_id is None for f in get_report(a.store, report_id).files)


def test_no_file_content_in_the_report(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    data = report_document(a.store, draft_report(a.store, a.workspace, subject, actor=ACTOR))
    assert "base64" not in data.decode().lower()
    longest = max(
        len(e.text or "") for e in etree.fromstring(data).iter() if e.tag != "additionalInfo"
    )
    assert longest <= 200


def test_file_viewed_by_esp_and_classification(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, reviewed = analysed
    details = _details(a, draft_report(a.store, a.workspace, subject, actor=ACTOR))
    by_object = {f.findtext("additionalInfo").split(": ")[1]: f for f in details}
    viewed = {k: f.findtext("fileViewedByEsp") for k, f in by_object.items()}
    assert [k for k, v in viewed.items() if v == "true"] == [reviewed]
    assert set(viewed.values()) == {"true", "false"}
    classes = {k: f.findtext("industryClassification") for k, f in by_object.items()}
    # The simulated hash set uses Project VIC categories: no NCMEC class is invented for them.
    assert classes[reviewed] == REVIEWED_CLASS
    assert {v for k, v in classes.items() if k != reviewed} == {None}
    assert {f.findtext("fileRelevance") for f in details} == {"Reported"}


def test_industry_classification_only_from_ncmec_categories() -> None:
    profiles = {"ncmec-set": "ncmec", "vic": "projectvic-us-2.0"}
    assert classification([("1", "vic")], profiles) is None
    assert classification([("A1", "vic")], profiles) is None
    assert classification([("B2", "ncmec-set"), ("A2", "ncmec-set")], profiles) == "A2"
    assert classification([("b1", "ncmec-set"), ("1", "vic")], profiles) == "B1"


def test_prior_reports_after_a_finished_one(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    first = draft_report(a.store, a.workspace, subject, actor=ACTOR)
    assert _doc(a, first).find("personOrUserReported/priorCTReports") is None
    with a.store.session() as session:
        row = session.get(CyberTipReport, first)
        assert row is not None
        row.state, row.ncmec_report_id = "finished", 987654321
        # Submitted but not finished: not a prior report NCMEC holds.
        session.add(
            CyberTipReport(
                subject_id=subject,
                state="submitted",
                document="",
                document_sha256="0" * 64,
                ncmec_report_id=111,
                created_by="t",
            )
        )
    doc = _doc(a, draft_report(a.store, a.workspace, subject, actor=ACTOR))
    assert [e.text for e in doc.iter("priorCTReports")] == ["987654321"]
    assert ncmec_schema().validate(doc)


def test_escalate_annotations_and_revise(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    report_id = draft_report(
        a.store,
        a.workspace,
        subject,
        actor=ACTOR,
        escalate="Live abuse of a child suspected",
        annotations=["sextortion", "spam"],
    )
    summary = _doc(a, report_id).find("incidentSummary")
    assert [e.tag for e in summary] == [
        "incidentType",
        "platform",
        "escalateToHighPriority",
        "reportAnnotations",
        "incidentDateTime",
    ]
    assert summary.findtext("escalateToHighPriority") == "Live abuse of a child suspected"
    assert [e.tag for e in summary.find("reportAnnotations")] == ["sextortion", "spam"]
    revise_draft(a.store, report_id, actor=ACTOR, escalate=None, annotations=["csamSolicitation"])
    doc = _doc(a, report_id)
    assert doc.find("incidentSummary/escalateToHighPriority") is None
    assert [e.tag for e in doc.find("incidentSummary/reportAnnotations")] == ["csamSolicitation"]
    assert ncmec_schema().validate(doc)
    view = get_report(a.store, report_id)
    assert view.annotations == ("csamSolicitation",) and view.escalate is None
    with a.store.session() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.target_id == subject)
        ).all()
    assert "cybertip.drafted" in actions and "cybertip.revised" in actions
    with pytest.raises(CyberTipError, match="sextortion"):
        draft_report(a.store, a.workspace, subject, actor=ACTOR, annotations=["grooming"])
    with pytest.raises(CyberTipError, match="reason"):
        draft_report(a.store, a.workspace, subject, actor=ACTOR, escalate="   ")
    with a.store.session() as session:
        row = session.get(CyberTipReport, report_id)
        assert row is not None
        row.state = "submitted"
    with pytest.raises(CyberTipConflictError, match="submitted"):
        revise_draft(a.store, report_id, actor=ACTOR, annotations=[])
    assert report_id in [r.id for r in list_reports(a.store, subject_id=subject, state="submitted")]


def test_include_files_picks_evidence_copies(analysed: tuple[Analysed, str, str]) -> None:
    a, subject, _ = analysed
    report_id = draft_report(a.store, a.workspace, subject, actor=ACTOR, include_files=True)
    # No evidence was scanned here: nothing to upload, so every file is still in the list.
    assert all(f.instance_id is None for f in get_report(a.store, report_id).files)
    assert _doc(a, report_id).findtext("additionalInfo").startswith("Reported files not uploaded")
    assert get_report(a.store, report_id).include_files


def test_unknown_subject_and_report(analysed: tuple[Analysed, str, str], tmp_path: Path) -> None:
    a, _, _ = analysed
    with pytest.raises(CyberTipNotFoundError, match="no flagged accounts"):
        draft_report(a.store, a.workspace, "S-0000000000000000", actor=ACTOR)
    with pytest.raises(CyberTipNotFoundError, match="no CyberTipline report 999999"):
        get_report(a.store, 999999)
    with pytest.raises(CyberTipError, match="missing"):
        draft_report(a.store, tmp_path, sorted(subject_accounts(a.store))[0], actor=ACTOR)
