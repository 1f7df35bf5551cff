"""A hash set's version: bumped by every change to its entries.

Server processes keep each set's PDQ index loaded and learn that a set changed by reading this
one small row (``match.serving``), not by counting millions of entries. So every code path that
adds, removes, disables or quarantines entries calls ``touch`` in the same transaction, and a
path that adds calls it *before* inserting: the UPDATE takes the set's row lock, so writers of
one set allocate entry ids in the order they commit, and a server that has read up to entry id
N never later sees a committed entry of that set below N. (SQLite serialises writers anyway.)
Removals are counted apart (``removals``): entry ids may be reused after one, so a server then
rebuilds the set's index from the store instead of only reading what was added.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.orm import object_session

from kaitiaki.store.models import HashSet


def touch(row: HashSet, entry_delta: int = 0, *, removed: bool = False) -> None:
    """Record a change to ``row``'s entries (``entry_delta`` more or fewer of them) at once.

    One atomic UPDATE, not a read-modify-write, so concurrent writers never lose a bump.
    """
    session = object_session(row)
    if session is None:
        raise ValueError("touch() needs a hash set that belongs to a session")
    if row.id is None:
        session.flush([row])
    session.execute(
        update(HashSet)
        .where(HashSet.id == row.id)
        .values(
            version=HashSet.version + 1,
            changed_at=datetime.now(UTC),
            entry_count=HashSet.entry_count + entry_delta,
            removals=HashSet.removals + (1 if removed or entry_delta < 0 else 0),
        )
        .execution_options(synchronize_session=False)
    )
    # The in-session object now lags the row: read it again when next used.
    session.expire(row, ["version", "changed_at", "entry_count", "removals"])
