"""The robust signal: local features with geometric verification, for images kaitiaki holds.

PDQ is one global hash: a crop, a rotation, a caption band or a sticker over a quarter of the
picture moves it past its threshold. Where kaitiaki holds the images themselves (an
operation's collection, a seized device) it keeps this signature beside the hash: ORB
keypoints (FAST corners with a rotation-aware binary descriptor, built into OpenCV) of the
reduced greyscale image. Two images match when enough of their keypoints agree on one
similarity transform (shift, rotation, uniform scale), which is what a crop, rotation,
rescale or re-framing does; an overlay hides some keypoints but leaves the rest in place.

Choices, measured with ``benchmarks/bench_robust_index.py`` (17 ``skimage.data`` photos under
19 transformation families) and ``tests/signals/test_robust.py``:
- The image is resized so its longer side is ``SIDE`` (320) pixels, small ones up as well as
  large ones down: a 30% thumbnail then yields keypoints at the scales of its original. 384
  recalled as well as 512 at about half the detection cost; 320 then recalled as well as 384
  in ``bench_robust`` (85.7% against 85.6% over 41 AugLy edits at 8 inliers) for ~20% less
  time a picture, which a scan needed to stay within 1.5x of its cost without the signal.
  Signatures made at 384 before still verify against these (the scale is part of the fit).
- Keypoints are picked over a grid (each cell's strongest first, in turns), so that a crop,
  a caption or stickers cannot take all of them; ORB's FAST score ranked them more
  repeatably than its Harris score (recall 0.92 against 0.89 over the families).
- Flips: ORB is not mirror-invariant, so each keypoint also gets the descriptor of the
  mirrored image at the mirrored point, stored as its own row with the point in the mirrored
  frame. The rows of a flipped image are then those of the original (mirror rows and plain
  rows swap), and verification needs no separate flipped pass. Detection runs once; only the
  descriptor step runs twice (~1/3 of the cost, and half the bytes).
- ``MIN_INLIERS`` = 8: on ~10^5 pairs of different photos (no shared overlay) no pair had
  more than 6 inliers, and the counts fell ~20x per inlier from 3 up; in ``bench_robust``
  (547,432 pairs of different photos under AugLy's edits) none had more than 6 either. At
  10, as first chosen, 10-degree rotations and 10%-a-side crops fell just under 90% recall; 8
  keeps two inliers above anything seen between different photos. (More keypoints, 144,
  raised recall at 10 but brought 13 pairs of different photos to 6 inliers, at 384 px.)

What it cannot tell apart: two different pictures that share content match, whatever that
content is. The same caption text, watermark or sticker set on two photos verifies (in the
benchmark 390 of 952 such pairs reached 10 inliers), so a hit means "shares a region
with", and a reviewer must look before it is treated as the same picture.
"""

from __future__ import annotations

import base64
import binascii
import struct
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from kaitiaki.content.kinds import ContentKind
from kaitiaki.signals.base import TIER_ROBUST, Content, SignalError, SignalType
from kaitiaki.signals.pdq import open_image, reduce_image, reduced_pixels

NAME = "robust"
VERSION = 1
SIDE = 320
# Keypoints kept per image; each has a plain and a mirrored row, so a signature has twice as
# many rows. More keypoints raise recall on heavy crops at the cost of bytes and index memory.
KEYPOINTS = 112
GRID = 4
MIN_INLIERS = 8
DESCRIPTOR_BYTES = 32
# Hostile signatures from outside: no more rows or pixels than we ever produce ourselves.
MAX_ROWS = 1024
MAX_SIDE = 1023  # points are uint16 in 1/64 px
# Match gating: Lowe's ratio test and an absolute Hamming ceiling (256 bits).
RATIO = 0.8
MAX_DISTANCE = 80
# RANSAC reprojection tolerance in pixels of the SIDE-pixel frame: 4.5 at 384 px, scaled with
# SIDE (at 4.5, pairs of different photos reached 7 inliers at 320).
REPROJECTION = 3.75
# Points are stored in 1/POINT_SCALE pixel units as uint16: 1023 * 64 < 65536.
POINT_SCALE = 64

