"""What the store knows about each file and path of one evidence item, read in a few queries.

Each unique content becomes one ``FileFacts`` with the scan's verdict and, on top, the newest
reviewer decision; each path one ``InstanceFacts`` with its file-system times. The report's
sections are computed from these in memory (50,000 files are a few tens of MB).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.hashsets.profiles import CategoryProfile, get_profile
from kaitiaki.scan.summary import file_series
from kaitiaki.store.models import (
    Classification,
    File,
    FileGroup,
    FileInstance,
    HashSet,
    ReviewDecision,
)
from kaitiaki.triage.review import IGNORABLE, SKIP, ReviewError, evidence_profile

KNOWN, NEW, ERROR = "known", "new", "error"
PATHS_KEPT = 3  # paths kept per file to show where it lies; the export lists every one


@dataclass(slots=True)
class FileFacts:
    sha256: str
    md5: str
    kind: str
    size: int
    exif: dict[str, Any] | None
    label: str  # the scan's verdict: known, ignorable, new, error
    category: str | None  # the scan's category (from the best match)
    profile: str | None  # the profile of the matched set
    hash_set: str | None
    decision: str | None = None  # newest reviewer decision that is not "skip"
    decided_by: str | None = None
    series: frozenset[str] = frozenset()
    representative: str | None = None
    group_distance: int | None = None
    instances: int = 0
    deleted: int = 0
    paths: list[str] = field(default_factory=list)
    # Pertinent under its profile (known with a pertinent category, or so decided).
    pertinent: bool = False

    @property
    def verdict(self) -> str:
        """known / ignorable / new / error, with a reviewer's decision on top: a decided code
        makes the file known (categorised), "ignorable" makes it ignorable."""
        if self.decision == IGNORABLE:
            return IGNORABLE
        if self.decision is not None:
            return KNOWN
        return self.label

    @property
    def effective_category(self) -> str | None:
        return self.decision if self.decision not in (None, IGNORABLE) else self.category


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    sha256: str | None
    path: str
    deleted: bool
    modified_at: datetime | None
    created_at: datetime | None
    error: str | None


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _review_profile(session: Session, eid: int) -> CategoryProfile | None:
    try:
        return evidence_profile(session, eid)
    except ReviewError:
        return None  # no decision can have been recorded under an ambiguous profile


def load_facts(session: Session, eid: int) -> tuple[dict[str, FileFacts], list[InstanceFacts]]:
    files: dict[str, FileFacts] = {}
    query = (
        select(
            File.sha256,
            File.md5,
            File.kind,
            File.size,
            File.exif,
            Classification.label,
            Classification.category,
            HashSet.profile,
            HashSet.name,
        )
        .join(Classification, Classification.sha256 == File.sha256)
        .outerjoin(HashSet, HashSet.id == Classification.hash_set_id)
        .where(Classification.evidence_id == eid)
        .execution_options(yield_per=5000)
    )
    for sha256, md5, kind, size, exif, label, category, profile, hash_set in session.execute(query):
        facts = FileFacts(sha256, md5, kind, size, exif, label, category, profile, hash_set)
        if label == KNOWN:
            facts.pertinent = get_profile(profile or "none").is_pertinent(category)
        files[sha256] = facts
    review = _review_profile(session, eid)
    decisions = select(ReviewDecision.sha256, ReviewDecision.category, ReviewDecision.decided_by)
    for sha256, category, by in session.execute(
        decisions.where(ReviewDecision.evidence_id == eid).order_by(ReviewDecision.id)
    ):
        facts_or_none = files.get(sha256)
        if facts_or_none is None or category == SKIP:
            continue  # "skip" means seen and left undecided: it erases nothing
        facts_or_none.decision, facts_or_none.decided_by = category, by
        facts_or_none.pertinent = (
            category != IGNORABLE and review is not None and review.is_pertinent(category)
        )
    for sha256, names in file_series(session, eid).items():
        if sha256 in files:
            files[sha256].series = frozenset(names)
    groups = select(FileGroup.sha256, FileGroup.representative, FileGroup.distance)
    for sha256, representative, distance in session.execute(
        groups.where(FileGroup.evidence_id == eid)
    ):
        if sha256 in files:
            files[sha256].representative = representative
            files[sha256].group_distance = distance
    instances: list[InstanceFacts] = []
    paths = select(
        FileInstance.sha256,
        FileInstance.path,
        FileInstance.deleted,
        FileInstance.modified_at,
        FileInstance.created_on_fs_at,
        FileInstance.error,
    ).where(FileInstance.evidence_id == eid, FileInstance.fs_metadata.is_(False))
    for sha256, path, deleted, modified, created, error in session.execute(
        paths.execution_options(yield_per=5000)
    ):
        instances.append(
            InstanceFacts(sha256, path, bool(deleted), _utc(modified), _utc(created), error)
        )
        found = files.get(sha256) if sha256 else None
        if found is not None:
            found.instances += 1
            found.deleted += bool(deleted)
            found.paths.append(path)
    for facts in files.values():
        facts.paths = sorted(facts.paths)[:PATHS_KEPT]
    return files, instances
