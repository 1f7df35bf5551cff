"""Damaged files and nested archives for the demo sample, built in memory with fixed metadata.

Archive members carry fixed times, owners and modes, and gzip no time stamp or file name, so
the same members give the same archive bytes on every run.
"""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Sequence

_FIXED_TIME = (2020, 1, 1, 0, 0, 0)
_FIXED_EPOCH = 1_577_836_800  # 2020-01-01T00:00:00Z


def zip_bytes(members: Sequence[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return out.getvalue()


def tar_gz_bytes(members: Sequence[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), _FIXED_EPOCH, 0o644
            archive.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as compressed:
        compressed.write(raw.getvalue())
    return out.getvalue()


def truncated(data: bytes, keep: float = 0.4) -> bytes:
    """The first ``keep`` of a file: a download or a copy cut off part-way."""
    return data[: int(len(data) * keep)]


def png_with_broken_body(png: bytes) -> bytes:
    """A PNG whose first image-data chunk has a corrupted deflate stream but a valid CRC.

    The chunk CRC is recomputed so that only the pixel decoder, not the chunk reader, can tell:
    the decoder must report it (Pillow: "broken data stream"), never hash half an image.
    """
    at = png.find(b"IDAT")
    if at < 4:
        raise ValueError("not a PNG with image data")
    (length,) = struct.unpack(">I", png[at - 4 : at])
    body = bytearray(png[at + 4 : at + 4 + length])
    body[:2] = b"\xff\xff"  # an impossible zlib header
    crc = struct.pack(">I", zlib.crc32(b"IDAT" + body))
    return png[: at + 4] + bytes(body) + crc + png[at + 8 + length :]
