"""Deleting a record removes the store's rows of it (and only those), audited; never the
evidence on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from holds_samples import SHA, actions, small_world
from sqlalchemy import func, select

from kaitiaki.legal.coverage import HoldError
from kaitiaki.legal.deletion import (
    ReferredError,
    delete_account,
    delete_evidence,
    delete_record,
    delete_report,
    delete_subject,
)
from kaitiaki.legal.holds import HoldNotFoundError
from kaitiaki.scan.runner import run_scan
from kaitiaki.simulate.images import encode, noise
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Account,
    AccountLink,
    Classification,
    CyberTipReport,
    CyberTipReportFile,
    Enrichment,
    Evidence,
    File,
    FileInstance,
    Priority,
    Referral,
    ReferralSubject,
    ReviewDecision,
    Scan,
    Subject,
)


def _count(store: Store, model: type, *where: object) -> int:
    with store.session() as s:
        return s.scalar(select(func.count()).select_from(model).where(*where)) or 0  # type: ignore[arg-type]


def test_an_evidence_item_goes_with_its_rows_and_only_unreferenced_files(store: Store) -> None:
    world = small_world(store)
    with store.session() as s:
        s.add(Classification(evidence_id=world.laptop, sha256=SHA["B"], label="new"))
        s.add(
            ReviewDecision(evidence_id=world.laptop, sha256=SHA["B"], category="1", decided_by="r")
        )
    with store.session() as s:
        laptop = delete_evidence(s, "laptop", actor="cli:alice")
    assert laptop.counts == {
        "classifications": 1,
        "file_groups": 0,
        "review_decisions": 1,
        "acquisition_checks": 0,
        "file_instances": 2,
        "scans": 1,
        # A is named by the report's file, B by the phone's instance: both stay.
        "files": 0,
        "evidence": 1,
    }
    with store.session() as s:
        phone = delete_evidence(s, world.phone, actor="cli:alice")
    # B is named by nothing now; C is still the report's file.
    assert phone.counts["files"] == 1 and phone.counts["file_instances"] == 2
    with store.session() as s:
        assert set(s.scalars(select(File.sha256))) == {SHA["A"], SHA["C"]}
        assert s.scalar(select(func.count()).select_from(Evidence)) == 0
        assert s.scalar(select(func.count()).select_from(Scan)) == 0
        # The report keeps its file details; the instance it was read from is gone.
        assert set(s.scalars(select(CyberTipReportFile.instance_id))) == {None}
    deleted = actions(store, "retention.deleted")
    assert [(e["actor"], e["target"]) for e in deleted] == [
        ("cli:alice", ("evidence", str(world.laptop))),
        ("cli:alice", ("evidence", str(world.phone))),
    ]
    assert deleted[0]["details"]["counts"]["file_instances"] == 2


def test_an_account_goes_with_its_links(store: Store) -> None:
    small_world(store)
    with store.session() as s:
        gone = delete_account(s, "acct-1", actor="cli:alice")
    assert gone.counts == {"accounts": 1, "account_links": 1}
    assert _count(store, Account) == 3 and _count(store, AccountLink) == 0
    with store.session() as s, pytest.raises(HoldNotFoundError):
        delete_account(s, "acct-1", actor="cli:alice")


def test_a_subject_goes_with_its_priority_and_enrichments(store: Store) -> None:
    small_world(store)
    with store.session() as s:
        gone = delete_subject(s, "S-1", actor="cli:alice")
    assert gone.counts == {
        "priorities": 1,
        "enrichments": 1,
        "accounts_unattributed": 2,
        "subjects": 1,
    }
    assert _count(store, Priority) == _count(store, Enrichment) == 0
    # Its accounts stay, unattributed: accounts have a retention period of their own.
    assert _count(store, Account, Account.subject_id.is_(None)) == 3
    assert _count(store, Subject) == 1


def test_a_referred_subject_and_its_accounts_are_kept(store: Store) -> None:
    small_world(store)
    with store.session() as s:
        s.add(Referral(id="REF-1", agency="NZ Police"))
        s.flush()
        s.add(ReferralSubject(subject_id="S-1", referral_id="REF-1"))
    for kind, target in (("subject", "S-1"), ("account", "acct-2")):
        with store.session() as s, pytest.raises(ReferredError, match="S-1"):
            delete_record(s, kind, target, actor="cli:alice")
    assert _count(store, Subject) == 2 and _count(store, Account) == 4
    assert actions(store, "retention.deleted") == []


def test_a_report_goes_with_its_files_unless_mid_submission(store: Store) -> None:
    world = small_world(store)
    with store.session() as s:
        report = s.get(CyberTipReport, world.report)
        assert report is not None
        report.state = "submitting"
    with store.session() as s, pytest.raises(HoldError, match="submitting"):
        delete_report(s, world.report, actor="cli:alice")
    with store.session() as s:
        report = s.get(CyberTipReport, world.report)
        assert report is not None
        report.state = "retracted"
    with store.session() as s:
        gone = delete_report(s, world.report, actor="cli:alice")
    assert gone.counts == {"report_files": 2, "reports": 1}
    assert _count(store, CyberTipReportFile) == 0


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_evidence_on_disk_is_untouched(store: Store, tmp_path: Path) -> None:
    device = tmp_path / "device"
    rng = np.random.default_rng(11)
    for i in range(6):
        path = device / f"d{i % 2}" / f"img{i}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(noise(rng, (64, 64))))
    before = _digests(device)
    stats = {p: (device / p).stat().st_mtime_ns for p in before}
    run_scan(store, [device], "device", workers=1, actor="test:setup")
    assert _count(store, FileInstance) == 6
    with store.session() as s:
        gone = delete_evidence(s, "device", actor="cli:alice")
    assert gone.counts["file_instances"] == 6 and gone.counts["files"] == 6
    assert _count(store, FileInstance) == _count(store, File) == _count(store, Evidence) == 0
    assert _digests(device) == before
    assert {p: (device / p).stat().st_mtime_ns for p in before} == stats
