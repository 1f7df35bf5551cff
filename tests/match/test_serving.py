"""Served indexes: current after every kind of change, shared between processes, swapped whole
while lookups go on, and always the same answers as a brute-force scan of the store."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from kaitiaki.hashsets.curate import add_entry, create_bank, remove_entry
from kaitiaki.hashsets.derived import add_entries
from kaitiaki.hashsets.entry import Entry
from kaitiaki.hashsets.store import find_hash_set
from kaitiaki.index.pdq import brute_force, bytes_to_hex, hex_to_bytes
from kaitiaki.match import serving
from kaitiaki.match.index_files import newest_base
from kaitiaki.match.lookup import lookup_signal
from kaitiaki.match.serving import IndexServer
from kaitiaki.store import Store
from kaitiaki.store.models import HashSetEntry

ACTOR = "tester"


def _random(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return bytes_to_hex(rng.integers(0, 256, (n, 32), dtype=np.uint8))


def _near(hex_: str, bits: int) -> str:
    raw = bytearray(bytes.fromhex(hex_))
    for b in range(bits):
        raw[(b * 7) % 32] ^= 1 << (b % 8)
    return raw.hex()


def _bank(store: Store, name: str, hexes: list[str]) -> int:
    create_bank(store, name, enabled=True, actor=ACTOR)
    with store.session() as session:
        row = find_hash_set(session, name)
        assert row is not None
        add_entries(session, row, [Entry(pdq=h) for h in hexes])
        return row.id


def _stored(store: Store, set_id: int) -> tuple[list[int], list[str]]:
    with store.session() as session:
        rows = session.execute(
            select(HashSetEntry.id, HashSetEntry.pdq).where(HashSetEntry.hash_set_id == set_id)
        ).all()
    return [r[0] for r in rows], [str(r[1]) for r in rows]


def _brute(store: Store, set_id: int, query: str, threshold: int = 31) -> dict[int, int]:
    ids, hexes = _stored(store, set_id)
    if not ids:
        return {}
    result = brute_force(
        hex_to_bytes(hexes), hex_to_bytes([query]), threshold, np.asarray(ids, np.int64)
    )
    return dict(zip(result.ids.tolist(), result.distance.tolist(), strict=True))


def _wait(check: object, what: str, timeout: float = 30.0) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.02)


def test_the_background_poll_serves_each_change(sqlite_store: Store) -> None:
    # The engine-specific parts (versions, reading rows) are covered on both stores by the
    # tests below; this one pays for a child-process build, so it runs once.
    store = sqlite_store
    hexes = _random(500, 1)
    set_id = _bank(store, "SERVED", hexes)
    server = IndexServer(store, poll_s=0.05)
    try:
        probe = _near(hexes[3], 9)
        assert server.query(hex_to_bytes([probe]), [set_id]) == _brute(store, set_id, probe)
        before = server.status()[0]
        assert before["bank"] == "SERVED" and before["size"] == 500 and before["current"]

        # Added through the curation API: answered from the delta after a poll.
        fresh = _random(1, 2)[0]
        new_id = add_entry(store, "SERVED", {"pdq": fresh}, actor=ACTOR)
        _wait(lambda: new_id in server.query(hex_to_bytes([fresh]), [set_id]), "an addition")
        after = server.status()[0]
        assert after["version"] > before["version"] and after["delta_size"] == 1

        # Removed: the store row is gone, so the next view is rebuilt without it.
        remove_entry(store, "SERVED", new_id, actor=ACTOR)
        _wait(lambda: new_id not in server.query(hex_to_bytes([fresh]), [set_id]), "a removal")
        assert server.query(hex_to_bytes([probe]), [set_id]) == _brute(store, set_id, probe)
    finally:
        server.close()


def test_a_big_delta_becomes_a_new_shared_base(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "REBUILD_MIN", 100)
    hexes = _random(1000, 3)
    set_id = _bank(store, "GROWS", hexes)
    first = IndexServer(store, poll_s=0)
    view = first.view()
    base_path = view.indexes[set_id].base.path
    assert base_path is not None and base_path.exists()

    # A second process (another server) maps the same file rather than building its own.
    second = IndexServer(store, poll_s=0)
    assert second.view().indexes[set_id].base.path == base_path

    more = _random(150, 4)
    with store.session() as session:
        row = find_hash_set(session, "GROWS")
        assert row is not None
        add_entries(session, row, [Entry(pdq=h) for h in more])
    grown = first.view().indexes[set_id]
    assert grown.base.path != base_path and grown.base.size == 1150 and grown.delta is None
    assert first.cache is not None
    assert newest_base(first.cache, set_id, grown.removals) == grown.base.path
    assert not base_path.exists()  # superseded bases are deleted; mappers keep their pages
    for query in (more[7], _near(more[99], 12), hexes[500], _random(1, 5)[0]):
        expected = _brute(store, set_id, query)
        assert first.query(hex_to_bytes([query]), [set_id]) == expected
        assert second.query(hex_to_bytes([query]), [set_id]) == expected  # old base, delta


def test_an_entry_id_reused_after_a_removal_is_not_missed(sqlite_store: Store) -> None:
    # SQLite gives a new row the highest id + 1: removing the newest entry and adding another
    # reuses its id, which a server reading "ids above what I hold" would never see.
    hexes = _random(50, 6)
    set_id = _bank(sqlite_store, "REUSE", hexes)
    server = IndexServer(sqlite_store, poll_s=0)
    server.view()
    ids, _ = _stored(sqlite_store, set_id)
    remove_entry(sqlite_store, "REUSE", max(ids), actor=ACTOR)
    other = _random(1, 7)[0]
    reused = add_entry(sqlite_store, "REUSE", {"pdq": other}, actor=ACTOR)
    assert reused == max(ids)
    assert server.query(hex_to_bytes([other]), [set_id]) == {reused: 0}
    assert server.query(hex_to_bytes([hexes[-1]]), [set_id]) == _brute(
        sqlite_store, set_id, hexes[-1]
    )


def test_lookups_go_on_while_the_index_is_swapped(sqlite_store: Store) -> None:
    hexes = _random(2000, 8)
    set_id = _bank(sqlite_store, "BUSY", hexes)
    server = IndexServer(sqlite_store, poll_s=0.02)
    probe = hexes[10]
    errors: list[BaseException] = []
    answers: list[int] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                answers.append(len(server.query(hex_to_bytes([probe]), [set_id])))
            except BaseException as exc:
                errors.append(exc)
                return

    workers = [threading.Thread(target=ask) for _ in range(3)]
    try:
        server.view()
        for w in workers:
            w.start()
        added = _random(600, 9)
        with sqlite_store.session() as session:
            row = find_hash_set(session, "BUSY")
            assert row is not None
            add_entries(session, row, [Entry(pdq=h) for h in [*added, _near(probe, 5)]])
        _wait(lambda: len(server.query(hex_to_bytes([probe]), [set_id])) == 2, "the swap")
    finally:
        stop.set()
        for w in workers:
            w.join()
        server.close()
    assert not errors
    # Every answer came from the old view (1 match) or the new (2): never from a half-built one.
    assert set(answers) <= {1, 2} and 1 in answers


def test_lookup_signal_answers_through_the_registered_server(store: Store) -> None:
    hexes = _random(100, 10)
    _bank(store, "REGISTERED", hexes)
    server = serving.serve_store(store, poll_s=0)
    try:
        assert serving.server_for(store) is server
        hits = lookup_signal(store, "pdq", _near(hexes[1], 4))
        assert [(h.bank, h.distance) for h in hits] == [("REGISTERED", 4)]
    finally:
        serving.release_store(store)
    assert serving.server_for(store) is not server


def test_an_empty_bank_and_a_missing_cache_folder(tmp_path: Path) -> None:
    from kaitiaki.store import open_store

    store = open_store("sqlite://")  # in memory: no cache folder, indexes live in memory only
    try:
        create_bank(store, "EMPTY", enabled=True, actor=ACTOR)
        server = IndexServer(store, poll_s=0)
        view = server.view()
        (set_id,) = view.banks
        assert view.indexes[set_id].base.path is None
        assert server.query(hex_to_bytes(_random(1, 11)), [set_id]) == {}
    finally:
        store.close()


def test_a_polling_server_builds_its_new_base_in_a_child_process(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(serving, "REBUILD_MIN", 10)
    hexes = _random(100, 12)
    set_id = _bank(sqlite_store, "APART", hexes)
    built_apart: list[int] = []
    real = serving.build_base_apart

    def spy(*args: object, **kwargs: object) -> object:
        built_apart.append(int(str(args[2])))
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(serving, "build_base_apart", spy)
    server = IndexServer(sqlite_store, poll_s=0.05)
    try:
        server.view()
        more = _random(30, 13)
        with sqlite_store.session() as session:
            row = find_hash_set(session, "APART")
            assert row is not None
            add_entries(session, row, [Entry(pdq=h) for h in more])
        _wait(lambda: server.status()[0]["base_size"] == 130, "the new base", timeout=120)
        assert server.status()[0]["delta_size"] == 0 and set_id in built_apart
        assert server.query(hex_to_bytes([more[3]]), [set_id]) == _brute(
            sqlite_store, set_id, more[3]
        )
    finally:
        server.close()
