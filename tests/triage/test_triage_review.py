"""Reviewer decisions: group rule, validation against the evidence's profile, audit entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from triage_samples import EVIDENCE, scan_device

from kaitiaki.audit import verify_log
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, FileGroup, HashSet, ReviewDecision, Scan
from kaitiaki.triage.groups import build_groups
from kaitiaki.triage.report import build_report
from kaitiaki.triage.review import ReviewError, decide


def _decisions(store: Store) -> list[ReviewDecision]:
    with store.session() as session:
        return list(session.scalars(select(ReviewDecision).order_by(ReviewDecision.id)))


def _audits(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "review_decision"))
        )


def test_group_decision_writes_every_member_and_one_audit_entry(
    store: Store, tmp_path: Path
) -> None:
    device, result = scan_device(store, tmp_path)
    eid = result.evidence_id
    build_groups(store, eid, actor="tester")
    bike = sorted(device.sha256(p) for p in device.files if p.startswith("Pictures/"))
    with store.session() as session:
        rep = session.scalar(
            select(FileGroup.representative).where(
                FileGroup.evidence_id == eid, FileGroup.sha256 == bike[0]
            )
        )
    assert rep is not None
    decided = decide(
        store, evidence_id=eid, sha256=rep, category="Cat 1", by="Reviewer R", reason="seen"
    )
    assert decided[0] == rep and sorted(decided) == bike
    rows = _decisions(store)
    assert sorted(r.sha256 for r in rows) == bike
    assert {r.category for r in rows} == {"1"}  # canonical spelling of the profile
    assert {r.decided_by for r in rows} == {"Reviewer R"}
    assert [r.via_group for r in rows if r.sha256 == rep] == [None]
    assert {r.via_group for r in rows if r.sha256 != rep} == {rep}
    (audit,) = _audits(store)
    assert audit.actor == "Reviewer R" and audit.target_id == rep and audit.reason == "seen"
    assert audit.details is not None
    assert audit.details["count"] == len(bike)
    assert sorted(audit.details["members"]) == sorted(set(bike) - {rep})
    assert audit.details["category"] == "1" and audit.details["profile"] == "projectvic-us-2.0"
    assert verify_log(store).ok

    # The report counts them under category 1, by review; one file decided alone overrides.
    report = build_report(store, EVIDENCE)
    cat1 = next(c for c in report.categories if c.code == "1")
    assert cat1.reviewed_files == len(bike)
    member = next(s for s in bike if s != rep)
    assert decide(
        store, evidence_id=eid, sha256=member, category="ignorable", by="R2", apply_to_group=False
    ) == [member]
    # "skip" records a look without erasing the decision before it.
    decide(store, evidence_id=eid, sha256=rep, category="skip", by="R3", apply_to_group=False)
    after = build_report(store, EVIDENCE)
    assert next(c for c in after.categories if c.code == "1").reviewed_files == len(bike) - 1
    assert after.new.decided_ignorable == 1
    assert len(_audits(store)) == 3


def test_decision_on_a_member_covers_its_group(sqlite_store: Store, tmp_path: Path) -> None:
    device, result = scan_device(sqlite_store, tmp_path)
    build_groups(sqlite_store, result.evidence_id, actor="tester")
    bike = sorted(device.sha256(p) for p in device.files if p.startswith("Pictures/"))
    with sqlite_store.session() as session:
        reps = dict(
            (row[0], row[1])
            for row in session.execute(select(FileGroup.sha256, FileGroup.representative))
        )
    member = next(s for s in bike if reps[s] != s)
    decided = decide(
        sqlite_store, evidence_id=result.evidence_id, sha256=member, category="2", by="R"
    )
    assert decided[0] == member and sorted(decided) == bike
    assert {r.via_group for r in _decisions(sqlite_store) if r.sha256 != member} == {member}


def test_invalid_decisions_are_refused_and_leave_nothing(store: Store, tmp_path: Path) -> None:
    device, result = scan_device(store, tmp_path)
    eid = result.evidence_id
    target = device.sha256("Downloads/rocket.jpg")
    with pytest.raises(ReviewError, match=r"not a code of profile 'projectvic-us-2\.0'"):
        decide(store, evidence_id=eid, sha256=target, category="A", by="R")
    with pytest.raises(ReviewError, match="not in evidence"):
        decide(store, evidence_id=eid, sha256="0" * 64, category="1", by="R")
    with pytest.raises(ReviewError, match="no evidence item"):
        decide(store, evidence_id=eid + 99, sha256=target, category="1", by="R")
    with pytest.raises(ReviewError, match="reviewer"):
        decide(store, evidence_id=eid, sha256=target, category="1", by=" ")
    assert _decisions(store) == [] and _audits(store) == []
    assert decide(store, evidence_id=eid, sha256=target.upper(), category="IGNORABLE", by="R") == [
        target
    ]
    assert _decisions(store)[0].category == "ignorable"


def test_evidence_matched_against_two_schemes_has_no_single_profile(
    sqlite_store: Store, tmp_path: Path
) -> None:
    device, result = scan_device(sqlite_store, tmp_path)
    with sqlite_store.session() as session:
        session.add(HashSet(name="uk", profile="uk-caid", source_format="csv", entry_count=0))
        session.add(
            Scan(evidence_id=result.evidence_id, roots=[], hash_sets=["uk"], tool_version="test")
        )
    with pytest.raises(ReviewError, match="several category profiles"):
        decide(
            sqlite_store,
            evidence_id=result.evidence_id,
            sha256=device.sha256("Downloads/rocket.jpg"),
            category="1",
            by="R",
        )
    # The report then needs a profile named; with one, it counts in that scheme.
    with pytest.raises(ReviewError, match="--profile"):
        build_report(sqlite_store, EVIDENCE)
    report = build_report(sqlite_store, EVIDENCE, "uk-caid")
    assert [c.code for c in report.categories] == ["A", "B", "C", "0"]
    assert {o.profile for o in report.other_profiles} == {"projectvic-us-2.0"}
    with sqlite_store.session() as session:
        assert session.scalar(select(func.count()).select_from(ReviewDecision)) == 0