_MAGIC = b"KRS"
_HEADER = struct.Struct("<3sBHHH")  # magic, version, width, height, rows

# One detector per thread (OpenCV does not promise that one may be shared): creating one per
# image would add ~0.2 ms. It over-collects and the grid selection keeps KEYPOINTS; the FAST
# score (rather than Harris) measured both cheaper and more repeatable under overlays.
_LOCAL = threading.local()

if TYPE_CHECKING:
    import cv2

# OpenCV is imported where it is used, not here: every process that matches or lists signal
# types imports this module (the web server's workers too), and only hashing needs OpenCV.


def _orb() -> cv2.ORB:
    import cv2

    orb: cv2.ORB | None = getattr(_LOCAL, "orb", None)
    if orb is None:
        # kaitiaki runs one hashing process per core; OpenCV's own thread pool in each would
        # only contend with the others (measured: scaling from 1 to 2 scan workers fell).
        cv2.setNumThreads(1)
        orb = cv2.ORB.create(
            nfeatures=1000,
            scoreType=cv2.ORB_FAST_SCORE,
            fastThreshold=10,
            edgeThreshold=15,
            patchSize=31,
        )
        _LOCAL.orb = orb
    return orb


@dataclass(frozen=True, slots=True)
class RobustSignature:
    width: int
    height: int
    points: NDArray[np.float32]
    descriptors: NDArray[np.uint8]


@dataclass(frozen=True, slots=True)
class Verification:
    inliers: int
    matched: bool


def _normalise(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    import cv2

    height, width = grey.shape
    scale = SIDE / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == (width, height):
        return grey
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(grey, size, interpolation=interpolation), dtype=np.uint8)


def _select(keypoints: list[cv2.KeyPoint], width: int, height: int) -> list[cv2.KeyPoint]:
    """Up to KEYPOINTS of ``keypoints``: each GRID x GRID cell's best, then each one's second...

    High-contrast text or a sticker makes the strongest corners of an image; taking the top
    KEYPOINTS by response alone would spend them all there. Taking cells in turn keeps most of
    them on the picture. (Suppressing neighbours within a radius instead measured worse.)
    """
    import cv2

    if not keypoints:
        return []
    pts = np.asarray(cv2.KeyPoint.convert(keypoints), np.float64).reshape(-1, 2)
    response = np.array([k.response for k in keypoints])
    cx = np.minimum(GRID - 1, (pts[:, 0] * GRID / width).astype(np.int64))
    cy = np.minimum(GRID - 1, (pts[:, 1] * GRID / height).astype(np.int64))
    cell = cy * GRID + cx
    by_cell = np.lexsort((-response, cell))
    first = np.searchsorted(cell[by_cell], cell[by_cell], side="left")
    rank = np.empty(len(keypoints), np.int64)
    rank[by_cell] = np.arange(len(keypoints)) - first
    # Within one round, the stronger keypoint first: the last, partial round is then the
    # same whichever cell a crop happened to put first.
    order = np.lexsort((-response, rank))[:KEYPOINTS]
    return [keypoints[i] for i in order]


