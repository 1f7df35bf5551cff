"""Content type comes from the bytes, never from the file name."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from kaitiaki.content.kinds import ContentKind, detect
from kaitiaki.scan.hasher import hash_path


def picture(fmt: str) -> bytes:
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    image = Image.fromarray(pixels).resize((96, 64), Image.Resampling.BICUBIC)
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [
        ("JPEG", "image/jpeg"),
        ("PNG", "image/png"),
        ("GIF", "image/gif"),
        ("WEBP", "image/webp"),
        ("BMP", "image/bmp"),
        ("TIFF", "image/tiff"),
    ],
)
def test_image_formats_are_images(fmt: str, mime: str) -> None:
    found = detect(picture(fmt))
    assert (found.kind, found.mime) == (ContentKind.IMAGE, mime)


def test_other_kinds() -> None:
    assert detect(b"").kind == ContentKind.EMPTY
    assert detect(b"just some words\n").kind == ContentKind.OTHER
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("a.txt", "a")
    assert detect(archive.getvalue()).kind == ContentKind.ARCHIVE
    mp4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + bytes(64)
    assert detect(mp4).kind == ContentKind.VIDEO


def test_png_named_txt_is_hashed_as_an_image(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(picture("PNG"))
    (record,) = hash_path(path)
    assert (record.kind, record.mime) == ("image", "image/png")
    assert record.error is None and record.pdq is not None


def test_text_named_jpg_is_other(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(b"Dear diary, this is not a photograph.\n")
    (record,) = hash_path(path)
    assert record.kind == "other"
    assert record.pdq is None and record.error is None
    assert record.md5 is not None
