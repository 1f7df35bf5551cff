"""``hashset add``: a set that exists grows by a file's new entries, atomically, audited."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from kaitiaki.hashsets import import_hash_set
from kaitiaki.hashsets.append import append_to_hash_set
from kaitiaki.hashsets.entry import HashSetError, HashSetFormatError
from kaitiaki.match.lookup import lookup_signal
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, HashSet

PDQS = [f"{i:02x}" * 32 for i in range(1, 7)]


def _set(store: Store, tmp_path: Path) -> None:
    first = tmp_path / "first.txt"
    first.write_text("\n".join(PDQS[:3]) + "\n")
    import_hash_set(store, first, "bank", "list", hex64="pdq", actor="test:setup")


def test_new_entries_are_added_once_and_served(store: Store, tmp_path: Path) -> None:
    _set(store, tmp_path)
    with store.session() as session:
        before = session.scalars(select(HashSet)).one().version
    more = tmp_path / "more.txt"
    more.write_text("\n".join(PDQS[2:]) + "\n")
    done = append_to_hash_set(store, "bank", more, hex64="pdq", actor="test:alice")
    assert (done.read, done.added, done.already_held) == (4, 3, 1)
    again = append_to_hash_set(store, "bank", more, hex64="pdq", actor="test:alice")
    assert again.added == 0 and again.source_sha256 == done.source_sha256
    with store.session() as session:
        row = session.scalars(select(HashSet)).one()
        assert row.entry_count == 6 and row.version == before + 1
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "hashset.entries_added")
        ).first()
        assert event is not None and event.actor == "test:alice"
        assert event.details["source_sha256"] == done.source_sha256
    assert [h.distance for h in lookup_signal(store, "pdq", PDQS[5])] == [0]


def test_a_bad_file_adds_nothing(store: Store, tmp_path: Path) -> None:
    _set(store, tmp_path)
    bad = tmp_path / "bad.txt"
    bad.write_text(PDQS[4] + "\nnot-a-hash\n")
    with pytest.raises(HashSetFormatError, match=r"bad\.txt"):
        append_to_hash_set(store, "bank", bad, hex64="pdq", actor="test:alice")
    with store.session() as session:
        assert session.scalars(select(HashSet)).one().entry_count == 3
    assert lookup_signal(store, "pdq", PDQS[4]) == []
    with pytest.raises(HashSetError, match="no hash set named"):
        append_to_hash_set(store, "ghost", bad, actor="test:alice")
