"""Links from hash-set entries and files to a victim-identification series.

An entry is linked by its hash set and VICS MediaID, or by MD5 (in one set or in every set); a
file by its SHA-256. Linking twice adds nothing; each call writes one audit entry.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.store import Store
from kaitiaki.store.models import File, HashSet, HashSetEntry, Series, SeriesLink
from kaitiaki.triage.victims import VictimIdError, audit_change, find_series, now


def link_entries(
    store: Store,
    series: str,
    *,
    hash_set: str | None = None,
    media_ids: list[str] | None = None,
    md5s: list[str] | None = None,
    by: str,
) -> int:
    """Link hash-set entries to a series: by ``hash_set`` + MediaID, or by MD5 (in ``hash_set``
    or in every set). Returns the links added; existing links are kept, not doubled."""
    if not media_ids and not md5s:
        raise VictimIdError("give MediaIDs (with a hash set) or MD5s to link")
    if media_ids and not hash_set:
        raise VictimIdError("MediaIDs are per hash set: name the hash set")
    with store.session() as session:
        row = find_series(session, series)
        query = select(HashSetEntry.id)
        if hash_set:
            set_id = session.scalar(select(HashSet.id).where(HashSet.name == hash_set))
            if set_id is None:
                raise VictimIdError(f"no hash set named {hash_set!r}")
            query = query.where(HashSetEntry.hash_set_id == set_id)
        wanted: set[int] = set()
        missing: list[str] = []
        for column, values in (
            (HashSetEntry.media_id, media_ids or []),
            (HashSetEntry.md5, [m.strip().lower() for m in md5s or []]),
        ):
            for value in values:
                found = list(session.scalars(query.where(column == value)))
                if not found:
                    missing.append(value)
                wanted.update(found)
        if missing:
            raise VictimIdError(f"no hash-set entry for {', '.join(missing[:10])}")
        added = _add_links(session, row, entries=sorted(wanted), by=by)
        audit_change(session, by, "series.linked", row.name, entries=added, hash_set=hash_set)
        return added


def link_files(store: Store, series: str, sha256s: list[str], *, by: str) -> int:
    """Link files (by SHA-256) to a series; returns the links added."""
    with store.session() as session:
        row = find_series(session, series)
        wanted = sorted({s.strip().lower() for s in sha256s})
        known = set(session.scalars(select(File.sha256).where(File.sha256.in_(wanted))))
        missing = [s for s in wanted if s not in known]
        if missing:
            raise VictimIdError(f"no file with SHA-256 {', '.join(missing[:10])} in the store")
        added = _add_links(session, row, files=wanted, by=by)
        audit_change(session, by, "series.linked", row.name, files=added)
        return added


def _add_links(
    session: Session,
    series: Series,
    *,
    entries: list[int] | None = None,
    files: list[str] | None = None,
    by: str,
) -> int:
    # The unique constraint does not stop doubles here: one of entry_id / sha256 is NULL, and
    # NULLs never collide in a unique index. So look first.
    have_entries = set(
        session.scalars(select(SeriesLink.entry_id).where(SeriesLink.series_id == series.id))
    )
    have_files = set(
        session.scalars(select(SeriesLink.sha256).where(SeriesLink.series_id == series.id))
    )
    new = [SeriesLink(series_id=series.id, entry_id=e, linked_by=by) for e in entries or []]
    new = [link for link in new if link.entry_id not in have_entries]
    new += [
        SeriesLink(series_id=series.id, sha256=s, linked_by=by)
        for s in files or []
        if s not in have_files
    ]
    session.add_all(new)
    if new:
        series.updated_at = now()
    return len(new)
