"""Data makers for the index tests: small, seeded, and shaped to stress the tables."""

from __future__ import annotations

import numpy as np

from kaitiaki.index import RangeResult


def flip(rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Copies of ``rows`` each at distance exactly ``counts[i]`` from its original."""
    out = rows.copy()
    for i, k in enumerate(counts):
        bits = rng.choice(256, int(k), replace=False)
        # ``xor.at``, not ``^=``: two bits in one byte would otherwise keep only one flip.
        np.bitwise_xor.at(out[i], bits >> 3, (1 << (bits & 7)).astype(np.uint8))
    return out


def random_hashes(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def clustered(n: int, rng: np.random.Generator, spread: int = 40) -> np.ndarray:
    centres = random_hashes(max(1, n // 50), rng)
    members = centres[rng.integers(0, centres.shape[0], n)]
    return flip(members, rng.integers(0, spread + 1, n), rng)


def low_entropy(n: int, rng: np.random.Generator) -> np.ndarray:
    """All-zero copies, hashes with a few bits set, and a few with a few bits clear."""
    zeros = np.zeros((n, 32), dtype=np.uint8)
    out = flip(zeros, rng.integers(0, 12, n) * (np.arange(n) >= n // 4), rng)
    out[-(n // 8) :] ^= 0xFF
    return out


def family(n: int, rng: np.random.Generator, within: int = 4) -> np.ndarray:
    """Thousands of hashes within a few bits of one another: one bucket of every table."""
    centre = random_hashes(1, rng)
    return flip(np.repeat(centre, n, axis=0), rng.integers(0, within + 1, n), rng)


def queries_near(
    stored: np.ndarray, q: int, rng: np.random.Generator, most: int = 40
) -> np.ndarray:
    """Half near stored hashes (0..``most`` bits away), half random."""
    near = flip(
        stored[rng.integers(0, stored.shape[0], q - q // 2)],
        rng.integers(0, most + 1, q - q // 2),
        rng,
    )
    return np.concatenate([near, random_hashes(q // 2, rng)])


def assert_same(got: RangeResult, want: RangeResult) -> None:
    assert got.query.dtype == np.int64 and got.ids.dtype == np.int64
    assert got.distance.dtype == np.int32
    np.testing.assert_array_equal(got.query, want.query)
    np.testing.assert_array_equal(got.ids, want.ids)
    np.testing.assert_array_equal(got.distance, want.distance)