def compute(rgb: NDArray[np.uint8]) -> RobustSignature:
    """The signature of an RGB (or greyscale) array, as ``np.asarray(load_reduced(image))``."""
    import cv2

    if rgb.ndim == 3:
        grey = cv2.cvtColor(np.ascontiguousarray(rgb[..., :3]), cv2.COLOR_RGB2GRAY)
    elif rgb.ndim == 2:
        grey = np.ascontiguousarray(rgb)
    else:
        raise SignalError(f"expected an image array, got shape {rgb.shape}")
    grey = _normalise(np.asarray(grey, dtype=np.uint8))
    height, width = grey.shape
    orb = _orb()
    keypoints = _select(list(orb.detect(grey, None)), width, height)
    kept, plain = orb.compute(grey, keypoints)
    if plain is None or not kept:
        return _empty(width, height)
    # The mirrored image at the mirrored points: ORB's orientation flips from a to 180 - a.
    mirrored = [
        cv2.KeyPoint(
            width - 1 - k.pt[0],
            k.pt[1],
            k.size,
            (180.0 - k.angle) % 360.0,
            k.response,
            k.octave,
            k.class_id,
        )
        for k in kept
    ]
    kept_m, flipped = orb.compute(np.ascontiguousarray(grey[:, ::-1]), mirrored)
    pts = np.array([k.pt for k in kept], np.float32).reshape(-1, 2)
    rows = [(pts, plain)]
    if flipped is not None and kept_m:
        rows.append((np.array([k.pt for k in kept_m], np.float32).reshape(-1, 2), flipped))
    points = np.concatenate([p for p, _ in rows])
    # Quantise now, so a signature read back from bytes verifies exactly as the computed one.
    points = np.round(points * POINT_SCALE) / POINT_SCALE
    descriptors = np.ascontiguousarray(np.concatenate([d for _, d in rows]), dtype=np.uint8)
    return RobustSignature(width, height, points.astype(np.float32), descriptors)


def _empty(width: int, height: int) -> RobustSignature:
    return RobustSignature(
        width, height, np.empty((0, 2), np.float32), np.empty((0, DESCRIPTOR_BYTES), np.uint8)
    )


def compute_image_bytes(data: bytes) -> RobustSignature:
    """The signature of an encoded image; ``SignalError`` when it cannot be decoded."""
    return compute(reduce_image(open_image(data)))


def to_bytes(sig: RobustSignature) -> bytes:
    """Header (magic, version, width, height, rows), then uint16 points, then descriptors."""
    rows = len(sig.descriptors)
    if sig.descriptors.shape != (rows, DESCRIPTOR_BYTES) or sig.points.shape != (rows, 2):
        raise SignalError("robust signature with mismatched points and descriptors")
    if rows > MAX_ROWS or not (1 <= sig.width <= MAX_SIDE and 1 <= sig.height <= MAX_SIDE):
        raise SignalError(f"robust signature of {rows} rows, {sig.width}x{sig.height}, too large")
    points = np.clip(np.round(sig.points * POINT_SCALE), 0, 65535).astype("<u2")
    header = _HEADER.pack(_MAGIC, VERSION, sig.width, sig.height, rows)
    return header + points.tobytes() + np.ascontiguousarray(sig.descriptors, np.uint8).tobytes()


