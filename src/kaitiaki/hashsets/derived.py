"""Hash sets made from entries another stage already holds (a received referral's flagged
files), written in the caller's session so they land or roll back with the caller's change."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets.entry import Entry, HashSetExistsError
from kaitiaki.hashsets.profiles import get_profile
from kaitiaki.hashsets.store import (
    BATCH,
    DEFAULT_THRESHOLD,
    INSERT_ENTRY,
    entry_row,
    find_hash_set,
)
from kaitiaki.hashsets.versions import touch
from kaitiaki.match.retro_trigger import request_retro_match
from kaitiaki.store.models import HashSet, HashSetEntry


def write_hash_set(
    session: Session,
    name: str,
    entries: Iterable[Entry],
    *,
    profile: str,
    source: str,
    source_format: str,
    source_sha256: str | None,
    actor: str,
) -> HashSet:
    """A hash set made from entries another stage holds (a received referral's flagged files),
    written in the caller's session so it lands or rolls back with the caller's change."""
    get_profile(profile)
    if find_hash_set(session, name) is not None:
        raise HashSetExistsError(name)
    row = HashSet(
        name=name,
        source=source[:200],
        profile=profile,
        pdq_threshold=DEFAULT_THRESHOLD,
        enabled=True,
        source_format=source_format,
        source_sha256=source_sha256,
        entry_count=0,
    )
    session.add(row)
    session.flush()
    added = add_entries(session, row, entries)
    record(
        session,
        actor=actor,
        action="hashset.imported",
        target_type="hash_set",
        target_id=str(row.id),
        details={"name": name, "format": source_format, "profile": profile, "entries": added},
    )
    if added:
        request_retro_match(session, row, actor)
    return row


def add_entries(session: Session, row: HashSet, entries: Iterable[Entry]) -> int:
    """Add the entries not already in ``row`` (same hashes); returns how many were added."""
    # The four hash columns only, as tuples: loading each entry as an object cost tens of
    # seconds for a set of a million.
    held = {
        tuple(r)
        for r in session.execute(
            select(
                HashSetEntry.md5, HashSetEntry.sha1, HashSetEntry.sha256, HashSetEntry.pdq
            ).where(HashSetEntry.hash_set_id == row.id)
        )
    }
    batch = [
        entry_row(row.id, e, e.category, dict(e.extra))
        for e in entries
        if (e.md5, e.sha1, e.sha256, e.pdq) not in held
    ]
    if batch:
        touch(row, len(batch))  # before the inserts: see hashsets.versions
    for start in range(0, len(batch), BATCH):
        session.execute(INSERT_ENTRY, batch[start : start + BATCH])
    return len(batch)
