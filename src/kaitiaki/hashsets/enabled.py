"""Whether matching has any hash set to match against, and how to say that it has none.

A scan or a match with no enabled set finds nothing, and without a word that looks exactly like
"nothing known here". The commands that match say so instead, naming the fix.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from kaitiaki.store import Store
from kaitiaki.store.models import HashSet

NO_ENABLED_SET = (
    "no enabled hash set: import one with 'kaitiaki hashset import FILE --name NAME' "
    "or enable one with 'kaitiaki hashset enable NAME'"
)


def no_enabled_set(store: Store, names: Sequence[str] | None = None) -> bool:
    """Whether matching would use no hash set: none is named and none is enabled. Allowlists
    do not count: they only cancel other sets' matches."""
    if names:
        return False  # named sets are checked (missing, disabled) by the matcher itself
    with store.session() as session:
        found = session.scalar(
            select(HashSet.id).where(HashSet.enabled, HashSet.allowlist.is_(False)).limit(1)
        )
    return found is None
