"""vPDQ video matching: the share of unique frames matched, in both directions.

As in the vPDQ reference, frames below the quality floor are dropped, duplicates collapse to
unique hashes, and two videos match when the share of the query's unique frames that find a
frame of the other within the distance passes one threshold and the other video's share passes
the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from kaitiaki.signals import VPDQ

FRAME_DISTANCE = VPDQ.threshold
QUALITY_FLOOR = VPDQ.quality_floor or 0
QUERY_SHARE = VPDQ.query_share
ENTRY_SHARE = VPDQ.entry_share


@dataclass(frozen=True, slots=True)
class VideoMatch:
    query_share: float
    entry_share: float
    # Mean distance of each matched query frame to its nearest frame of the other video.
    distance: int


def unique_frames(
    frames: Sequence[Sequence[Any]], floor: int = QUALITY_FLOOR
) -> NDArray[np.uint64]:
    """Frames given as [frame, quality, hex, seconds] -> unique usable hashes as (n, 4) words."""
    hexes = sorted({str(f[2]) for f in frames if int(f[1]) >= floor})
    if not hexes:
        return np.zeros((0, 4), dtype=np.uint64)
    raw = np.frombuffer(bytes.fromhex("".join(hexes)), dtype=">u8").reshape(-1, 4)
    return raw.astype(np.uint64)


def distances(a: NDArray[np.uint64], b: NDArray[np.uint64]) -> NDArray[np.int64]:
    """All pairwise Hamming distances between two sets of 256-bit hashes."""
    xor = a[:, None, :] ^ b[None, :, :]
    counts: NDArray[np.int64] = np.bitwise_count(xor).sum(axis=2, dtype=np.int64)
    return counts


def match_videos(
    query: NDArray[np.uint64],
    entry: NDArray[np.uint64],
    *,
    frame_distance: int = FRAME_DISTANCE,
    query_share: float = QUERY_SHARE,
    entry_share: float = ENTRY_SHARE,
) -> VideoMatch | None:
    if len(query) == 0 or len(entry) == 0:
        return None
    d = distances(query, entry)
    close = d <= frame_distance
    q_share = float(close.any(axis=1).mean())
    e_share = float(close.any(axis=0).mean())
    if q_share < query_share or e_share < entry_share or q_share == 0.0:
        return None
    best = d.min(axis=1)
    return VideoMatch(q_share, e_share, round(float(best[best <= frame_distance].mean())))
