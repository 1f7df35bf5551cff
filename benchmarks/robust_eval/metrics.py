"""Thresholds at a false-match rate, and recall per transformation at them.

Scores are distances (lower = more alike); the robust signal's inlier counts are negated into
this form. ``genuine[q]`` is query q's distance to its own original; ``impostor`` is the (Q, R)
matrix with each query's own original masked out: every non-matching pair, no sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Operating:
    """A match is ``distance < cut``. ``false`` of ``pairs`` non-matching pairs pass it."""

    cut: float
    false: int
    pairs: int

    @property
    def fmr(self) -> float:
        return self.false / self.pairs if self.pairs else math.nan


def impostor_mask(original: NDArray[np.intp], group: NDArray[np.intp]) -> NDArray[np.bool_]:
    """(Q, R): the pairs that count as non-matching. A reference in the same group as the
    query's original (another part of the same wallpaper, with --tiles) is neither genuine nor
    non-matching: wallpapers with repeating patterns show the same motif in every part."""
    mask: NDArray[np.bool_] = group[original][:, None] != group[None, :]
    return mask


def split(
    dist: NDArray[np.float32], original: NDArray[np.intp], mask: NDArray[np.bool_]
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """(genuine distances (Q,), every non-matching distance under ``mask``, flattened)."""
    return dist[np.arange(len(dist)), original], dist[mask]


def worst(
    dist: NDArray[np.float32], mask: NDArray[np.bool_], count: int
) -> list[tuple[int, int, float]]:
    """The ``count`` closest non-matching pairs as (query, reference, distance)."""
    masked = np.where(mask, dist, np.inf)
    flat = np.argpartition(masked, min(count, masked.size - 1), axis=None)[:count]
    found = [(int(f // dist.shape[1]), int(f % dist.shape[1])) for f in flat]
    return sorted(((q, r, float(dist[q, r])) for q, r in found), key=lambda x: x[2])


def at_fmr(impostor: NDArray[np.float32], target: float) -> Operating:
    """The loosest cut with at most ``floor(target x pairs)`` non-matching pairs under it.

    Ties matter for Hamming distances: the cut sits at the (k+1)-th smallest impostor value,
    and a match must be strictly below it, so every pair tied with it is excluded too."""
    pairs = impostor.size
    allowed = math.floor(target * pairs)
    cut = float(np.partition(impostor, allowed)[allowed]) if allowed < pairs else math.inf
    false = int(np.count_nonzero(impostor < cut))
    return Operating(cut, false, pairs)


def at_cut(impostor: NDArray[np.float32], cut: float) -> Operating:
    return Operating(cut, int(np.count_nonzero(impostor < cut)), impostor.size)


def recall(genuine: NDArray[np.float32], cut: float) -> float:
    return float(np.count_nonzero(genuine < cut)) / genuine.size if genuine.size else math.nan


def fmt_fmr(op: Operating) -> str:
    if op.false == 0:
        return f"0 of {op.pairs:,} (< {1 / op.pairs:.1e})"
    return f"{op.false:,} of {op.pairs:,} ({op.fmr:.1e})"
