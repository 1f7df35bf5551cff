"""Which evidence item a scan writes into: a new one, the one it resumes, or one added to.

An evidence item is what was received, and its manifest digest stands for it in court. Files
are added to an existing item only when the scan asks for it (``add_to_existing``), and the
addition is written to the audit log with who asked and the roots added. Without it, an existing
name is accepted only to resume: its latest scan never finished and covered the same roots
(the scan killed or stopped, then started again, by a person or by the job runner).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    actor: str | None,
) -> ScanTarget:
    """Record this scan run against a new, resumed or (explicitly) extended evidence item.

    ``actor`` is who adds to an existing item; required when ``add_to_existing`` is asked.
    """
    if add_to_existing and not (actor or "").strip():
        raise ValueError("adding files to an evidence item needs the name of who asks for it")
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
    if added:
        assert actor is not None
        record(
            session,
            actor=actor,
            action="evidence.files_added",
            target_type="evidence",
            target_id=str(evidence.id),
            details={"evidence": name, "roots": list(roots), "scan_id": scan.id},
        )
    return ScanTarget(evidence.id, scan.id, resumed, added)
