"""One batch of an exchange's updates applied to its items and to the hash set it feeds.

An exchange item is one signal as the exchange last gave it. Its hash-set entry exists while the
exchange's opinion of it is positive or disputed (disputed entries still match, marked as such
for the reviewer); a negative opinion (a known false positive) or an upstream delete removes the
entry. Applying the same batch twice changes nothing the second time, which is what lets a fetch
killed mid-way start again from its last checkpoint.

Exchanges that key their updates by record (NCMEC) get one item per (record, signal): a record's
update replaces that record's items, its delete removes them, and a signal's entry is settled
from every live item of that signal, so a hash still carried by another record keeps its entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigBase

from kaitiaki.exchanges.registry import ApiClass, signal_fields, signal_types
from kaitiaki.hashsets.versions import touch
from kaitiaki.store.models import Exchange, ExchangeItem, HashSet, HashSetEntry

Signal = tuple[str, str]

_AGGREGATE = state.AggregateSignalOpinionCategory
# The package's aggregate opinions, summarised: an investigation seed is a lead the exchange
# shares as worth matching, so it counts as positive here.
OPINIONS: dict[state.AggregateSignalOpinionCategory, str] = {
    _AGGREGATE.POSITIVE_CLASS: "positive",
    _AGGREGATE.INVESTIGATION_SEED: "positive",
    _AGGREGATE.NEGATIVE_CLASS: "negative",
    _AGGREGATE.DISPUTED: "disputed",
}


@dataclass
class BatchResult:
    # New items and opinion changes; items seen again unchanged are only ``seen``.
    updated: int = 0
    seen: int = 0
    deleted: int = 0
    entries_added: int = 0
    entries_removed: int = 0
    # Upstream deletes whose key names neither a signal nor a record (none expected).
    unmapped_deletes: int = 0

    def add(self, other: BatchResult) -> None:
        self.updated += other.updated
        self.seen += other.seen
        self.deleted += other.deleted
        self.entries_added += other.entries_added
        self.entries_removed += other.entries_removed
        self.unmapped_deletes += other.unmapped_deletes

    def changed(self) -> bool:
        return bool(self.updated or self.deleted or self.entries_added or self.entries_removed)


def normalise(signal_type: str, value: str) -> str:
    # Inside kaitiaki hex digests are lowercase; exchanges send either case.
    return value.strip().lower() if signal_type in signal_fields() else value.strip()


@dataclass
class Operations:
    """A batch as operations. ``signals``: signal -> opinion for exchanges keyed by signal;
    ``records``: record id -> the record's signals and opinions for exchanges keyed by record.
    None means "delete"; later updates win."""

    signals: dict[Signal, str | None] = field(default_factory=dict)
    records: dict[str, dict[Signal, str] | None] = field(default_factory=dict)
    unmapped: int = 0


def to_operations(
    api_cls: ApiClass, collab: CollaborationConfigBase, updates: Iterable[tuple[Any, Any]]
) -> Operations:
    """The batch as operations (see ``Operations``).

    Most exchanges key their updates by signal. NCMEC keys them by its own record id, and a
    deleted record arrives without its hashes: its items are found by the record id stored
    with them when the record was first fetched."""
    result = Operations()
    ops = result.signals
    for key, value in updates:
        direct = isinstance(key, tuple) and len(key) == 2
        if direct:
            # Normalised before the package validates it (its PDQ check wants lowercase).
            key = (key[0], normalise(key[0], key[1]))
        elif isinstance(key, str):
            result.records[key] = _record(api_cls, collab, key, value)
            continue
        if value is None or getattr(value, "deleted", False):
            if direct:
                ops[key] = None
            else:
                result.unmapped += 1
            continue
        converted = api_cls.naive_convert_to_signal_type(signal_types(), collab, {key: value})
        if not converted and direct:
            # A record we cannot use (a signal type no entry holds, an invalid hash): whatever
            # an earlier fetch stored under its key no longer stands.
            ops[key] = None
        for signal_type, signals in converted.items():
            name = signal_type.get_name()
            for signal, metadata in signals.items():
                opinion = OPINIONS[metadata.get_as_aggregate_opinion().category]
                ops[name, normalise(name, signal)] = opinion
    return result


def _record(
    api_cls: ApiClass, collab: CollaborationConfigBase, key: str, value: Any
) -> dict[Signal, str] | None:
    if value is None or getattr(value, "deleted", False):
        return None
    fingerprints = getattr(value, "fingerprints", None)
    if isinstance(fingerprints, dict):
        # Lowercased before the package validates them (its PDQ check wants lowercase).
        lowered = {kind: str(hashed).strip().lower() for kind, hashed in fingerprints.items()}
        value = replace(value, fingerprints=lowered)
    converted = api_cls.naive_convert_to_signal_type(signal_types(), collab, {key: value})
    # A record with nothing usable (filtered out, invalid hashes) carries no items.
    return {
        (signal_type.get_name(), normalise(signal_type.get_name(), signal)): OPINIONS[
            metadata.get_as_aggregate_opinion().category
        ]
        for signal_type, signals in converted.items()
        for signal, metadata in signals.items()
    }


def apply_operations(
    session: Session,
    exchange: Exchange,
    hash_set: HashSet,
    ops: dict[Signal, str | None],
    now: datetime,
    records: dict[str, dict[Signal, str] | None] | None = None,
) -> BatchResult:
    result = BatchResult()
    if records:
        apply_records(session, exchange, hash_set, records, now, result)
    if not ops:
        return result
    held: dict[Signal, ExchangeItem] = {
        (found.signal_type, found.signal_value): found
        for found in _items(session, exchange, ops, by_record=False)
    }
    drop_entries: list[int] = []
    new_entries: list[tuple[ExchangeItem, HashSetEntry]] = []
    for signal, opinion in ops.items():
        item: ExchangeItem | None = held.get(signal)
        if opinion is None:
            if item is not None:
                if item.entry_id is not None:
                    drop_entries.append(item.entry_id)
                session.delete(item)
                result.deleted += 1
            continue
        if item is None:
            item = ExchangeItem(
                exchange_id=exchange.id, signal_type=signal[0], signal_value=signal[1]
            )
            session.add(item)
        if item.opinion != opinion:
            item.opinion = opinion
            result.updated += 1
        # Touched on every fetch that sees it: a full fetch removes what it did not touch.
        item.updated_at = now
        result.seen += 1
        wanted = opinion != "negative" and signal[0] in signal_fields()
        if wanted and item.entry_id is None:
            new_entries.append((item, _entry(hash_set, exchange.name, signal, opinion)))
        elif wanted and item.entry_id is not None:
            entry_row = session.get(HashSetEntry, item.entry_id)
            if entry_row is not None and (entry_row.extra or {}).get("opinion") != opinion:
                entry_row.extra = {**(entry_row.extra or {}), "opinion": opinion}
        elif not wanted and item.entry_id is not None:
            drop_entries.append(item.entry_id)
            item.entry_id = None
    # The set's version first (it locks the set's row; see hashsets.versions), then one flush
    # for the batch's new entries, then their ids onto the items.
    if new_entries:
        touch(hash_set, len(new_entries))
    session.add_all([entry for _, entry in new_entries])
    session.flush()
    for item, entry in new_entries:
        item.entry_id = entry.id
    result.entries_added += len(new_entries)
    result.entries_removed += remove_entries(session, hash_set, drop_entries)
    return result


def apply_records(
    session: Session,
    exchange: Exchange,
    hash_set: HashSet,
    records: dict[str, dict[Signal, str] | None],
    now: datetime,
    result: BatchResult,
) -> None:
    """Each record's items become the record's signals (none for a deleted record), then every
    signal whose items changed is settled against all its live items."""
    ids = list(records)
    held: dict[str, dict[Signal, ExchangeItem]] = {}
    for start in range(0, len(ids), 500):
        query = select(ExchangeItem).where(
            ExchangeItem.exchange_id == exchange.id,
            ExchangeItem.record_id.in_(ids[start : start + 500]),
        )
        for found in session.scalars(query):
            signal = (found.signal_type, found.signal_value)
            held.setdefault(found.record_id or "", {})[signal] = found
    touched: set[Signal] = set()
    # The entries deleted items pointed at: kept if another record still carries the signal.
    previous: dict[Signal, int] = {}
    for record_id, signals in records.items():
        old = held.get(record_id, {})
        wanted = signals or {}
        for signal, gone in old.items():
            if signal not in wanted:
                if gone.entry_id is not None:
                    previous[signal] = gone.entry_id
                touched.add(signal)
                session.delete(gone)
                result.deleted += 1
        for signal, opinion in wanted.items():
            item = old.get(signal)
            if item is None:
                item = ExchangeItem(
                    exchange_id=exchange.id,
                    record_id=record_id,
                    signal_type=signal[0],
                    signal_value=signal[1],
                )
                session.add(item)
            if item.opinion != opinion:
                item.opinion = opinion
                result.updated += 1
            item.updated_at = now
            result.seen += 1
            touched.add(signal)
    session.flush()
    _settle(session, exchange, hash_set, touched, previous, result)


def _settle(
    session: Session,
    exchange: Exchange,
    hash_set: HashSet,
    touched: set[Signal],
    previous: dict[Signal, int],
    result: BatchResult,
) -> None:
    """One entry per signal while any live record carries it with a wanted opinion; records
    that disagree make it disputed."""
    live: dict[Signal, list[ExchangeItem]] = {}
    for found in _items(session, exchange, sorted(touched), by_record=True):
        live.setdefault((found.signal_type, found.signal_value), []).append(found)
    drop: set[int] = set()
    new_entries: list[tuple[list[ExchangeItem], HashSetEntry]] = []
    for signal in sorted(touched):
        items = live.get(signal, [])
        opinions = {item.opinion for item in items}
        opinion = opinions.pop() if len(opinions) == 1 else "disputed"
        known = {item.entry_id for item in items if item.entry_id is not None}
        if signal in previous:
            known.add(previous[signal])
        entry_row = next(
            (row for row in (session.get(HashSetEntry, i) for i in sorted(known)) if row), None
        )
        drop.update(known)
        if not items or opinion == "negative" or signal[0] not in signal_fields():
            for item in items:
                item.entry_id = None
            continue
        if entry_row is None:
            new_entries.append((items, _entry(hash_set, exchange.name, signal, opinion)))
            continue
        drop.discard(entry_row.id)
        if (entry_row.extra or {}).get("opinion") != opinion:
            entry_row.extra = {**(entry_row.extra or {}), "opinion": opinion}
        for item in items:
            item.entry_id = entry_row.id
    if new_entries:
        touch(hash_set, len(new_entries))  # before the inserts: see hashsets.versions
    session.add_all([entry for _, entry in new_entries])
    session.flush()
    for items, entry in new_entries:
        for item in items:
            item.entry_id = entry.id
    result.entries_added += len(new_entries)
    result.entries_removed += remove_entries(session, hash_set, sorted(drop))


def remove_entries(session: Session, hash_set: HashSet, ids: list[int]) -> int:
    """Delete the entries (their matches go with them, by the foreign keys' cascade)."""
    removed = 0
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        outcome = session.execute(
            delete(HashSetEntry).where(
                HashSetEntry.id.in_(chunk), HashSetEntry.hash_set_id == hash_set.id
            )
        )
        removed += int(getattr(outcome, "rowcount", 0) or 0)
    if removed:
        touch(hash_set, -removed)
    return removed


def _entry(hash_set: HashSet, exchange: str, signal: Signal, opinion: str) -> HashSetEntry:
    entry = HashSetEntry(
        hash_set_id=hash_set.id,
        extra={"exchange": exchange, "signal_type": signal[0], "opinion": opinion},
    )
    setattr(entry, signal_fields()[signal[0]], signal[1])
    return entry


def _items(
    session: Session, exchange: Exchange, signals: Iterable[Signal], *, by_record: bool
) -> Iterator[ExchangeItem]:
    """The exchange's items for ``signals``: those keyed by record (``by_record``) or by signal
    alone. Asked by (exchange, type, values), the columns of the items' unique index, in its
    order, 500 values a query."""
    by_type: dict[str, list[str]] = {}
    for signal_type, value in signals:
        by_type.setdefault(signal_type, []).append(value)
    keyed = ExchangeItem.record_id.is_not(None) if by_record else ExchangeItem.record_id.is_(None)
    for signal_type, values in by_type.items():
        for start in range(0, len(values), 500):
            yield from session.scalars(
                select(ExchangeItem).where(
                    ExchangeItem.exchange_id == exchange.id,
                    ExchangeItem.signal_type == signal_type,
                    ExchangeItem.signal_value.in_(values[start : start + 500]),
                    keyed,
                )
            )
