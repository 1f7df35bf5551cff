"""vPDQ as HMA and threatexchange write it, and the hashes of a video that the HMA API returns.

threatexchange's ``vpdq`` signal (its ``extensions/vpdq``) is a JSON list of strings
``"<pdq hex>,<quality>,<timestamp>"``, one a sampled frame; the timestamp is written with
Python's ``{:.3}`` (three significant digits, as threatexchange's ``VpdqCompactFeature``
writes it, so the strings are the same). kaitiaki keeps frames as
``[frame, quality, hex, seconds]`` (``signals.vpdq``, ``hash_set_entries.vpdq``): HMA's form
has no frame number, so frames read from it are numbered in order; matching does not use them.

A video's frames are hashed with the reference PDQ on full frames, as the vPDQ reference does,
so the vPDQ returned here needs no separate reference computation.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, BinaryIO

from kaitiaki.signals.vpdq import hash_video

# What HMA's video content type is hashed into, then kaitiaki's digests of the same bytes.
VIDEO_SIGNALS = ("video_md5", "vpdq", "md5", "sha1", "sha256")
# A longer list is not a video kaitiaki would have hashed (hash_video stops at MAX_FRAMES).
MAX_SIGNAL_FRAMES = 108_000
_HEX = frozenset("0123456789abcdef")
_CHUNK = 1 << 20


def _frame(text: Any) -> tuple[str, int, float]:
    if not isinstance(text, str):
        raise ValueError("each vpdq frame must be a string 'hex,quality,timestamp'")
    parts = text.split(",")
    if len(parts) != 3:
        raise ValueError(f"invalid vpdq frame {text[:80]!r}: want 'hex,quality,timestamp'")
    pdq = parts[0].strip().lower()
    if len(pdq) != 64 or not set(pdq) <= _HEX:
        raise ValueError(f"invalid vpdq frame {text[:80]!r}: malformed pdq hash")
    try:
        quality, seconds = int(parts[1]), float(parts[2])
    except ValueError:
        raise ValueError(f"invalid vpdq frame {text[:80]!r}: bad quality or timestamp") from None
    if not 0 <= quality <= 100 or not seconds >= 0:  # "not >=" also refuses NaN
        raise ValueError(f"invalid vpdq frame {text[:80]!r}: quality or timestamp out of range")
    return pdq, quality, seconds


def frames_from_signal(value: str) -> list[list[Any]]:
    """HMA's vpdq string -> kaitiaki's ``[[frame, quality, hex, seconds], ...]``; ValueError
    saying why for anything else. An empty list is refused: it matches nothing."""
    try:
        items = json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError("vpdq signal is not JSON") from None
    if not isinstance(items, list):
        raise ValueError("vpdq signal must be a JSON list of frames")
    if not items:
        raise ValueError("vpdq signal has no frames")
    if len(items) > MAX_SIGNAL_FRAMES:
        raise ValueError(f"vpdq signal has more than {MAX_SIGNAL_FRAMES} frames")
    out: list[list[Any]] = []
    for number, item in enumerate(items):
        pdq, quality, seconds = _frame(item)
        out.append([number, quality, pdq, seconds])
    return out


def signal_from_frames(frames: Sequence[Sequence[Any]]) -> str:
    """kaitiaki's frames -> HMA's vpdq string, byte for byte as threatexchange writes it."""
    return json.dumps([f"{f[2]},{int(f[1])},{float(f[3]):.3}" for f in frames])


def normalise_vpdq(value: str) -> str:
    """A vpdq signal in the form kaitiaki returns it (lowercase hex, threatexchange's spacing)."""
    return signal_from_frames(frames_from_signal(value))


def video_signals(source: Path | bytes, types: Collection[str] | None = None) -> dict[str, str]:
    """HMA's ``{"video_md5": ..., "vpdq": ...}`` for a video (a file, or its bytes), with
    kaitiaki's digests of the same bytes."""
    wanted = VIDEO_SIGNALS if types is None else tuple(t for t in VIDEO_SIGNALS if t in types)
    names = {"md5" if n == "video_md5" else n for n in wanted if n != "vpdq"}
    digests: dict[str, Any] = {name: hashlib.new(name) for name in sorted(names)}
    if digests:
        with _opened(source) as stream:
            while chunk := stream.read(_CHUNK):
                for digest in digests.values():
                    digest.update(chunk)
    out: dict[str, str] = {}
    for name in wanted:
        if name == "vpdq":
            with _opened(source) as stream:
                frames = hash_video(stream)
            out[name] = signal_from_frames([f.as_list() for f in frames])
        else:
            out[name] = digests["md5" if name == "video_md5" else name].hexdigest()
    return out


def _opened(source: Path | bytes) -> BinaryIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source.open("rb")
