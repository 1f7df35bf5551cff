"""Damaged and hostile images end as recorded errors: never a crash, never a half-image hash."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kaitiaki.scan.hasher import hash_path
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.pdq import MAX_PIXELS, hash_image_bytes
from kaitiaki.simulate.containers import png_with_broken_body, truncated


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bilevel_png_bomb(side: int) -> bytes:
    """A valid 1-bit PNG of ``side`` x ``side`` white pixels: a few hundred KB that inflate to
    side² pixels (900 million at 30,000) once decoded."""
    row = b"\x00" + b"\xff" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale
    signature = b"\x89PNG\r\n\x1a\n"
    return signature + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def photo(fmt: str) -> bytes:
    rng = np.random.default_rng(3)
    image = Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8))
    out = io.BytesIO()
    image.resize((256, 192), Image.Resampling.BICUBIC).save(out, fmt)
    return out.getvalue()


def record_for(tmp_path: Path, name: str, data: bytes) -> tuple[str | None, str | None, str | None]:
    path = tmp_path / name
    path.write_bytes(data)
    (record,) = hash_path(path)
    assert record.md5 is not None  # the digests are kept whatever happens to the pixels
    return record.kind, record.error, record.pdq


@pytest.mark.parametrize("side", [30_000, 20_000])
def test_decompression_bomb_is_an_error(tmp_path: Path, side: int) -> None:
    # 30,000² is past Pillow's hard limit; 20,000² past its warning, which pdq.py makes an error.
    assert side * side > Image.MAX_IMAGE_PIXELS
    data = bilevel_png_bomb(side)
    assert len(data) < 1 << 20
    kind, error, pdq = record_for(tmp_path, "bomb.png", data)
    assert kind == "image" and pdq is None
    assert error is not None and "pdq" in error


def test_pixel_limit_is_below_pillows_hard_limit() -> None:
    assert MAX_PIXELS // 2 == Image.MAX_IMAGE_PIXELS


def test_truncated_jpeg_is_an_error(tmp_path: Path) -> None:
    kind, error, pdq = record_for(tmp_path, "cut.jpg", truncated(photo("JPEG")))
    assert kind == "image" and pdq is None
    assert error is not None and "truncated" in error


def test_png_with_broken_body_is_an_error(tmp_path: Path) -> None:
    # The chunk CRCs are valid; only the pixel decoder sees the damage. A decode error must not be
    # swallowed on the way (e.g. by the EXIF read) and leave a half-decoded image to hash.
    kind, error, pdq = record_for(tmp_path, "broken.png", png_with_broken_body(photo("PNG")))
    assert kind == "image" and pdq is None
    assert error is not None


def test_image_header_only_is_an_error(tmp_path: Path) -> None:
    kind, error, pdq = record_for(tmp_path, "stub.png", photo("PNG")[:60])
    assert kind == "image" and pdq is None and error is not None


def test_zero_byte_file_is_a_recorded_error(tmp_path: Path) -> None:
    # No bytes, no type by magic: recorded as empty, with its digests and the reason.
    kind, error, pdq = record_for(tmp_path, "empty.jpg", b"")
    assert (kind, pdq) == ("empty", None)
    assert error is not None and "zero-byte" in error


def test_zero_bytes_given_to_pdq_raise_signal_error() -> None:
    with pytest.raises(SignalError):
        hash_image_bytes(b"")


def test_one_bad_file_does_not_stop_the_next(tmp_path: Path) -> None:
    bad, good = tmp_path / "bad.jpg", tmp_path / "good.jpg"
    bad.write_bytes(truncated(photo("JPEG")))
    good.write_bytes(photo("JPEG"))
    records = [r for p in (bad, good) for r in hash_path(p)]
    assert records[0].error and records[1].error is None and records[1].pdq
