"""PDQ, Meta's perceptual image hash, computed with the reference implementation (``pdqhash``).

Speed comes from what happens before ``pdqhash``: a JPEG is decoded at reduced scale (Pillow's
draft mode: libjpeg scales in the DCT domain and skips most of the IDCT work) and any image is
reduced to fit 512x512 before the hash's own filtering, as both references do. On a
12-megapixel photo that takes about a tenth of the time of a full decode and a full-size hash
(``benchmarks/bench_hash.py``, one core: ~30 ms against ~300 ms).

The choices below were measured on the conformance set (``expected.csv``) and on package photos
re-encoded as JPEGs of 700 to 4,000 pixels, against the references' two ways of reducing:
- The image is hashed at exactly the size the reference would hash it: PDQ lays its box
  filters and sampling grid out from the image's sides, and hashing a 500x375 draft where the
  reference hashes 512x384 drifted by up to 26 bits. The draft is only the source of pixels.
- The aspect ratio is kept, as the Python reference's ``thumbnail((512, 512))`` does, rather
  than squashed to 512x512 as the C++ reference's CImg resize does. Worst drift: 8 bits on the
  conformance set (squashed: 10); on the JPEGs 10 bits from the Python way and 18 from the C++
  way (squashed: 18 and 6). The two references differ from each other by as much.
- JPEGs are drafted to the smallest DCT scale that keeps both sides >= 256, not 512 (1/8 for a
  12-megapixel photo: each 8x8 block becomes its DC coefficient, an exact box average), and
  the draft is then resampled to the target size: ~20% faster, for no more drift.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pdqhash
from numpy.typing import NDArray
from PIL import Image, ImageFile, UnidentifiedImageError

from kaitiaki.content.kinds import ContentKind
from kaitiaki.signals.base import Content, HexSignal, SignalError

REDUCED_SIZE = 512
# JPEGs decode at the smallest DCT scale (1/2, 1/4, 1/8) that keeps both sides >= this; PDQ's
# 64x64 grid needs no more than 4 pixels a cell.
DRAFT_SIDE = REDUCED_SIZE // 2
REDUCE_FILTER = Image.Resampling.BICUBIC
# Images with more pixels than this are refused as decompression bombs (Pillow's own check is
# 2x its MAX_IMAGE_PIXELS of ~89 Mpx; a 24k x 24k scan is the largest we accept).
MAX_PIXELS = 576_000_000

# Pillow's guard against decompression bombs reads this module global.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS // 2
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True, slots=True)
class PdqHash:
    hex: str
    quality: int
    dihedral: tuple[str, ...]


def bits_to_hex(bits: NDArray[Any]) -> str:
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def hamming(a: str, b: str) -> int:
    """Hamming distance between two 64-hex PDQ hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


