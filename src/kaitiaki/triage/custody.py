"""The chain-of-custody header of a triage report: what was examined, by which runs of which
tool, against which hash sets (each with the SHA-256 of the file it was imported from).

An examiner who signs a report has to be able to say which input it describes (the evidence
item's manifest SHA-256), how it was processed (every scan, its tool version, its hash sets)
and when the report was made. The report's own SHA-256 cannot sit inside the report, so the
command line writes it beside the report and into the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki import __version__
from kaitiaki.scan.acquisition_view import CheckView, acquisition_checks
from kaitiaki.store.models import Evidence, HashSet, Scan


@dataclass(frozen=True, slots=True)
class ScanRun:
    id: int
    started_at: datetime
    finished_at: datetime | None
    tool_version: str
    roots: list[str]
    hash_sets: list[str]


@dataclass(frozen=True, slots=True)
class HashSetUsed:
    name: str
    source: str
    profile: str
    source_format: str
    source_sha256: str | None
    entries: int
    imported_at: datetime | None
    # False when the set was removed from the store after the scan used it.
    present: bool = True


@dataclass(frozen=True, slots=True)
class Custody:
    evidence: str
    evidence_id: int
    description: str
    acquired_by: str
    created_at: datetime
    manifest_sha256: str | None
    legal_basis: str | None
    scans: list[ScanRun]
    hash_sets: list[HashSetUsed]
    generated_at: datetime
    generated_by: str
    tool_version: str
    # Each image's (and each examiner-given) acquisition hash as checked by the scans.
    acquisition: list[CheckView] = field(default_factory=list)


def _utc(at: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; the store writes UTC.
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def gather_custody(session: Session, evidence: Evidence, generated_by: str) -> Custody:
    scans = [
        ScanRun(
            id=s.id,
            started_at=_utc(s.started_at) or s.started_at,
            finished_at=_utc(s.finished_at),
            tool_version=s.tool_version,
            roots=[str(r) for r in s.roots or ()],
            hash_sets=[str(h) for h in s.hash_sets or ()],
        )
        for s in session.scalars(
            select(Scan).where(Scan.evidence_id == evidence.id).order_by(Scan.id)
        )
    ]
    names = sorted({name for s in scans for name in s.hash_sets})
    rows = {h.name: h for h in session.scalars(select(HashSet).where(HashSet.name.in_(names)))}
    used = []
    for name in names:
        row = rows.get(name)
        if row is None:
            used.append(HashSetUsed(name, "", "", "", None, 0, None, present=False))
            continue
        used.append(
            HashSetUsed(
                name=row.name,
                source=row.source,
                profile=row.profile,
                source_format=row.source_format,
                source_sha256=row.source_sha256,
                entries=row.entry_count,
                imported_at=_utc(row.imported_at),
            )
        )
    return Custody(
        evidence=evidence.name,
        evidence_id=evidence.id,
        description=evidence.description,
        acquired_by=evidence.acquired_by,
        created_at=_utc(evidence.created_at) or evidence.created_at,
        manifest_sha256=evidence.manifest_sha256,
        legal_basis=evidence.legal_basis,
        scans=scans,
        hash_sets=used,
        generated_at=datetime.now(UTC),
        generated_by=generated_by,
        tool_version=__version__,
        acquisition=acquisition_checks(session, evidence.id),
    )