def from_bytes(data: bytes) -> RobustSignature:
    """A signature from ``to_bytes``'s encoding, every field checked (the bytes may be hostile)."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SignalError(f"robust signature must be bytes, not {type(data).__name__}")
    # Refuse an oversized input before copying it.
    if memoryview(data).nbytes > _HEADER.size + MAX_ROWS * (4 + DESCRIPTOR_BYTES):
        raise SignalError(f"robust signature of {memoryview(data).nbytes} bytes is too large")
    data = bytes(data)
    if len(data) < _HEADER.size:
        raise SignalError(
            f"robust signature truncated: {len(data)} bytes, header is {_HEADER.size}"
        )
    magic, version, width, height, rows = _HEADER.unpack_from(data)
    if magic != _MAGIC:
        raise SignalError("not a robust signature (bad magic)")
    if version != VERSION:
        raise SignalError(f"robust signature version {version} is not supported (only {VERSION})")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        raise SignalError(f"robust signature image size {width}x{height} out of range")
    if rows > MAX_ROWS:
        raise SignalError(f"robust signature has {rows} rows, more than {MAX_ROWS}")
    expected = _HEADER.size + rows * (4 + DESCRIPTOR_BYTES)
    if len(data) != expected:
        raise SignalError(
            f"robust signature of {rows} rows must be {expected} bytes, not {len(data)}"
        )
    body = _HEADER.size + rows * 4
    raw = np.frombuffer(data, "<u2", rows * 2, _HEADER.size).reshape(rows, 2)
    points = raw.astype(np.float32) * np.float32(1 / POINT_SCALE)
    if rows and (points[:, 0].max() > width or points[:, 1].max() > height):
        raise SignalError("robust signature has a keypoint outside its image")
    descriptors = np.frombuffer(data, np.uint8, rows * DESCRIPTOR_BYTES, body)
    return RobustSignature(
        width, height, points, descriptors.reshape(rows, DESCRIPTOR_BYTES).copy()
    )


def verify(
    query: RobustSignature, reference: RobustSignature, min_inliers: int = MIN_INLIERS
) -> Verification:
    """How many keypoint matches agree on one similarity transform, and whether that is a match."""
    import cv2

    if len(query.descriptors) < 2 or len(reference.descriptors) < 2:
        return Verification(0, False)
    matcher = getattr(_LOCAL, "matcher", None)
    if matcher is None:
        matcher = _LOCAL.matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(query.descriptors, reference.descriptors, k=2)
    good = [
        p[0]
        for p in pairs
        if len(p) == 2 and p[0].distance <= MAX_DISTANCE and p[0].distance < RATIO * p[1].distance
    ]
    if len(good) < 3:
        return Verification(0, False)
    src = query.points[[m.queryIdx for m in good]]
    dst = reference.points[[m.trainIdx for m in good]]
    model, mask = cv2.estimateAffinePartial2D(
        src,
        dst,
        method=cv2.RANSAC,
        ransacReprojThreshold=REPROJECTION,
        maxIters=1000,
        confidence=0.995,
        refineIters=0,
    )
    if model is None or mask is None:
        return Verification(0, False)
    scale = float(np.hypot(model[0, 0], model[1, 0]))
    # A transform that shrinks or blows up the picture more than 4x is not a re-post of it.
    if not 0.25 <= scale <= 4.0:
        return Verification(0, False)
    inlier = mask.ravel().astype(bool)
    # One reference point matched by several query rows counts once.
    count = len({m.trainIdx for m, keep in zip(good, inlier, strict=True) if keep})
    return Verification(count, count >= min_inliers)


class RobustSignal(SignalType):
    """The robust signal as a signal type. Computed from the picture PDQ already decoded (one
    decode per file); a value crosses as text in base64; two values compare by the number of
    feature matches that survive geometric verification, so more is closer."""

    name = NAME
    kinds = frozenset({ContentKind.IMAGE})
    tier = TIER_ROBUST
    threshold = MIN_INLIERS
    max_threshold = MAX_ROWS
    higher_is_closer = True
    supplementary = True

    def compute(self, content: Content) -> dict[str, Any]:
        import cv2

        _image, rgb = reduced_pixels(content)
        try:
            return {"robust": to_bytes(compute(rgb))}
        except cv2.error as exc:  # OpenCV refusing a picture PDQ could hash: say so, go on
            raise SignalError(f"cannot compute the robust signal: {exc}") from None

    def parse(self, value: str) -> str:
        return base64.b64encode(to_bytes(_decode(value))).decode("ascii")

    def compare(self, a: str, b: str) -> int:
        return verify(_decode(a), _decode(b)).inliers


def _decode(value: str) -> RobustSignature:
    """A signature written as base64 text, checked as ``from_bytes`` checks it."""
    try:
        data = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignalError(f"robust signature is not base64: {exc}") from None
    return from_bytes(data)


def readable(
    rows: Iterable[tuple[int, bytes | None]],
) -> tuple[list[int], list[RobustSignature]]:
    """The ids and signatures of ``rows`` (id, stored bytes) that parse; a damaged or missing
    signature is left out: it matches nothing, and its file's or entry's hashes still do."""
    ids: list[int] = []
    signatures: list[RobustSignature] = []
    for key, data in rows:
        if data is None:
            continue
        try:
            signatures.append(from_bytes(data))
        except SignalError:
            continue
        ids.append(key)
    return ids, signatures
