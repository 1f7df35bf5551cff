"""Which evidence item a scan writes into: a new one, the one it resumes, or one added to.

An evidence item is what was received, and its manifest digest stands for it in court. Files
are added to an existing item only when the scan asks for it (``add_to_existing``), and the
addition is written to the audit log with who asked and the roots added. Without it, an existing
name is accepted only to resume: its latest scan never finished and covered the same roots
(the scan killed or stopped, then started again, by a person or by the job runner).

Chain of custody: every run is audited twice, each entry in the transaction of its change: as
it starts (who scanned which roots into which item) and as it ends (the manifest digest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.store.models import Evidence, Scan


class EvidenceExistsError(ValueError):
    """The name is taken and the scan neither resumes it nor asked to add to it."""

    def __init__(self, name: str, evidence_id: int) -> None:
        super().__init__(
            f"evidence item {name!r} (id {evidence_id}) already exists; to add files to it, "
            'ask for it explicitly (kaitiaki scan --add-to-existing, or "add_to_existing": '
            "true on the web); to scan something new, choose another name"
        )
        self.name = name
        self.evidence_id = evidence_id


@dataclass(frozen=True)
class ScanTarget:
    evidence_id: int
    scan_id: int
    resumed: bool
    added: bool


def existing_evidence(session: Session, name: str) -> int | None:
    return session.scalar(select(Evidence.id).where(Evidence.name == name))


def _resumable(session: Session, evidence_id: int, roots: Sequence[str]) -> Scan | None:
    latest = session.scalar(
        select(Scan).where(Scan.evidence_id == evidence_id).order_by(Scan.id.desc()).limit(1)
    )
    if latest is None or latest.finished_at is not None:
        return None
    return latest if list(latest.roots or []) == list(roots) else None


def check_reuse(session: Session, name: str, roots: Sequence[str], add_to_existing: bool) -> None:
    """Raise ``EvidenceExistsError`` now rather than when the scan starts (a job's submit)."""
    evidence_id = existing_evidence(session, name)
    if evidence_id is None or add_to_existing:
        return
    if _resumable(session, evidence_id, roots) is None:
        raise EvidenceExistsError(name, evidence_id)


def begin_scan(
    session: Session,
    name: str,
    roots: Sequence[str],
    hash_sets: Sequence[str],
    tool_version: str,
    *,
    description: str,
    acquired_by: str,
    add_to_existing: bool,
    actor: str,
) -> ScanTarget:
    """Record this scan run against a new, resumed or (explicitly) extended evidence item.

    Chain of custody: one audit entry as ``actor`` (who scanned what, from which roots), in
    the transaction that creates the item or the run: ``evidence.created``,
    ``evidence.files_added`` or ``scan.resumed``. ``finish_scan`` writes the second, with the
    manifest digest.
    """
    if not actor.strip():
        raise ValueError("a scan needs the name of who runs it")
    evidence = session.scalar(select(Evidence).where(Evidence.name == name))
    resumed = added = False
    if evidence is None:
        evidence = Evidence(name=name, description=description, acquired_by=acquired_by)
        session.add(evidence)
        session.flush()
    elif _resumable(session, evidence.id, roots) is not None:
        resumed = True
    elif add_to_existing:
        added = True
    else:
        raise EvidenceExistsError(name, evidence.id)
    # A resumed run is a run of its own (the Scan row of the interrupted one stays unfinished).
    scan = Scan(
        evidence_id=evidence.id,
        roots=list(roots),
        hash_sets=list(hash_sets),
        tool_version=tool_version,
    )
    session.add(scan)
    session.flush()
    action = "evidence.files_added" if added else "scan.resumed" if resumed else "evidence.created"
    record(
        session,
        actor=actor,
        action=action,
        target_type="evidence",
        target_id=str(evidence.id),
        details={
            "evidence": name,
            "roots": list(roots),
            "scan_id": scan.id,
            "hash_sets": list(hash_sets),
            "tool_version": tool_version,
        },
    )
    return ScanTarget(evidence.id, scan.id, resumed, added)


def finish_scan(
    session: Session, evidence_id: int, scan_id: int, digest: str, *, actor: str, records: int
) -> None:
    """Seal a run: the item's manifest digest and the run's end, audited in one transaction."""
    evidence = session.get(Evidence, evidence_id)
    scan = session.get(Scan, scan_id)
    assert evidence is not None and scan is not None
    evidence.manifest_sha256 = digest
    scan.finished_at = datetime.now(UTC)
    record(
        session,
        actor=actor,
        action="scan.finished",
        target_type="evidence",
        target_id=str(evidence_id),
        details={
            "evidence": evidence.name,
            "scan_id": scan_id,
            "manifest_sha256": digest,
            "records_written": records,
        },
    )
