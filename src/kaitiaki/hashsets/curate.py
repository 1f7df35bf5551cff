"""Curating hash sets one entry at a time: what HMA calls banks and bank content.

Imports make whole sets from files (``hashsets.store``); these functions let a matching
service's client create an empty set, rename it, switch it on or off, set its PDQ threshold,
and add or remove single entries. Every change is one transaction with its audit entry.

A set's PDQ index is cached on disk under a key that includes the entry count; adding and then
removing an entry would leave the count unchanged, so every entry change also drops the local
cached index of that set (it is rebuilt on the next lookup).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets.entry import HashSetError, HashSetExistsError, HashSetMissingError
from kaitiaki.hashsets.store import DEFAULT_THRESHOLD, MAX_THRESHOLD
from kaitiaki.hashsets.versions import touch
from kaitiaki.match.indexes import index_cache_dir
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry

# HMA's rule for bank names (an upper-case identifier), kept so its clients see the same refusals.
BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
MAX_NAME = 200
MAX_NOTE = 255
SOURCE = "api"


def check_bank_name(name: str) -> str:
    if len(name) > MAX_NAME or not BANK_NAME.fullmatch(name):
        raise HashSetError(
            f"bank name {name!r} must be upper-case letters, digits and underscores,"
            " not starting with a digit"
        )
    return name


def _find(session: Session, name: str) -> HashSet:
    found = session.scalar(select(HashSet).where(HashSet.name == name))
    if found is None:
        raise HashSetMissingError(name)
    return found


def _check_threshold(threshold: int) -> int:
    if isinstance(threshold, bool) or not 0 <= threshold <= MAX_THRESHOLD:
        raise HashSetError(f"pdq_threshold must be an integer 0..{MAX_THRESHOLD}")
    return threshold


def create_bank(
    store: Store, name: str, *, enabled: bool, actor: str, pdq_threshold: int = DEFAULT_THRESHOLD
) -> HashSet:
    """An empty hash set curated through the API (profile "none": no category codes)."""
    check_bank_name(name)
    _check_threshold(pdq_threshold)
    try:
        with store.session() as session:
            if session.scalar(select(HashSet.id).where(HashSet.name == name)) is not None:
                raise HashSetExistsError(name)
            row = HashSet(
                name=name,
                source=SOURCE,
                profile="none",
                pdq_threshold=pdq_threshold,
                enabled=enabled,
                source_format=SOURCE,
                entry_count=0,
            )
            session.add(row)
            session.flush()
            record(
                session,
                actor=actor,
                action="hashset.created",
                target_type="hash_set",
                target_id=str(row.id),
                details={"name": name, "enabled": enabled, "pdq_threshold": pdq_threshold},
            )
            return row
    except IntegrityError:
        raise HashSetExistsError(name) from None


def update_bank(
    store: Store,
    name: str,
    *,
    actor: str,
    new_name: str | None = None,
    enabled: bool | None = None,
    pdq_threshold: int | None = None,
) -> HashSet:
    """Rename, switch on or off, or change the threshold of a set; audited with the old values."""
    if new_name is not None and new_name != name:
        check_bank_name(new_name)
    if pdq_threshold is not None:
        _check_threshold(pdq_threshold)
    try:
        with store.session() as session:
            row = _find(session, name)
            changes: dict[str, Any] = {}
            if new_name is not None and new_name != row.name:
                if session.scalar(select(HashSet.id).where(HashSet.name == new_name)):
                    raise HashSetExistsError(new_name)
                changes["name"] = [row.name, new_name]
                row.name = new_name
            if enabled is not None and enabled != row.enabled:
                changes["enabled"] = [row.enabled, enabled]
                row.enabled = enabled
            if pdq_threshold is not None and pdq_threshold != row.pdq_threshold:
                changes["pdq_threshold"] = [row.pdq_threshold, pdq_threshold]
                row.pdq_threshold = pdq_threshold
            if changes:
                record(
                    session,
                    actor=actor,
                    action="hashset.updated",
                    target_type="hash_set",
                    target_id=str(row.id),
                    details={"name": name, "changes": changes},
                )
            return row
    except IntegrityError:
        raise HashSetExistsError(new_name or name) from None


def add_entry(
    store: Store,
    name: str,
    signals: Mapping[str, str],
    *,
    actor: str,
    note: str | None = None,
) -> int:
    """One new entry of set ``name`` holding ``signals`` (column -> normalised value); its id."""
    if not signals:
        raise HashSetError("No signals given")
    if note is not None and len(note) > MAX_NOTE:
        raise HashSetError(f"note must be at most {MAX_NOTE} characters")
    with store.session() as session:
        row = _find(session, name)
        entry = HashSetEntry(hash_set_id=row.id, extra={"note": note} if note else None, **signals)
        session.add(entry)
        touch(row, 1)
        session.flush()
        record(
            session,
            actor=actor,
            action="hashset.entry_added",
            target_type="hash_set",
            target_id=str(row.id),
            details={"name": name, "entry_id": entry.id, "signals": dict(signals)},
        )
        entry_id, set_id = entry.id, row.id
    _drop_cached_index(store, set_id)
    return entry_id


def get_entry(store: Store, name: str, entry_id: int) -> tuple[HashSet, HashSetEntry]:
    """The set and its entry ``entry_id``; HashSetMissingError for an unknown set,
    LookupError for an entry not in it."""
    with store.session() as session:
        row = _find(session, name)
        entry = session.get(HashSetEntry, entry_id)
        if entry is None or entry.hash_set_id != row.id:
            raise LookupError(f"content '{entry_id}' not found")
        return row, entry


def remove_entry(store: Store, name: str, entry_id: int, *, actor: str) -> int:
    """Remove entry ``entry_id`` of set ``name`` (its matches go with it); 1, or 0 if absent."""
    with store.session() as session:
        row = _find(session, name)
        entry = session.get(HashSetEntry, entry_id)
        if entry is None or entry.hash_set_id != row.id:
            return 0
        signals = {
            k: v for k in ("md5", "sha1", "sha256", "pdq") if (v := getattr(entry, k)) is not None
        }
        session.delete(entry)
        touch(row, -1)
        record(
            session,
            actor=actor,
            action="hashset.entry_removed",
            target_type="hash_set",
            target_id=str(row.id),
            details={"name": name, "entry_id": entry_id, "signals": signals},
        )
        set_id = row.id
    _drop_cached_index(store, set_id)
    return 1


def _drop_cached_index(store: Store, set_id: int) -> None:
    cache = index_cache_dir(store.url)
    if cache is None or not cache.exists():
        return
    for stale in cache.glob(f"set-{set_id}-*"):
        shutil.rmtree(stale, ignore_errors=True)
