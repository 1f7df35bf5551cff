"""vPDQ: one PDQ hash per sampled video frame, as Meta's vPDQ reference defines it.

Frames are decoded with PyAV (FFmpeg) and hashed with the reference PDQ on the full frame, as
the vPDQ reference does. A frame is kept when ``frame_number % round(fps * seconds)`` is zero
and stamped ``frame_number / fps``, so timestamps line up with the reference output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from kaitiaki.content.kinds import ContentKind
from kaitiaki.signals.base import Content, HexSignal, SignalError
from kaitiaki.signals.pdq import hamming, hash_pixels

DEFAULT_SECONDS_PER_HASH = 1.0
# Frames past this one are not decoded: an hour at 30 fps is plenty to match a video by.
MAX_FRAMES = 108_000


@dataclass(frozen=True, slots=True)
class VpdqFrame:
    frame: int
    quality: int
    hex: str
    seconds: float

    def as_list(self) -> list[Any]:
        return [self.frame, self.quality, self.hex, self.seconds]


def hash_video(stream: Any, seconds_per_hash: float = DEFAULT_SECONDS_PER_HASH) -> list[VpdqFrame]:
    """vPDQ frames of a video given as a path or a binary file object."""
    import av  # here, not at the top: PyAV is large, and most processes never decode video

    frames: list[VpdqFrame] = []
    try:
        with av.open(stream, mode="r") as container:
            if not container.streams.video:
                raise SignalError("no video stream")
            video = container.streams.video[0]
            video.thread_type = "AUTO"
            rate = video.average_rate or video.guessed_rate
            fps = float(rate) if rate else 30.0
            every = max(1, round(fps * seconds_per_hash)) if seconds_per_hash > 0 else 1
            for number, frame in enumerate(container.decode(video)):
                if number >= MAX_FRAMES:
                    break
                if number % every:
                    continue
                rgb = frame.to_ndarray(format="rgb24")
                pdq = hash_pixels(np.asarray(rgb, dtype=np.uint8))
                frames.append(VpdqFrame(number, pdq.quality, pdq.hex, round(number / fps, 3)))
    except SignalError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        if not frames:
            raise SignalError(f"cannot decode video: {exc}") from exc
        # A truncated video still yields the frames before the damage; keep them.
    if not frames:
        raise SignalError("video has no decodable frames")
    return frames


class VpdqSignal(HexSignal):
    """vPDQ. A value is one frame's PDQ hash; two videos match when enough of their usable
    frames are within ``threshold`` of a frame of the other (``kaitiaki.match.videos``)."""

    name = "vpdq"
    kinds = frozenset({ContentKind.VIDEO})
    hex_length = 64
    # The vPDQ reference's frame rule: PDQ's 31 bits and quality floor of 50 per frame, and a
    # match when this share of the query's unique frames (and of the entry's) find a match.
    threshold = 31
    max_threshold = 256
    quality_floor = 50
    query_share = 0.80
    entry_share = 0.0

    def compare(self, a: str, b: str) -> int:
        return hamming(a, b)

    def __init__(self, seconds_per_hash: float = DEFAULT_SECONDS_PER_HASH) -> None:
        self.seconds_per_hash = seconds_per_hash

    def compute(self, content: Content) -> dict[str, Any]:
        with content.reopen() as stream:
            frames = hash_video(stream, self.seconds_per_hash)
        return {"vpdq": [f.as_list() for f in frames]}
