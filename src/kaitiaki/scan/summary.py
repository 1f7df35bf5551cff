"""The examiner's summary of an evidence item, computed from the store (so a resumed scan's
summary covers everything recorded, not just the last run).

Besides counts it says which victim-identification series the evidence met and whether each
series' victim is identified, and how much new material is linked to no series: that material
is what a victim-identification specialist looks at first.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Subquery

from kaitiaki.scan.acquisition_view import CheckView, acquisition_checks
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Classification,
    Evidence,
    File,
    FileInstance,
    HashSet,
    HashSetEntry,
    Match,
    Scan,
    Series,
    SeriesLink,
    Victim,
)

# Kinds a victim-identification specialist reviews; documents and the like are not material.
MATERIAL_KINDS = ("image", "video")
IDENTIFIED = "identified"
NOT_IDENTIFIED = "not identified"
UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class SeriesMet:
    """A series the evidence met, and what is known about its victim."""

    name: str
    files: int
    instances: int
    # identified / not identified / unknown
    victim_status: str
    # "series record" when a specialist keeps a Series row for it, else "hash set" (the
    # entries' VictimIdentified flags).
    status_source: str
    # Hash sets whose entries disagree about VictimIdentified (the status takes "not
    # identified" then: a child must not drop off the list on one source's word).
    conflicting: bool = False
    victims: int = 0
    victims_identified: int = 0


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
    series: list[SeriesMet] = field(default_factory=list)
    # New images and videos (unique contents) linked to no series: for victim identification.
    new_without_series: Counter[str] = field(default_factory=Counter)
    # Acquisition hashes checked (E01s' own, and those the examiner gave), oldest first.
    acquisition: list[CheckView] = field(default_factory=list)
    # Paths of the file systems' own files ($MFT, $UPCASE_TABLE): counted apart, not above.
    fs_metadata: int = 0


class EvidenceNotFoundError(LookupError):
    pass


def evidence_id(store: Store, name: str) -> int:
    with store.session() as session:
        found = session.scalar(select(Evidence.id).where(Evidence.name == name))
    if found is None:
        raise EvidenceNotFoundError(f"no evidence item named {name!r}")
    return found


def used_hash_set_ids(session: Session, eid: int) -> list[int]:
    """Hash sets the evidence's scans matched against (those still in the store)."""
    names: set[str] = set()
    for listed in session.scalars(select(Scan.hash_sets).where(Scan.evidence_id == eid)):
        names.update(str(n) for n in listed or ())
    if not names:
        return []
    return list(session.scalars(select(HashSet.id).where(HashSet.name.in_(sorted(names)))))


def _status(flags: Iterable[bool | None]) -> tuple[str, bool]:
    said = {f for f in flags if f is not None}
    if not said:
        return UNKNOWN, False
    return (IDENTIFIED if said == {True} else NOT_IDENTIFIED), len(said) > 1


def _in_evidence(eid: int) -> Subquery:
    return (
        select(FileInstance.sha256)
        .where(FileInstance.evidence_id == eid, FileInstance.sha256.is_not(None))
        .distinct()
        .subquery()
    )


def file_series(session: Session, eid: int) -> dict[str, set[str]]:
    """Series names per file of the evidence: by the entries it matched (their Series field or
    an explicit link), and by links a specialist made to the file itself."""
    set_ids = used_hash_set_ids(session, eid)
    in_evidence = _in_evidence(eid)
    out: dict[str, set[str]] = defaultdict(set)
    if set_ids:
        by_entry = (
            select(Match.sha256, HashSetEntry.series, Series.name)
            .join(in_evidence, in_evidence.c.sha256 == Match.sha256)
            .join(HashSetEntry, HashSetEntry.id == Match.entry_id)
            .outerjoin(SeriesLink, SeriesLink.entry_id == HashSetEntry.id)
            .outerjoin(Series, Series.id == SeriesLink.series_id)
            .where(HashSetEntry.hash_set_id.in_(set_ids))
        )
        for sha256, named, linked in session.execute(by_entry):
            for name in (named, linked):
                if name:
                    out[sha256].add(name)
    by_file = (
        select(SeriesLink.sha256, Series.name)
        .join(Series, Series.id == SeriesLink.series_id)
        .join(in_evidence, in_evidence.c.sha256 == SeriesLink.sha256)
    )
    for linked_file, series_name in session.execute(by_file):
        if linked_file:
            out[linked_file].add(series_name)
    return dict(out)


