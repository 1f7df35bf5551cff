"""What a hash set's new entries meet among the files already stored: digests and videos here,
PDQ in ``retro_pdq``.

Only the new entries are taken, never every set against every file: exact digests are one join
per digest in the database, on indexed columns, restricted to the new entries' ids; vPDQ compares
the new videos with the stored ones directly (both are few).

Results gather in ``Found``: per file, the strongest evidence per entry (the scan's rule,
``keep_strongest``), so a file meeting an entry by digest and by PDQ gets one match, as in a scan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from kaitiaki.index.pdq import HASH_BYTES, hex_to_bytes
from kaitiaki.match.matcher import keep_strongest
from kaitiaki.match.videos import match_videos, unique_frames
from kaitiaki.store.models import File, HashSetEntry

# sha256 -> {entry id -> (signal, distance)}
Found = dict[str, dict[int, tuple[str, int]]]
# (stage, done, total)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class NewEntries:
    """The entries of one set after the watermark, up to the highest id seen when the run began
    (entries added while it runs are left for the next run), quarantined ones left out."""

    hash_set_id: int
    after: int
    through: int
    threshold: int

    def where(self) -> list[ColumnElement[bool]]:
        return [
            HashSetEntry.hash_set_id == self.hash_set_id,
            HashSetEntry.id > self.after,
            HashSetEntry.id <= self.through,
            HashSetEntry.quarantined_at.is_(None),
        ]


def find_exact(session: Session, new: NewEntries, found: Found) -> None:
    """Files whose MD5, SHA-1 or SHA-256 is a new entry's: a join on indexed columns."""
    for signal in ("sha256", "sha1", "md5"):
        file_column = getattr(File, signal)
        entry_column = getattr(HashSetEntry, signal)
        rows = session.execute(
            select(File.sha256, HashSetEntry.id)
            .join(HashSetEntry, entry_column == file_column)
            .where(*new.where())
        )
        for sha256, entry_id in rows:
            keep_strongest(found.setdefault(sha256, {}), int(entry_id), signal, 0)


def new_pdq(session: Session, new: NewEntries) -> tuple[NDArray[np.int64], NDArray[np.uint8]]:
    """The new entries' PDQ hashes (n, 32) and their entry ids."""
    rows = session.execute(
        select(HashSetEntry.id, HashSetEntry.pdq).where(*new.where(), HashSetEntry.pdq.is_not(None))
    ).all()
    if not rows:
        return np.zeros(0, np.int64), np.zeros((0, HASH_BYTES), np.uint8)
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return ids, hex_to_bytes([str(r[1]) for r in rows])


def find_videos(session: Session, new: NewEntries, found: Found) -> None:
    """Stored videos against the new vPDQ entries (the scan's rule, ``match_videos``)."""
    entries = session.execute(
        select(HashSetEntry.id, HashSetEntry.vpdq).where(
            *new.where(), HashSetEntry.vpdq.is_not(None)
        )
    ).all()
    videos = [(int(entry_id), unique_frames(frames)) for entry_id, frames in entries if frames]
    if not videos:
        return
    statement = select(File.sha256, File.vpdq).where(File.vpdq.is_not(None))
    for sha256, frames in session.execute(statement.execution_options(yield_per=256)):
        if not frames:
            continue
        query = unique_frames(frames)
        for entry_id, entry_frames in videos:
            hit = match_videos(query, entry_frames)
            if hit is not None:
                keep_strongest(found.setdefault(sha256, {}), entry_id, "vpdq", hit.distance)
