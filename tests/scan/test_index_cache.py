"""Hash-set PDQ indexes are built once, saved beside the store, and opened from disk after."""

from __future__ import annotations

from pathlib import Path

import pytest
from scan_samples import add_hash_set, noise_image, pdq

from kaitiaki.match import Matcher, indexes
from kaitiaki.scan.hasher import hash_path
from kaitiaki.store import Store


def test_second_load_opens_the_saved_index(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    picture = tmp_path / "a.jpg"
    picture.write_bytes(noise_image(21))
    add_hash_set(sqlite_store, "own", [{"md5": "0" * 32, "pdq": pdq(picture.read_bytes())}])
    add_hash_set(sqlite_store, "digests-only", [{"md5": "1" * 32}])
    records = list(hash_path(picture))

    first = Matcher.load(sqlite_store).match(records)
    cache = indexes.index_cache_dir(sqlite_store.url)
    # Per set: its PDQ index (one index, one "empty" mark) and its robust index (no entry of
    # either set carries a robust signature: two "empty" marks).
    assert cache is not None and len(list(cache.glob("set-*"))) == 2
    assert [(p / "empty").exists() for p in cache.glob("robust-set-*")] == [True, True]

    def refuse(*_: object) -> None:
        raise AssertionError("the index was rebuilt from the store instead of loaded")

    monkeypatch.setattr(indexes, "_build", refuse)
    monkeypatch.setattr(indexes, "_build_robust", refuse)
    again = Matcher.load(sqlite_store).match(records)
    assert [(h.hash_set, h.signal, h.distance) for h in again[0]] == [
        (h.hash_set, h.signal, h.distance) for h in first[0]
    ]
    assert again[0] and again[0][0].signal == "pdq"


def test_a_damaged_cache_is_rebuilt(sqlite_store: Store, tmp_path: Path) -> None:
    picture = tmp_path / "a.jpg"
    picture.write_bytes(noise_image(22))
    add_hash_set(sqlite_store, "own", [{"md5": "0" * 32, "pdq": pdq(picture.read_bytes())}])
    Matcher.load(sqlite_store)
    cache = indexes.index_cache_dir(sqlite_store.url)
    assert cache is not None
    (saved,) = cache.glob("set-*")
    (saved / "index.json").write_text("not json")
    hits = Matcher.load(sqlite_store).match(list(hash_path(picture)))
    assert hits[0] and hits[0][0].distance == 0


def test_cache_places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert indexes.index_cache_dir("sqlite:////tmp/k.db") == Path("/tmp/k.db.pdq-index")
    assert indexes.index_cache_dir("sqlite://") is None
    monkeypatch.delenv("KAITIAKI_INDEX_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    server = indexes.index_cache_dir("postgresql+psycopg://u@h/db")
    assert server is not None and server.parent == tmp_path / "kaitiaki" / "pdq-index"
    monkeypatch.setenv("KAITIAKI_INDEX_CACHE", str(tmp_path / "chosen"))
    chosen = indexes.index_cache_dir("postgresql+psycopg://u@h/db")
    assert chosen is not None and chosen.parent == tmp_path / "chosen"
