"""Recording what retroactive matching found: match rows, and each file's new classification.

A file's classification in an evidence item is what ``classify`` makes of its hits, the best
first. Its stored best hit (the row's entry) stands for every hit it had before: the best of a
union is the better of the old best and the new hits' best, so classifying the old best
together with the new hits gives what a scan against all of them would have given, without
reading any other match. Rows are written by the scan's own writers (``scan.writer``), so a
retroactive match and a scan leave the same rows behind, and a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import not_, select
from sqlalchemy.orm import Session

from kaitiaki.match.classify import Label, classify
from kaitiaki.match.matcher import MatchHit, hit_for, hit_order
from kaitiaki.match.results import LABEL_COLUMNS, label_row, write_labels, write_matches
from kaitiaki.match.retro_find import Found
from kaitiaki.store.models import (
    Classification,
    Evidence,
    FileInstance,
    HashSet,
    HashSetEntry,
    Match,
)

CHUNK = 500
T = TypeVar("T")


@dataclass
class EvidenceChange:
    """One evidence item's files that met a new entry, and how their classification moved."""

    name: str
    matched: int = 0
    now_known: int = 0
    relabelled: int = 0


@dataclass
class Applied:
    matches_added: int = 0
    files_matched: set[str] = field(default_factory=set)
    now_known: set[str] = field(default_factory=set)
    evidence: dict[int, EvidenceChange] = field(default_factory=dict)


def apply_found(session: Session, found: Found) -> Applied:
    """Write the new matches and reclassify the files they touch, in ``session``'s transaction."""
    applied = Applied()
    items = _evidence_of(session, list(found))
    # A file recorded only as a file system's own metadata is never matched (as in a scan).
    found = {sha: hits for sha, hits in found.items() if sha in items}
    if not found:
        return applied
    new_rows = _new_matches(session, found)
    write_matches(session, new_rows)
    applied.matches_added = len(new_rows)
    with_new = {row["sha256"] for row in new_rows}
    applied.files_matched = with_new

    old = _classifications(session, list(found))
    entry_ids = {e for hits in found.values() for e in hits}
    entry_ids |= {c.entry_id for c in old.values() if c.entry_id is not None}
    entries = _entries(session, entry_ids)
    sets = _sets(session, {e.hash_set_id for e in entries.values()})
    wanted = sorted({e for ids in items.values() for e in ids})
    names = {
        int(i): str(n)
        for i, n in session.execute(
            select(Evidence.id, Evidence.name).where(Evidence.id.in_(wanted))
        )
    }

    labels: list[dict[str, Any]] = []
    for sha256, per_entry in found.items():
        new_hits = [
            hit_for(sets[entries[e].hash_set_id], entries[e], signal, distance)
            for e, (signal, distance) in per_entry.items()
        ]
        for evidence_id in sorted(items[sha256]):
            before = old.get((evidence_id, sha256))
            hits = new_hits + _old_best(before, entries, sets)
            hits.sort(key=hit_order)
            # Hits are never empty here, so a decoding error cannot decide the label.
            row = label_row(evidence_id, sha256, classify(hits, None))
            change = applied.evidence.setdefault(evidence_id, EvidenceChange(names[evidence_id]))
            if sha256 in with_new:
                change.matched += 1
            if before is not None and all(getattr(before, c) == row[c] for c in LABEL_COLUMNS):
                continue
            labels.append(row)
            change.relabelled += 1
            if row["label"] == Label.KNOWN and (before is None or before.label != Label.KNOWN):
                change.now_known += 1
                applied.now_known.add(sha256)
    write_labels(session, labels)
    applied.evidence = {k: v for k, v in applied.evidence.items() if v.matched or v.relabelled}
    return applied


def _old_best(
    before: Classification | None, entries: dict[int, HashSetEntry], sets: dict[int, HashSet]
) -> list[MatchHit]:
    """The file's recorded best hit, while its entry still exists (a removed set's does not)."""
    if before is None or before.entry_id is None or before.signal is None:
        return []
    entry = entries.get(before.entry_id)
    if entry is None or entry.hash_set_id not in sets:
        return []
    return [hit_for(sets[entry.hash_set_id], entry, before.signal, before.distance or 0)]


def _evidence_of(session: Session, shas: Sequence[str]) -> dict[str, set[int]]:
    """The evidence items holding each file other than as file-system metadata."""
    items: dict[str, set[int]] = {}
    for chunk in _chunks(shas):
        rows = session.execute(
            select(FileInstance.sha256, FileInstance.evidence_id)
            .where(FileInstance.sha256.in_(chunk), not_(FileInstance.fs_metadata))
            .distinct()
        )
        for sha256, evidence_id in rows:
            items.setdefault(str(sha256), set()).add(int(evidence_id))
    return items


def _new_matches(session: Session, found: Found) -> list[dict[str, Any]]:
    """Match rows for hits not already recorded (``uq_match``: file, entry, signal)."""
    held: set[tuple[str, int, str]] = set()
    for chunk in _chunks(list(found)):
        rows = session.execute(
            select(Match.sha256, Match.entry_id, Match.signal).where(Match.sha256.in_(chunk))
        )
        held.update((str(s), int(e), str(g)) for s, e, g in rows)
    return [
        {"sha256": sha256, "entry_id": entry_id, "signal": signal, "distance": distance}
        for sha256, per_entry in found.items()
        for entry_id, (signal, distance) in per_entry.items()
        if (sha256, entry_id, signal) not in held
    ]


def _classifications(
    session: Session, shas: Sequence[str]
) -> dict[tuple[int, str], Classification]:
    out: dict[tuple[int, str], Classification] = {}
    for chunk in _chunks(shas):
        for row in session.scalars(select(Classification).where(Classification.sha256.in_(chunk))):
            out[(row.evidence_id, row.sha256)] = row
    return out


def _entries(session: Session, ids: Iterable[int]) -> dict[int, HashSetEntry]:
    out: dict[int, HashSetEntry] = {}
    for chunk in _chunks(sorted(ids)):
        out.update(
            (e.id, e)
            for e in session.scalars(select(HashSetEntry).where(HashSetEntry.id.in_(chunk)))
        )
    return out


def _sets(session: Session, ids: Iterable[int]) -> dict[int, HashSet]:
    return {s.id: s for s in session.scalars(select(HashSet).where(HashSet.id.in_(set(ids))))}


def _chunks(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
