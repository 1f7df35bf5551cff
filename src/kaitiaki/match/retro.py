"""Retroactive matching: when a hash set gains entries, what in the store became known.

Only the entries added since the set's watermark (``HashSet.retro_matched_through``, the
highest entry id already matched this way) are taken, and every stored file is matched against
them (``retro_find``, ``retro_pdq``): a hash added today finds the files scanned last year
without re-matching everything against everything. The matches, the files' new classifications
(``retro_write``), the watermark and one ``hashset.retro_matched`` audit entry are written in
one transaction, so a run stopped half-way leaves nothing, and a run repeated finds nothing new
and writes nothing.

Every operation's catalog is matched too (``retro_catalog``): the objects newly flagged are
added to the analysis's flags, its accounts counted again, and the store's accounts and their
subjects' priorities follow in the same closing transaction (``retro_accounts``). The
workspace's files are written before that transaction, idempotently, so a run stopped between
the two and started again adds no flag twice and still brings the store's accounts up to date.

Left out, and said so in reports where it applies (``NOT_COVERED``): an account newly flagged
is not joined to a subject, nor are its new events' addresses geolocated, until the operation
is analysed again; a quarantined entry is passed over for good: releasing it must match it on
its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets.entry import HashSetMissingError
from kaitiaki.match.retro_accounts import OperationEffect, apply_accounts
from kaitiaki.match.retro_catalog import apply_to_workspaces, catalog_flags
from kaitiaki.match.retro_find import Found, NewEntries, Progress, find_exact, find_videos, new_pdq
from kaitiaki.match.retro_pdq import find_pdq
from kaitiaki.match.retro_write import apply_found
from kaitiaki.priority.rescore import PriorityChange
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry

ACTION = "hashset.retro_matched"
# The report lists at most this many of the files now known (the count is always whole).
REPORT_FILES = 100
NOT_COVERED = (
    "accounts newly flagged are not joined to subjects, nor their new addresses geolocated, "
    "until the operation is analysed again",
)


@dataclass(frozen=True, slots=True)
class EvidenceEffect:
    name: str
    # Files of the item that met a new entry (a new match row).
    files_matched: int
    # Files whose label became "known" in this item.
    now_known: int
    # Files whose classification changed at all (label, or a better best hit).
    relabelled: int


@dataclass(frozen=True, slots=True)
class RetroReport:
    hash_set: str
    # "matched", "nothing new", "disabled" or "allowlist".
    status: str
    entries: int = 0
    quarantined: int = 0
    through: int | None = None
    files_checked: int = 0
    matches_added: int = 0
    files_matched: int = 0
    files_now_known: int = 0
    now_known_sha256: tuple[str, ...] = ()
    evidence: tuple[EvidenceEffect, ...] = ()
    operations: tuple[OperationEffect, ...] = ()
    errors: tuple[str, ...] = ()
    not_covered: tuple[str, ...] = ()

    @property
    def accounts_newly_flagged(self) -> int:
        return sum(o.accounts_newly_flagged for o in self.operations)

    @property
    def priorities_changed(self) -> tuple[PriorityChange, ...]:
        return tuple(p for o in self.operations for p in o.priorities)

    def as_json(self) -> dict[str, Any]:
        return {
            "hash_set": self.hash_set,
            "status": self.status,
            "entries": self.entries,
            "quarantined": self.quarantined,
            "through": self.through,
            "files_checked": self.files_checked,
            "matches_added": self.matches_added,
            "files_matched": self.files_matched,
            "files_now_known": self.files_now_known,
            "now_known_sha256": list(self.now_known_sha256),
            "evidence": [
                {
                    "name": e.name,
                    "files_matched": e.files_matched,
                    "now_known": e.now_known,
                    "relabelled": e.relabelled,
                }
                for e in self.evidence
            ],
            "operations": [o.as_json() for o in self.operations],
            "accounts_newly_flagged": self.accounts_newly_flagged,
            "priorities_changed": [p.as_json() for p in self.priorities_changed],
            "errors": list(self.errors),
            "not_covered": list(self.not_covered),
        }


def retro_match(
    store: Store, hash_set: str, *, actor: str, on_progress: Progress | None = None
) -> RetroReport:
    """Match the set's new entries against every stored file and record what became known.

    A disabled set is not matched (nor is an allowlist, whose entries clear files rather than
    flag them); its watermark stays, so enabling it and running again takes the same entries.
    """
    with store.session() as session:
        row = session.scalar(select(HashSet).where(HashSet.name == hash_set))
        if row is None:
            raise HashSetMissingError(hash_set)
        after = row.retro_matched_through or 0
        if not row.enabled:
            return RetroReport(hash_set, "disabled", through=row.retro_matched_through)
        if row.allowlist:
            return RetroReport(hash_set, "allowlist", through=row.retro_matched_through)
        in_set = (HashSetEntry.hash_set_id == row.id, HashSetEntry.id > after)
        through, taken, quarantined = session.execute(
            select(
                func.max(HashSetEntry.id),
                func.count(),
                func.count(HashSetEntry.quarantined_at),
            ).where(*in_set)
        ).one()
        if through is None:
            return RetroReport(hash_set, "nothing new", through=row.retro_matched_through)
        new = NewEntries(row.id, after, int(through), row.pdq_threshold)
        held = list(
            session.scalars(
                select(HashSetEntry.id).where(
                    *in_set,
                    HashSetEntry.id <= new.through,
                    HashSetEntry.quarantined_at.is_not(None),
                )
            )
        )
        found: Found = {}
        _stage(on_progress, "digests")
        find_exact(session, new, found)
        _stage(on_progress, "videos")
        find_videos(session, new, found)
        ids, hashes = new_pdq(session, new)
        checked = find_pdq(session, ids, hashes, new.threshold, found, on_progress=on_progress)
        _stage(on_progress, "catalogs")
        flags = catalog_flags(session, new, (ids, hashes))
    changes, errors = apply_to_workspaces(flags)
    _stage(on_progress, "recording")
    with store.session() as session:
        # Locked while written: two runs at once write the same rows, one after the other.
        locked = session.scalars(
            select(HashSet).where(HashSet.id == new.hash_set_id).with_for_update()
        ).one()
        applied = apply_found(session, found)
        effects = tuple(
            apply_accounts(session, change, actor=actor, hash_set=hash_set) for change in changes
        )
        locked.retro_matched_through = _watermark(session, locked, after, new.through, held)
        report = RetroReport(
            hash_set,
            "matched",
            entries=int(taken) - int(quarantined),
            quarantined=int(quarantined),
            through=locked.retro_matched_through,
            files_checked=checked,
            matches_added=applied.matches_added,
            files_matched=len(applied.files_matched),
            files_now_known=len(applied.now_known),
            now_known_sha256=tuple(sorted(applied.now_known)[:REPORT_FILES]),
            evidence=tuple(
                EvidenceEffect(c.name, c.matched, c.now_known, c.relabelled)
                for c in sorted(applied.evidence.values(), key=lambda c: c.name)
            ),
            operations=effects,
            errors=errors,
            not_covered=NOT_COVERED if any(e.accounts_newly_flagged for e in effects) else (),
        )
        record(
            session,
            actor=actor,
            action=ACTION,
            target_type="hash_set",
            target_id=str(new.hash_set_id),
            details={
                "name": hash_set,
                "after": after,
                "through": new.through,
                "entries": report.entries,
                "quarantined": report.quarantined,
                "files_checked": checked,
                "matches_added": report.matches_added,
                "files_matched": report.files_matched,
                "files_now_known": report.files_now_known,
                "evidence": {e.name: e.now_known for e in report.evidence},
                "operations": {
                    e.analysis: {
                        "objects_now_flagged": e.objects_now_flagged,
                        "accounts_newly_flagged": list(e.newly_flagged),
                        "accounts_updated": e.accounts_updated,
                    }
                    for e in effects
                },
                "priorities_changed": [p.as_json() for p in report.priorities_changed],
                "errors": list(errors),
            },
        )
    return report


def _watermark(
    session: Session, row: HashSet, after: int, through: int, held: list[int]
) -> int | None:
    """The set's watermark once this run is recorded.

    An entry released from quarantine while this ran was left out by it: the watermark stops
    below it, so the job its release queued takes it. A release that lowered the watermark
    below where this run began (``request_retro_match(again_from=...)``) is kept likewise.
    """
    current = row.retro_matched_through or 0
    if current < after:
        return row.retro_matched_through
    released = (
        session.scalar(
            select(func.min(HashSetEntry.id)).where(
                HashSetEntry.id.in_(held), HashSetEntry.quarantined_at.is_(None)
            )
        )
        if held
        else None
    )
    return max(current, through if released is None else int(released) - 1)


def _stage(on_progress: Progress | None, stage: str) -> None:
    if on_progress is not None:
        on_progress(stage, 0, 0)
