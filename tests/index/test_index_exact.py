"""The index returns exactly what a brute-force scan returns: recall 1.0 and no extra pairs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from index_samples import (
    assert_same,
    clustered,
    family,
    flip,
    low_entropy,
    queries_near,
    random_hashes,
)

from kaitiaki.index import PdqIndex, brute_force, bytes_to_hex, hex_to_bytes
from kaitiaki.index import _segment as segment

TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "pdq"
SHAPES = ("random", "clustered", "low-entropy", "family", "mixed")


def make(shape: str, n: int, rng: np.random.Generator) -> np.ndarray:
    if shape == "random":
        return random_hashes(n, rng)
    if shape == "clustered":
        return clustered(n, rng)
    if shape == "low-entropy":
        return low_entropy(n, rng)
    if shape == "family":
        return family(n, rng)
    parts = [random_hashes(n // 2, rng), clustered(n // 4, rng), low_entropy(n // 8, rng)]
    parts.append(family(n - sum(len(p) for p in parts), rng))
    return np.concatenate(parts)[rng.permutation(n)]


def oracle(hashes: np.ndarray, queries: np.ndarray, threshold: int) -> set[tuple[int, int, int]]:
    """Independent of the compiled kernels: numpy's own popcount over every pair."""
    h = hashes.view(np.uint64).reshape(-1, 4)
    q = queries.view(np.uint64).reshape(-1, 4)
    d = np.bitwise_count(q[:, None, :] ^ h[None, :, :]).sum(axis=2)
    qi, hi = np.nonzero(d <= threshold)
    return set(zip(qi.tolist(), hi.tolist(), d[qi, hi].tolist(), strict=True))


@pytest.mark.parametrize("shape", SHAPES)
def test_brute_force_matches_numpy_oracle(shape: str) -> None:
    rng = np.random.default_rng(7)
    hashes = make(shape, 700, rng)
    queries = queries_near(hashes, 60, rng)
    for threshold in (0, 12, 31, 63, 256):
        got = brute_force(hashes, queries, threshold)
        pairs = set(zip(got.query.tolist(), got.ids.tolist(), got.distance.tolist(), strict=True))
        assert pairs == oracle(hashes, queries, threshold)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    shape=st.sampled_from(SHAPES),
    n=st.integers(1, 6000),
    threshold=st.integers(0, 63),
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(("auto", "tables")),
)
def test_index_equals_brute_force(
    shape: str, n: int, threshold: int, seed: int, method: str
) -> None:
    rng = np.random.default_rng(seed)
    hashes = make(shape, n, rng)
    ids = rng.permutation(10 * n)[:n].astype(np.int64)
    queries = queries_near(hashes, 40, rng, most=threshold + 2)
    index = PdqIndex.build(hashes, ids)
    got = index.query(queries, threshold, method=method)  # type: ignore[arg-type]
    assert_same(got, brute_force(hashes, queries, threshold, ids))


@pytest.mark.parametrize("shape", SHAPES)
def test_every_threshold_through_the_tables(shape: str) -> None:
    rng = np.random.default_rng(11)
    hashes = make(shape, 4000, rng)
    queries = queries_near(hashes, 30, rng, most=70)
    index = PdqIndex.build(hashes, np.arange(4000))
    for threshold in range(64):
        want = brute_force(hashes, queries, threshold)
        assert_same(index.query(queries, threshold, method="tables"), want)
        assert_same(index.query(queries, threshold, method="scan"), want)


def test_distance_exactly_t_is_in_and_t_plus_one_is_out() -> None:
    rng = np.random.default_rng(3)
    base = random_hashes(64, rng)
    at_t = flip(base, np.arange(64), rng)  # at_t[i] is exactly i bits from base[i]
    beyond = flip(base, np.minimum(np.arange(64) + 1, 256), rng)
    stored = np.concatenate([at_t, beyond, random_hashes(3000, rng)])
    ids = np.arange(stored.shape[0])
    index = PdqIndex.build(stored, ids)
    for t in range(64):
        got = index.query(base[t : t + 1], t, method="tables")
        assert t in got.ids.tolist(), f"distance exactly {t} missed at threshold {t}"
        assert 64 + t not in got.ids.tolist(), f"distance {t + 1} returned at threshold {t}"
        assert_same(got, brute_force(stored, base[t : t + 1], t, ids))


def test_large_index_with_adversarial_buckets() -> None:
    """A few hundred thousand hashes, so the planner really picks the tables at radius 31,
    with all-zero copies and a family of thousands that share buckets in every table."""
    rng = np.random.default_rng(5)
    hashes = np.concatenate(
        [
            random_hashes(150_000, rng),
            clustered(30_000, rng),
            low_entropy(8000, rng),
            family(5000, rng),
        ]
    )
    queries = np.concatenate([queries_near(hashes, 300, rng, most=34), low_entropy(20, rng)])
    index = PdqIndex.build(hashes, np.arange(hashes.shape[0]))
    want = brute_force(hashes, queries, 31)
    assert_same(index.query(queries), want)
    assert_same(index.query(queries, method="tables"), want)


def test_queries_left_by_the_tables_are_rescanned(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(9)
    hashes = make("mixed", 5000, rng)
    queries = queries_near(hashes, 50, rng)
    index = PdqIndex.build(hashes, np.arange(5000))
    monkeypatch.setattr(segment, "ABORT_AFTER_SCANS", 0.0)
    assert_same(index.query(queries, method="tables"), brute_force(hashes, queries, 31))


def test_reference_needles_in_haystack() -> None:
    haystack = hex_to_bytes((TESTDATA / "haystack.txt").read_text().split())
    needles = hex_to_bytes((TESTDATA / "needles.txt").read_text().split())
    assert haystack.shape == (1350, 32) and needles.shape == (100, 32)
    index = PdqIndex.build(haystack, np.arange(haystack.shape[0]))
    for threshold in (0, 31, 63):
        want = brute_force(haystack, needles, threshold)
        for method in ("auto", "tables", "scan"):
            assert_same(index.query(needles, threshold, method=method), want)  # type: ignore[arg-type]
    assert len(brute_force(haystack, needles, 31)) > 0


def test_hex_roundtrip_and_errors() -> None:
    hexes = ["00" * 32, "ff" * 32, "0123456789abcdef" * 4]
    assert bytes_to_hex(hex_to_bytes(hexes)) == hexes
    assert hex_to_bytes(["ff" * 32])[0, 0] == 255
    with pytest.raises(ValueError):
        hex_to_bytes(["abc"])
    with pytest.raises(ValueError):
        hex_to_bytes(["zz" * 32])
