"""Hashes that leave the system, computed exactly as HMA's own hasher computes them.

A client compares what kaitiaki's ``/h/hash`` returns with hashes from HMA and other
ThreatExchange tools, so the PDQ here is threatexchange's (``pdq_from_bytes``: the ``pdqhash``
reference on the full image), not the scanner's reduced-scale fast path, and a PDQ of quality
below HMA's floor is returned empty, as HMA returns it. The dihedral hashes, used only to query,
come from the same reference on the same pixels.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Collection

import numpy as np
import pdqhash
from PIL import Image

from kaitiaki.signals.base import SignalError
from kaitiaki.signals.pdq import bits_to_hex, open_image

# What HMA's photo content type is hashed into, then kaitiaki's digests of the same bytes.
PHOTO_SIGNALS = ("pdq", "md5", "sha1", "sha256")
# A decoded photo is held in memory to hash it: larger uploads are refused.
MAX_PHOTO_BYTES = 64 * 1024**2
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError)


def reference_pdq(data: bytes) -> tuple[str, int]:
    """HMA's PDQ of an image file and its quality, whatever the quality."""
    # Imported here, not at the top: the package's PDQ module loads faiss, which the web
    # server's worker processes (which import this module) need only once they hash.
    from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

    open_image(data).close()  # refuses what is no image, and decompression bombs, first
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            hex_hash, quality = pdq_from_bytes(data)
    except (*_DECODE_ERRORS, Image.DecompressionBombWarning) as exc:
        raise SignalError(f"cannot hash image: {exc}") from exc
    return hex_hash, int(quality)


def _quality_threshold() -> int:
    from threatexchange.signal_type.pdq.signal import PdqSignal

    return int(PdqSignal.QUALITY_THRESHOLD)


def _pdq(data: bytes) -> str:
    hex_hash, quality = reference_pdq(data)
    return hex_hash if quality >= _quality_threshold() else ""


def photo_signals(data: bytes, types: Collection[str] | None = None) -> dict[str, str]:
    """HMA's ``{"pdq": ...}`` for a photo, with kaitiaki's digests; ``types`` picks some."""
    wanted = PHOTO_SIGNALS if types is None else tuple(t for t in PHOTO_SIGNALS if t in types)
    out: dict[str, str] = {}
    for name in wanted:
        if name == "pdq":
            out[name] = _pdq(data)
        else:
            out[name] = hashlib.new(name, data).hexdigest()
    return out


def pdq_dihedral(data: bytes) -> list[str]:
    """The 8 dihedral PDQ hashes of a photo (original first), for rotation-proof queries;
    empty when the image's quality is below the floor."""
    image = open_image(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            rgb = np.asarray(image.convert("RGB"))
    except (*_DECODE_ERRORS, Image.DecompressionBombWarning) as exc:
        raise SignalError(f"cannot hash image: {exc}") from exc
    hashes, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    if int(quality) < _quality_threshold():
        return []
    return [bits_to_hex(h) for h in hashes]