def series_met(session: Session, eid: int, per_file: dict[str, set[str]]) -> list[SeriesMet]:
    """Each series met, its victim status, and how many files and instances show it.

    The status comes from the Series record when a specialist keeps one (its ``identified``
    flag); otherwise from the matched entries' VictimIdentified flags: identified only when
    every flag that says anything says so.
    """
    if not per_file:
        return []
    names = sorted({n for found in per_file.values() for n in found})
    counts = Counter[str]()
    # Every file's instance count, filtered here: an IN list of thousands of hashes would pass
    # SQLite's limit on bound parameters.
    for sha256, instances in session.execute(
        select(FileInstance.sha256, func.count())
        .where(FileInstance.evidence_id == eid, FileInstance.sha256.is_not(None))
        .group_by(FileInstance.sha256)
    ):
        for name in per_file.get(sha256 or "", ()):
            counts[name] += instances
    files = Counter(n for found in per_file.values() for n in found)
    records = {s.name: s for s in session.scalars(select(Series).where(Series.name.in_(names)))}
    victims: dict[int, tuple[int, int]] = {}
    for series_id, total, identified in session.execute(
        select(Victim.series_id, func.count(), func.count().filter(Victim.identified))
        .where(Victim.series_id.in_([s.id for s in records.values()]))
        .group_by(Victim.series_id)
    ):
        if series_id is not None:
            victims[series_id] = (int(total), int(identified))
    set_ids = used_hash_set_ids(session, eid)
    flags: dict[str, list[bool | None]] = defaultdict(list)
    if set_ids:
        in_evidence = _in_evidence(eid)
        for series_name, flag in session.execute(
            select(HashSetEntry.series, HashSetEntry.victim_identified)
            .distinct()
            .join(Match, Match.entry_id == HashSetEntry.id)
            .join(in_evidence, in_evidence.c.sha256 == Match.sha256)
            .where(HashSetEntry.series.is_not(None), HashSetEntry.hash_set_id.in_(set_ids))
        ):
            if series_name:
                flags[series_name].append(flag)
    out = []
    for name in names:
        record = records.get(name)
        status, conflicting = _status(flags.get(name, []))
        total, identified = victims.get(record.id, (0, 0)) if record else (0, 0)
        if record is not None:
            status = IDENTIFIED if record.identified else NOT_IDENTIFIED
        out.append(
            SeriesMet(
                name=name,
                files=files[name],
                instances=counts[name],
                victim_status=status,
                status_source="series record" if record is not None else "hash set",
                conflicting=conflicting,
                victims=total,
                victims_identified=identified,
            )
        )
    # Unidentified victims first: they are the ones still to be found.
    out.sort(key=lambda s: (s.victim_status == IDENTIFIED, -s.files, s.name))
    return out


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
        .where(instance.evidence_id == eid, instance.fs_metadata.is_(False))
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
                    instance.evidence_id == eid, instance.fs_metadata.is_(False)
                )
            )
            or 0
        )
        summary.fs_metadata = (
            session.scalar(
                select(func.count()).where(instance.evidence_id == eid, instance.fs_metadata)
            )
            or 0
        )
        summary.manifest_sha256 = session.scalar(
            select(Evidence.manifest_sha256).where(Evidence.id == eid)
        )
        summary.acquisition = acquisition_checks(session, eid)
        per_file = file_series(session, eid)
        summary.series = series_met(session, eid, per_file)
        new_files = session.execute(
            select(label.sha256, File.kind)
            .join(File, File.sha256 == label.sha256)
            .where(label.evidence_id == eid, label.label == "new")
            .where(File.kind.in_(MATERIAL_KINDS))
        )
        for sha256, kind in new_files:
            if sha256 not in per_file:
                summary.new_without_series[kind] += 1
    return summary
