"""One signal against the hash sets: the lookup behind the HMA-compatible matching API.

A PDQ hash is asked of each set's own range index (``match.indexes``, the index scans use),
each set answering at its own threshold; a digest (MD5, SHA-1, SHA-256) is an exact lookup in
the store. HMA's signal type names map onto kaitiaki's columns: ``video_md5`` is the MD5 of the
file's bytes, the same digest kaitiaki keeps as ``md5``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.index.pdq import hex_to_bytes
from kaitiaki.match.controls import ENTRY_STATE, BankHit, BankLike, bank_hits, with_allowlists
from kaitiaki.match.flood import count_matches
from kaitiaki.match.serving import BankState, server_for
from kaitiaki.signals import PDQ
from kaitiaki.signals.vpdq_hma import normalise_vpdq
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry

# HMA signal type name -> (HashSetEntry column, the value's form).
SIGNAL_TYPES: dict[str, tuple[str, re.Pattern[str]]] = {
    "pdq": ("pdq", re.compile(r"[0-9a-f]{64}")),
    "video_md5": ("md5", re.compile(r"[0-9a-f]{32}")),
    "md5": ("md5", re.compile(r"[0-9a-f]{32}")),
    "sha1": ("sha1", re.compile(r"[0-9a-f]{40}")),
    "sha256": ("sha256", re.compile(r"[0-9a-f]{64}")),
    # threatexchange's JSON list of "hex,quality,timestamp" frames (signals.vpdq_hma), checked
    # in full by normalise_signal.
    "vpdq": ("vpdq", re.compile(r"\[.*\]", re.DOTALL)),
}


class SignalInputError(ValueError):
    """A signal type kaitiaki does not know, or a value not of that type's form."""


def column_for(signal_type: str) -> str:
    try:
        return SIGNAL_TYPES[signal_type][0]
    except KeyError:
        raise SignalInputError(f"No such SignalType {signal_type!r}") from None


def normalise_signal(signal_type: str, value: str) -> str:
    """The value in kaitiaki's stored form (lowercase hex), or SignalInputError saying why."""
    column_for(signal_type)
    if signal_type == "vpdq":
        return _normalise_vpdq(value)
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
    if column == "vpdq":  # videos: compared frame by frame, not through a PDQ index
        from kaitiaki.match.lookup_video import lookup_vpdq  # it builds on this module

        hits = lookup_vpdq(store, signal, banks=banks, include_disabled=include_disabled)
        return _counted(store, hits)
    value = normalise_signal(signal_type, signal)
    if column == "pdq":
        return resolve_hits(store, *pdq_candidates(store, [value], banks, include_disabled))
    with store.session() as session:
        rows = _sets(session, banks, include_disabled)
        if not rows:
            return []
        rows = with_allowlists(session, rows, banks)  # an allowlist cancels even unasked
        found = _exact(session, rows, column, value)
        return _counted(store, _hits(session, rows, found))


def pdq_candidates(
    store: Store, hexes: Sequence[str], banks: Collection[str] | None, include_disabled: bool
) -> tuple[list[BankState], dict[int, int]]:
    """The banks asked (allowlists added: they cancel even unasked) and the entries of their
    served indexes (``match.serving``) within each bank's threshold of any of ``hexes``; no
    store read, so a lookup that finds nothing costs only the index."""
    server = server_for(store)
    view = server.view()
    wanted = None if banks is None else set(banks)
    rows = [
        b
        for b in view.banks.values()
        if (include_disabled or b.enabled) and (wanted is None or b.name in wanted)
    ]
    if not rows:
        return [], {}
    if wanted is not None:
        asked = {r.id for r in rows}
        rows += [b for b in view.banks.values() if b.allowlist and b.enabled and b.id not in asked]
    found = server.query(hex_to_bytes(list(hexes)), [r.id for r in rows], view)
    return rows, found


def resolve_hits(store: Store, rows: Sequence[BankLike], found: dict[int, int]) -> list[BankHit]:
    """The candidates as hits, each checked against its entry in the store (removed,
    quarantined, disabled, on an allowlist: ``match.controls``) and counted for the flood
    guard; no store read when there is no candidate."""
    if not found:
        return []
    return _counted(store, bank_hits(rows, found, _entry_states(store, list(found))))


def _entry_states(store: Store, ids: list[int]) -> list[tuple[int, int, object, datetime | None]]:
    """The ``ENTRY_STATE`` columns of ``ids``, read through the driver.

    This runs for every lookup that finds something, at thousands a second: building,
    caching and compiling the same SELECT through SQLAlchemy took ~400 us, the driver's own
    cursor on a pooled connection ~50 us. The ids are the index's, the statement fixed.
    """
    marks = ",".join([_PLACEHOLDER[store.engine.dialect.paramstyle]] * len(ids))
    connection = store.engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute(_ENTRY_STATE_SQL.format(marks), ids)
        rows = cursor.fetchall()
        cursor.close()
    finally:
        connection.close()  # back to the pool
    # SQLite hands the instants back as text; PostgreSQL as datetimes.
    return [(e, s, q, _instant(d)) for e, s, q, d in rows]


_ENTRY_STATE_SQL = (
    f"SELECT {', '.join(c.key for c in ENTRY_STATE)} FROM {HashSetEntry.__tablename__}"
    " WHERE id IN ({})"
)
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _instant(value: object) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


def _sets(session: Session, banks: Collection[str] | None, include_disabled: bool) -> list[HashSet]:
    query = select(HashSet)
    if not include_disabled:
        query = query.where(HashSet.enabled)
    if banks is not None:
        query = query.where(HashSet.name.in_(list(banks)))
    return list(session.scalars(query))


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
    if not values:
        return []
    return resolve_hits(store, *pdq_candidates(store, values, banks, include_disabled))


def _hits(session: Session, rows: Sequence[BankLike], found: dict[int, int]) -> list[BankHit]:
    if not found:
        return []
    # Each entry's state comes with it: quarantined, disabled, on an allowlist (match.controls).
    entries = session.execute(select(*ENTRY_STATE).where(HashSetEntry.id.in_(list(found)))).all()
    return bank_hits(rows, found, entries)


def _counted(store: Store, hits: list[BankHit]) -> list[BankHit]:
    # What was reported as matching feeds the flood guard (counted in memory, match.flood).
    count_matches(store, (h.entry_id for h in hits if h.counts))
    return hits


def compare_signals(signal_type: str, left: str, right: str) -> tuple[bool, dict[str, float]]:
    """HMA's ``/m/compare`` of two hashes of one type: whether they match and, for PDQ, the
    distance (a match within the default threshold, as HMA's comparison uses)."""
    if column_for(signal_type) == "vpdq":
        from kaitiaki.match.lookup_video import compare_vpdq  # it builds on this module

        return compare_vpdq(left, right)
    a, b = normalise_signal(signal_type, left), normalise_signal(signal_type, right)
    if column_for(signal_type) != "pdq":
        return a == b, {}
    distance = PDQ.compare(a, b)
    return PDQ.matches(distance), {"distance": distance}


def _normalise_vpdq(value: str) -> str:
    try:
        return normalise_vpdq(value)
    except ValueError as exc:
        raise SignalInputError(f"invalid signal: {exc}") from None
