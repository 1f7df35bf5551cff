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
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets.entry import HashSetError, HashSetExistsError, HashSetMissingError
from kaitiaki.hashsets.store import DEFAULT_THRESHOLD, MAX_THRESHOLD
from kaitiaki.hashsets.versions import touch
from kaitiaki.match.controls import aware
from kaitiaki.match.retro_trigger import request_retro_match
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
    store: Store,
    name: str,
    *,
    enabled: bool,
    actor: str,
    pdq_threshold: int = DEFAULT_THRESHOLD,
    allowlist: bool = False,
) -> HashSet:
    """An empty hash set curated through the API (profile "none": no category codes); an
    ``allowlist`` one cancels other sets' matches of the content it lists."""
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
                allowlist=allowlist,
            )
            session.add(row)
            session.flush()
            details = {"name": name, "enabled": enabled, "pdq_threshold": pdq_threshold}
            record(
                session,
                actor=actor,
                action="hashset.created",
                target_type="hash_set",
                target_id=str(row.id),
                details={**details, **({"allowlist": True} if allowlist else {})},
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
    allowlist: bool | None = None,
) -> HashSet:
    """Rename, switch on or off, change the threshold of a set or whether it is an allowlist;
    audited with the old values."""
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
            if allowlist is not None and allowlist != row.allowlist:
                changes["allowlist"] = [row.allowlist, allowlist]
                row.allowlist = allowlist
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
    metadata: Mapping[str, Any] | None = None,
) -> int:
    """One new entry of set ``name`` holding ``signals`` (column -> normalised value); its id.
    ``metadata`` is HMA's BankedContentMetadata (``content_id``, ``content_uri``, ``json``),
    kept as given; its ``content_id`` is also the entry's media id."""
    if not signals:
        raise HashSetError("No signals given")
    if note is not None and len(note) > MAX_NOTE:
        raise HashSetError(f"note must be at most {MAX_NOTE} characters")
    with store.session() as session:
        row = _find(session, name)
        touch(row, 1)  # before the insert: see hashsets.versions
        extra = {
            **({"note": note} if note else {}),
            **({"metadata": dict(metadata)} if metadata else {}),
        }
        media_id = (metadata or {}).get("content_id")
        entry = HashSetEntry(hash_set_id=row.id, extra=extra or None, media_id=media_id, **signals)
        session.add(entry)
        session.flush()
        record(
            session,
            actor=actor,
            action="hashset.entry_added",
            target_type="hash_set",
            target_id=str(row.id),
            details={"name": name, "entry_id": entry.id, "signals": dict(signals)},
        )
        request_retro_match(session, row, actor)
        entry_id = entry.id
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


class Keep(Enum):
    """An argument of ``update_entry`` left as it is."""

    KEEP = 0


def update_entry(
    store: Store,
    name: str,
    entry_id: int,
    *,
    actor: str,
    disabled_until: datetime | Keep | None = Keep.KEEP,
    note: str | Keep | None = Keep.KEEP,
) -> tuple[HashSet, HashSetEntry]:
    """HMA's per-content switch (``disabled_until``: no match until then; None: enabled) and
    note of entry ``entry_id``; audited with the old values. HashSetMissingError for an unknown
    set, LookupError for an entry not in it."""
    if isinstance(note, str) and len(note) > MAX_NOTE:
        raise HashSetError(f"note must be at most {MAX_NOTE} characters")
    with store.session() as session:
        row = _find(session, name)
        entry = session.get(HashSetEntry, entry_id)
        if entry is None or entry.hash_set_id != row.id:
            raise LookupError(f"content '{entry_id}' not found")
        changes: dict[str, Any] = {}
        before = aware(entry.disabled_until)
        if not isinstance(disabled_until, Keep) and disabled_until != before:
            changes["disabled_until"] = [_iso(before), _iso(disabled_until)]
            entry.disabled_until = disabled_until
            # Whether the entry matches changed: servers holding the set learn it by version.
            touch(row)
        old_note = (entry.extra or {}).get("note")
        if not isinstance(note, Keep) and note != old_note:
            changes["note"] = [old_note, note]
            extra = {k: v for k, v in (entry.extra or {}).items() if k != "note"}
            entry.extra = {**extra, "note": note} if note else (extra or None)
        if changes:
            record(
                session,
                actor=actor,
                action="hashset.entry_updated",
                target_type="hash_set",
                target_id=str(row.id),
                details={"name": row.name, "entry_id": entry_id, "changes": changes},
            )
        return row, entry


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


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
    return 1
