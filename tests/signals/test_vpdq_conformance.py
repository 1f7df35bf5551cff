"""vPDQ frame hashes of the reference sample videos, through ``hash_path``, against Meta's."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaitiaki.scan.hasher import hash_path
from kaitiaki.signals.pdq import hamming

DRIFT_LIMIT = 10
QUALITY_FOR_DRIFT = 80


def reference_frames(path: Path) -> dict[int, tuple[int, str, float]]:
    """``frame,quality,pdq_hex,timestamp_seconds`` lines, by frame number."""
    frames = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            frame, quality, pdq, seconds = line.split(",")
            frames[int(frame)] = (int(quality), pdq, float(seconds))
    return frames


def videos(root: Path) -> list[Path]:
    found = sorted((root / "videos").glob("*.mp4"))
    assert len(found) == 5
    return found


@pytest.mark.parametrize("index", range(5))
def test_frames_within_10_bits_at_the_same_timestamps(pdq_testdata: Path, index: int) -> None:
    video = videos(pdq_testdata)[index]
    # Full-size frames: the -128x128 reference files were hashed from downsampled frames.
    reference = reference_frames(pdq_testdata / "vpdq-hashes" / f"{video.stem}.txt")
    (record,) = hash_path(video)
    assert record.kind == "video" and record.error is None, record.error
    assert record.vpdq
    compared, failures = 0, []
    for frame, quality, pdq, seconds in record.vpdq:
        ref_quality, ref_pdq, ref_seconds = reference[frame]
        assert seconds == pytest.approx(ref_seconds, abs=0.001), frame
        if min(quality, ref_quality) < QUALITY_FOR_DRIFT:
            continue
        compared += 1
        if hamming(pdq, ref_pdq) > DRIFT_LIMIT:
            failures.append((frame, hamming(pdq, ref_pdq)))
    assert compared >= 1  # doorknob has one frame of quality >= 80 at one frame a second
    assert not failures, failures
