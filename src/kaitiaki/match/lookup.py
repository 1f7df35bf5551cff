"""One signal against the hash sets: the lookup behind the HMA-compatible matching API.

A PDQ hash is asked of each set's own range index (``match.indexes``, the index scans use),
each set answering at its own threshold; a digest (MD5, SHA-1, SHA-256) is an exact lookup in
the store. HMA's signal type names map onto kaitiaki's columns: ``video_md5`` is the MD5 of the
file's bytes, the same digest kaitiaki keeps as ``md5``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.index.bank import DEFAULT_THRESHOLD
from kaitiaki.index.pdq import hex_to_bytes
from kaitiaki.match.indexes import index_cache_dir, set_index
from kaitiaki.signals.pdq import hamming
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry

# HMA signal type name -> (HashSetEntry column, the value's form).
SIGNAL_TYPES: dict[str, tuple[str, re.Pattern[str]]] = {
    "pdq": ("pdq", re.compile(r"[0-9a-f]{64}")),
    "video_md5": ("md5", re.compile(r"[0-9a-f]{32}")),
    "md5": ("md5", re.compile(r"[0-9a-f]{32}")),
    "sha1": ("sha1", re.compile(r"[0-9a-f]{40}")),
    "sha256": ("sha256", re.compile(r"[0-9a-f]{64}")),
}


class SignalInputError(ValueError):
    """A signal type kaitiaki does not know, or a value not of that type's form."""


@dataclass(frozen=True, slots=True)
class BankHit:
    bank: str
    entry_id: int
    distance: int
    # A quarantined entry (flood guard) is "disabled content" in HMA's terms.
    quarantined: bool


def column_for(signal_type: str) -> str:
    try:
        return SIGNAL_TYPES[signal_type][0]
    except KeyError:
        raise SignalInputError(f"No such SignalType {signal_type!r}") from None


def normalise_signal(signal_type: str, value: str) -> str:
    """The value in kaitiaki's stored form (lowercase hex), or SignalInputError saying why."""
    column_for(signal_type)
    cleaned = value.strip().lower()
    if not SIGNAL_TYPES[signal_type][1].fullmatch(cleaned):
        raise SignalInputError(f"invalid signal: {value!r} is not a {signal_type} hash")
    return cleaned


def lookup_signal(
    store: Store,
    signal_type: str,
    signal: str,
    *,
    banks: Collection[str] | None = None,
    include_disabled: bool = False,
) -> list[BankHit]:
    """Entries matching ``signal``: exact for digests, within each set's threshold for PDQ.

    ``banks`` restricts the sets by name (an unknown name just matches nothing, as in HMA);
    disabled sets are left out unless ``include_disabled``. Best first (distance, then entry).
    """
    column = column_for(signal_type)
    value = normalise_signal(signal_type, signal)
    with store.session() as session:
        rows = _sets(session, banks, include_disabled)
        if not rows:
            return []
        if column == "pdq":
            found = _pdq(session, store.url, rows, [value])
        else:
            found = _exact(session, rows, column, value)
        return _hits(session, rows, found)


def _sets(session: Session, banks: Collection[str] | None, include_disabled: bool) -> list[HashSet]:
    query = select(HashSet)
    if not include_disabled:
        query = query.where(HashSet.enabled)
    if banks is not None:
        query = query.where(HashSet.name.in_(list(banks)))
    return list(session.scalars(query))


def _pdq(
    session: Session, url: str, rows: Sequence[HashSet], hexes: Sequence[str]
) -> dict[int, int]:
    cache = index_cache_dir(url)
    packed = hex_to_bytes(list(hexes))
    found: dict[int, int] = {}
    for row in rows:
        index = set_index(session, row, cache)
        if index is None:
            continue
        result = index.query(packed, row.pdq_threshold)
        for entry_id, distance in zip(result.ids.tolist(), result.distance.tolist(), strict=True):
            # With several query variants (dihedral), keep each entry's nearest.
            best = found.get(int(entry_id))
            if best is None or distance < best:
                found[int(entry_id)] = int(distance)
    return found


def _exact(session: Session, rows: Sequence[HashSet], column: str, value: str) -> dict[int, int]:
    ids = session.scalars(
        select(HashSetEntry.id).where(
            getattr(HashSetEntry, column) == value,
            HashSetEntry.hash_set_id.in_([r.id for r in rows]),
        )
    )
    return dict.fromkeys(ids, 0)


def lookup_pdq_variants(
    store: Store,
    hexes: Sequence[str],
    *,
    banks: Collection[str] | None = None,
    include_disabled: bool = False,
) -> list[BankHit]:
    """Entries matching any of ``hexes`` (an image's 8 dihedral PDQ hashes), nearest kept."""
    values = [normalise_signal("pdq", h) for h in hexes]
    with store.session() as session:
        rows = _sets(session, banks, include_disabled)
        if not rows or not values:
            return []
        return _hits(session, rows, _pdq(session, store.url, rows, values))


def _hits(session: Session, rows: Sequence[HashSet], found: dict[int, int]) -> list[BankHit]:
    if not found:
        return []
    names = {r.id: r.name for r in rows}
    entries = session.execute(
        select(HashSetEntry.id, HashSetEntry.hash_set_id, HashSetEntry.quarantined_at).where(
            HashSetEntry.id.in_(list(found))
        )
    ).all()
    hits = [
        BankHit(names[set_id], entry_id, found[entry_id], quarantined is not None)
        for entry_id, set_id, quarantined in entries
        if set_id in names
    ]
    hits.sort(key=lambda h: (h.distance, h.entry_id))
    return hits


def compare_signals(signal_type: str, left: str, right: str) -> tuple[bool, dict[str, int]]:
    """HMA's ``/m/compare`` of two hashes of one type: whether they match and, for PDQ, the
    distance (a match within the default threshold, as HMA's comparison uses)."""
    a, b = normalise_signal(signal_type, left), normalise_signal(signal_type, right)
    if column_for(signal_type) != "pdq":
        return a == b, {}
    distance = hamming(a, b)
    return distance <= DEFAULT_THRESHOLD, {"distance": distance}
