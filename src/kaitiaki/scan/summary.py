"""The examiner's summary of an evidence item, computed from the store (so a resumed scan's
summary covers everything recorded, not just the last run)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import func, select

from kaitiaki.store import Store
from kaitiaki.store.models import Classification, Evidence, File, FileInstance, HashSet


@dataclass
class Summary:
    evidence: str
    instances: int = 0
    unique_files: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_label: Counter[str] = field(default_factory=Counter)
    # (hash set, category) -> instances classified known with it
    known_by_category: Counter[tuple[str, str]] = field(default_factory=Counter)
    new_by_type: Counter[str] = field(default_factory=Counter)
    manifest_sha256: str | None = None


class EvidenceNotFoundError(LookupError):
    pass


def evidence_id(store: Store, name: str) -> int:
    with store.session() as session:
        found = session.scalar(select(Evidence.id).where(Evidence.name == name))
    if found is None:
        raise EvidenceNotFoundError(f"no evidence item named {name!r}")
    return found


def summarise(store: Store, name: str) -> Summary:
    eid = evidence_id(store, name)
    summary = Summary(name)
    instance = FileInstance
    label = Classification
    joined = (
        select(File.kind, label.label, label.category, HashSet.name, func.count())
        .select_from(instance)
        .outerjoin(File, File.sha256 == instance.sha256)
        .outerjoin(label, (label.sha256 == instance.sha256) & (label.evidence_id == eid))
        .outerjoin(HashSet, HashSet.id == label.hash_set_id)
        .where(instance.evidence_id == eid)
        .group_by(File.kind, label.label, label.category, HashSet.name)
    )
    with store.session() as session:
        for kind, verdict, category, hash_set, count in session.execute(joined):
            kind = kind or "unreadable"
            verdict = verdict or "error"
            summary.instances += count
            summary.by_type[kind] += count
            summary.by_label[verdict] += count
            if verdict == "known":
                summary.known_by_category[(hash_set or "?", category or "none")] += count
            if verdict == "new":
                summary.new_by_type[kind] += count
        summary.unique_files = (
            session.scalar(
                select(func.count(func.distinct(instance.sha256))).where(
                    instance.evidence_id == eid
                )
            )
            or 0
        )
        summary.manifest_sha256 = session.scalar(
            select(Evidence.manifest_sha256).where(Evidence.id == eid)
        )
    return summary