def fit_size(width: int, height: int) -> tuple[int, int]:
    """``width`` x ``height`` scaled, aspect kept, so the longer side is ``REDUCED_SIZE``."""
    scale = REDUCED_SIZE / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def load_reduced(image: Image.Image) -> Image.Image:
    """Decode ``image`` as RGB, no larger than ``REDUCED_SIZE`` on either side."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        raise SignalError(f"image of {width}x{height} pixels exceeds the {MAX_PIXELS} pixel limit")
    large = max(width, height) > REDUCED_SIZE
    if image.format == "JPEG" and large:
        # draft() picks the largest DCT scale that keeps both sides >= the requested size. PDQ
        # uses only luma, which a YCbCr JPEG stores as is: decoding "L" skips chroma upsampling
        # and colour conversion (~6% of the time on a 12-megapixel photo; hashes unchanged on
        # the conformance set). Other JPEGs (CMYK, RGB-coded) keep their mode.
        image.draft("L", (DRAFT_SIDE, DRAFT_SIDE))
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    reduced = image.convert("L" if image.mode == "L" else "RGB")
    # A large image is hashed at exactly the size the reference would reduce it to, even when
    # the draft came out a little smaller: PDQ lays its filters and 64x64 grid out from the
    # image's sides, and hashing a 500x375 draft where the reference hashes 512x384 drifted by
    # up to 26 bits.
    target = fit_size(width, height) if large else reduced.size
    if reduced.size != target:
        reduced = reduced.resize(target, REDUCE_FILTER, reducing_gap=2.0)
    return reduced.convert("RGB")


def hash_pixels(rgb: NDArray[np.uint8]) -> PdqHash:
    """PDQ of an RGB array (H, W, 3) with its 8 dihedral hashes, original first."""
    hashes, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    dihedral = tuple(bits_to_hex(h) for h in hashes)
    return PdqHash(dihedral[0], int(quality), dihedral)


def open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,
    ) as exc:
        raise SignalError(f"cannot decode image: {exc}") from exc


def reduce_image(image: Image.Image) -> NDArray[np.uint8]:
    """An opened (not yet decoded) image's pixels, reduced as PDQ hashes them (``load_reduced``);
    ``SignalError`` saying why when it cannot be decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            rgb = load_reduced(image)
    except SignalError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise SignalError(f"decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise SignalError(f"corrupt or truncated image: {exc}") from exc
    return np.asarray(rgb)


def hash_image(image: Image.Image) -> PdqHash:
    """PDQ of an opened (not yet decoded) image, through the reduced-scale fast path."""
    return hash_pixels(reduce_image(image))


def reduced_pixels(content: Content) -> tuple[Image.Image, NDArray[np.uint8]]:
    """The content opened as an image and its reduced pixels, decoded once per file and shared
    by the signals computed from them; a failure is remembered and raised again."""
    cached = content.shared.get("reduced")
    if cached is None:
        try:
            image = open_image(content.read())
            cached = (image, reduce_image(image))
        except SignalError as exc:
            cached = exc
        content.shared["reduced"] = cached
    if isinstance(cached, SignalError):
        raise cached
    return cast(tuple[Image.Image, NDArray[np.uint8]], cached)


def hash_image_bytes(data: bytes) -> PdqHash:
    return hash_image(open_image(data))


def exif_summary(image: Image.Image) -> dict[str, Any] | None:
    """Camera make, model, serial, capture time and GPS: what triage and victim ID look for."""
    try:
        exif = image.getexif()
    except Exception:  # EXIF is advisory; a broken block must not fail the hash.
        return None
    if not exif:
        return None
    summary: dict[str, Any] = {}
    for key, tag in (("make", 0x010F), ("model", 0x0110), ("datetime", 0x0132)):
        if tag in exif:
            summary[key] = str(exif[tag]).strip("\x00 ")
    sub = exif.get_ifd(0x8769)
    for key, tag in (("datetime_original", 0x9003), ("serial", 0xA431)):
        if tag in sub:
            summary[key] = str(sub[tag]).strip("\x00 ")
    gps = exif.get_ifd(0x8825)
    if gps:
        summary["gps"] = {str(k): str(v) for k, v in gps.items()}
    return summary or None


class PdqSignal(HexSignal):
    name = "pdq"
    kinds = frozenset({ContentKind.IMAGE})
    hex_length = 64
    # Meta's PDQ documentation: within 31 bits false matches are rare for hashes of quality
    # >= 50; below 50 the image is too flat or small for its hash to say much.
    threshold = 31
    max_threshold = 256
    quality_floor = 50

    def compare(self, a: str, b: str) -> int:
        return hamming(a, b)

    def compute(self, content: Content) -> dict[str, Any]:
        # Decode and hash first: for a PNG, getexif() loads the pixels, and a decode error
        # swallowed there would leave a half-decoded image that then hashes without complaint.
        from kaitiaki.signals.views import trimmed_views  # it builds on this module

        image, rgb = reduced_pixels(content)
        result = hash_pixels(rgb)
        # Query-side normalisation: the picture with an added border taken off is asked too
        # (hash sets from partners hold hashes only; this is what can be done for them).
        trimmed = [
            {
                "view": v.name,
                "box": list(v.box),
                "quality": v.pdq.quality,
                "dihedral": list(v.pdq.dihedral),
            }
            for v in trimmed_views(rgb, result.hex)
            if v.box is not None
        ]
        return {
            "pdq": result.hex,
            "pdq_quality": result.quality,
            "pdq_dihedral": list(result.dihedral),
            "pdq_views": trimmed or None,
            "exif": exif_summary(image),
        }
