"""Add, remove, disable, save and load keep the answers equal to brute force over what is live."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from index_samples import assert_same, clustered, family, queries_near, random_hashes

from kaitiaki.index import PdqBank, PdqIndex, RangeResult, brute_force


class Model:
    """What the index should hold: every (hash, id) added, minus removed, minus disabled."""

    def __init__(self) -> None:
        self.hashes = np.empty((0, 32), dtype=np.uint8)
        self.ids = np.empty(0, dtype=np.int64)
        self.removed: set[int] = set()
        self.disabled: set[int] = set()

    def add(self, hashes: np.ndarray, ids: np.ndarray) -> None:
        self.hashes = np.concatenate([self.hashes, hashes])
        self.ids = np.concatenate([self.ids, ids])

    def answer(self, queries: np.ndarray, threshold: int) -> RangeResult:
        gone = self.removed | self.disabled
        live = np.array([i not in gone for i in self.ids.tolist()], dtype=bool)
        return brute_force(self.hashes[live], queries, threshold, self.ids[live])


def test_empty_index() -> None:
    index = PdqIndex()
    assert len(index) == 0
    got = index.query(random_hashes(3, np.random.default_rng(0)))
    assert len(got) == 0 and got.ids.dtype == np.int64
    assert len(PdqIndex.build(np.empty((0, 32), np.uint8), np.empty(0, np.int64))) == 0


def test_no_queries_and_no_hits() -> None:
    rng = np.random.default_rng(1)
    index = PdqIndex.build(random_hashes(1000, rng), np.arange(1000))
    assert len(index.query(np.empty((0, 32), np.uint8))) == 0
    # Random 256-bit hashes are ~128 bits apart: nothing within 10.
    assert len(index.query(random_hashes(50, rng), 10)) == 0


def test_bad_input_is_refused() -> None:
    rng = np.random.default_rng(2)
    index = PdqIndex.build(random_hashes(10, rng), np.arange(10))
    with pytest.raises(ValueError):
        index.query(np.zeros((2, 31), np.uint8))
    with pytest.raises(ValueError):
        index.query(np.zeros((2, 32), np.int64))
    with pytest.raises(ValueError):
        index.query(np.zeros((2, 32), np.uint8), threshold=257)
    with pytest.raises(ValueError):
        index.add(random_hashes(3, rng), np.arange(2))


def test_incremental_add_remove_disable_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    index, model = PdqIndex(), Model()
    next_id = 0
    base = np.concatenate([random_hashes(3000, rng), clustered(1500, rng), family(800, rng)])
    for step in range(12):
        n = int(rng.integers(1, 2000)) if step else 3000
        batch = base[rng.integers(0, base.shape[0], n)]
        batch = np.concatenate([batch[: n // 2], random_hashes(n - n // 2, rng)])
        ids = np.arange(next_id, next_id + n, dtype=np.int64)
        next_id += n
        index.add(batch, ids)
        model.add(batch, ids)
        gone = rng.choice(model.ids, 150, replace=False)
        index.remove(gone)
        model.removed |= set(gone.tolist())
        off = rng.choice(model.ids, 100, replace=False)
        index.disable(off)
        model.disabled |= set(off.tolist())
        back = rng.choice(np.array(sorted(model.disabled)), 40, replace=False)
        index.enable(back)
        model.disabled -= set(back.tolist())
        assert len(index) == len(set(model.ids.tolist()) - model.removed)
        assert index.segments <= 2 + int(np.log2(len(index) + 1))
        queries = queries_near(model.hashes, 40, rng)
        for threshold in (0, 31, 50):
            assert_same(index.query(queries, threshold), model.answer(queries, threshold))
            got = index.query(queries, threshold, method="tables")
            assert_same(got, model.answer(queries, threshold))


def test_remove_everything_and_removing_unknown_ids() -> None:
    rng = np.random.default_rng(4)
    hashes = random_hashes(500, rng)
    index = PdqIndex.build(hashes, np.arange(500))
    index.remove(np.array([10_000, -1]))
    assert len(index) == 500
    index.remove(np.arange(500))
    assert len(index) == 0
    assert len(index.query(hashes[:5], 0)) == 0


def test_duplicate_hashes_and_ids() -> None:
    zero = np.zeros((2000, 32), dtype=np.uint8)
    ids = np.arange(2000) % 700  # the same id on several rows
    index = PdqIndex.build(zero, ids)
    got = index.query(zero[:1], 0)
    assert len(got) == 2000 and sorted(got.ids.tolist()) == sorted(ids.tolist())
    index.disable([5])
    assert 5 not in index.query(zero[:1], 0).ids.tolist()
    index.remove([6])
    assert len(index) == 2000 - 3


@pytest.mark.parametrize("mmap", [True, False])
def test_save_load_roundtrip(tmp_path: Path, mmap: bool) -> None:
    rng = np.random.default_rng(5)
    hashes = np.concatenate([random_hashes(4000, rng), clustered(2000, rng)])
    ids = rng.permutation(100_000)[: hashes.shape[0]].astype(np.int64)
    index = PdqIndex.build(hashes[:5000], ids[:5000])
    index.add(hashes[5000:], ids[5000:])
    index.disable(ids[:100])
    index.remove(ids[100:200])
    queries = queries_near(hashes, 60, rng)
    want = index.query(queries)
    index.save(tmp_path / "idx")
    loaded = PdqIndex.load(tmp_path / "idx", mmap=mmap)
    assert len(loaded) == len(index) and loaded.segments == index.segments
    assert_same(loaded.query(queries), want)
    assert_same(loaded.query(queries, method="tables"), want)
    # A loaded (mapped) index still takes updates, and saving over the old copy is safe.
    loaded.enable(ids[:100])
    loaded.add(random_hashes(10, rng), np.arange(200_000, 200_010))
    loaded.save(tmp_path / "idx")
    again = PdqIndex.load(tmp_path / "idx")
    live = np.isin(ids, ids[100:200], invert=True)
    assert_same(again.query(queries, 20), brute_force(hashes[live], queries, 20, ids[live]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_load_refuses_other_folders(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text('{"format": "something else"}')
    with pytest.raises(ValueError):
        PdqIndex.load(tmp_path)


def test_bank_respects_each_set_threshold_and_enabled_flag(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    a, b = random_hashes(2000, rng), clustered(2000, rng)
    queries = queries_near(np.concatenate([a, b]), 80, rng)
    bank = PdqBank()
    bank.put("a", PdqIndex.build(a, np.arange(2000)), threshold=10)
    bank.put("b", PdqIndex.build(b, np.arange(2000)), threshold=31)
    got = bank.query(queries)
    assert_same(got["a"], brute_force(a, queries, 10))
    assert_same(got["b"], brute_force(b, queries, 31))
    bank.set_enabled("a", False)
    bank.set_threshold("b", 40)
    assert list(bank.query(queries)) == ["b"]
    bank.save(tmp_path / "bank")
    loaded = PdqBank.load(tmp_path / "bank")
    assert loaded["b"].threshold == 40 and not loaded["a"].enabled
    assert_same(loaded.query(queries)["b"], brute_force(b, queries, 40))
    with pytest.raises(ValueError):
        bank.set_threshold("a", -1)
