"""A hash set's version: bumped by every change to its entries.

Server processes keep each set's PDQ index loaded; they learn that a set changed by reading
this one small row (``match.serving``), not by counting millions of entries. Every code path
that adds, removes, disables or quarantines entries calls ``touch`` in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime

from kaitiaki.store.models import HashSet


def touch(row: HashSet, entry_delta: int = 0) -> None:
    """Record a change to ``row``'s entries (``entry_delta`` more or fewer of them)."""
    row.version = (row.version or 0) + 1
    row.changed_at = datetime.now(UTC)
    if entry_delta:
        row.entry_count = max(0, (row.entry_count or 0) + entry_delta)
