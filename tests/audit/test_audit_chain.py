"""The chain: it builds and verifies on both engines, and each kind of tampering is named."""

from __future__ import annotations

import threading
from itertools import pairwise
from pathlib import Path

from audit_samples import entries, fill, raw

from kaitiaki.audit import GENESIS, entry_hash, read_anchor, take_anchor, verify_log, write_anchor
from kaitiaki.store import Store


def test_chain_builds_and_verifies(store: Store) -> None:
    fill(store, 5)
    rows = entries(store)
    assert [r.id for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))
    # Read back (naive datetimes on SQLite), the stored columns still give the stored hash.
    first = rows[0]
    assert first.hash == entry_hash(
        first.prev_hash,
        first.at,
        first.actor,
        first.action,
        first.target_type,
        first.target_id,
        first.reason,
        first.details,
    )
    result = verify_log(store)
    assert result.ok and result.entries == 5 and result.problems == []
    assert result.head_id == 5 and result.head_hash == rows[-1].hash


def test_empty_log_verifies(store: Store) -> None:
    result = verify_log(store)
    assert result.ok and result.entries == 0


def test_edited_reason_names_the_entry(store: Store) -> None:
    fill(store, 5)
    raw(store, "UPDATE audit_events SET reason = 'nothing happened' WHERE id = 3")
    result = verify_log(store)
    assert not result.ok
    assert result.problems == ["entry 3: contents changed"]


def test_edit_with_a_recomputed_hash_breaks_the_next_link(store: Store) -> None:
    fill(store, 5)
    row = entries(store)[2]
    forged = entry_hash(
        row.prev_hash,
        row.at,
        row.actor,
        row.action,
        row.target_type,
        row.target_id,
        "x",
        row.details,
    )
    raw(store, "UPDATE audit_events SET reason = 'x', hash = :h WHERE id = 3", h=forged)
    assert verify_log(store).problems == [
        "entry 4: previous entry missing or changed (chain broken after entry 3)"
    ]


def test_deleted_middle_entry_breaks_the_chain(store: Store) -> None:
    fill(store, 5)
    raw(store, "DELETE FROM audit_events WHERE id = 3")
    result = verify_log(store)
    assert not result.ok and result.entries == 4
    assert result.problems == [
        "entry 4: previous entry missing or changed (chain broken after entry 2; entry 3 missing)"
    ]


def test_deleted_first_entry_is_caught(store: Store) -> None:
    fill(store, 3)
    raw(store, "DELETE FROM audit_events WHERE id = 1")
    assert verify_log(store).problems == [
        "entry 2: previous entry missing or changed (chain broken at the start)"
    ]


def test_deleted_last_entry_is_caught_only_with_the_anchor(store: Store, tmp_path: Path) -> None:
    fill(store, 5)
    path = tmp_path / "anchor.json"
    write_anchor(take_anchor(store), path)
    anchor = read_anchor(path)
    assert anchor.id == 5
    assert verify_log(store, anchor).ok
    raw(store, "DELETE FROM audit_events WHERE id = 5")
    # The shortened chain is still a valid chain: honestly undetectable without the anchor.
    assert verify_log(store).ok
    result = verify_log(store, anchor)
    assert not result.ok
    assert result.problems == [
        "anchor: entry 5 is gone (the log was truncated or emptied after the anchor was taken)"
    ]


def test_truncate_and_append_is_caught_by_the_anchor(store: Store) -> None:
    fill(store, 3)
    anchor = take_anchor(store)
    raw(store, "DELETE FROM audit_events WHERE id = 3")
    fill(store, 1, target="other")  # May reuse id 3 (SQLite) with a different hash.
    assert verify_log(store).ok
    result = verify_log(store, anchor)
    assert not result.ok and result.problems[0].startswith("anchor: entry 3")


def test_an_id_gap_with_an_intact_chain_is_a_note(store: Store) -> None:
    # What a rolled-back transaction leaves on PostgreSQL: the sequence moved on, no entry.
    fill(store, 2)
    raw(store, "UPDATE audit_events SET id = 5 WHERE id = 2")
    result = verify_log(store)
    assert result.ok
    assert result.notes == ["entries 2-4 never committed (id gap with an intact chain)"]


def test_concurrent_writers_keep_one_chain(store: Store) -> None:
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            fill(store, 50, actor=name, target=name)
        except BaseException as exc:  # Surfaced in the main thread below.
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("t1", "t2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = verify_log(store)
    assert result.ok, result.problems
    assert result.entries == 100
    assert {r.actor for r in entries(store)} == {"t1", "t2"}
