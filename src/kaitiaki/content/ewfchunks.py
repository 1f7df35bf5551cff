"""How many bytes an E01's chunks hold, read from its sections, not through libewf.

libewf gives the media as the volume section declares it: whole sectors. An acquisition of a
source that is not a whole number of sectors long (a 4,097-byte file) stores every byte in its
last chunk, and the MD5 that ewfacquire writes covers them all, yet libewf reads 4,096. To say
why such an image's digest differs, the last chunk is found in the segments' table sections and
its length taken: ``(chunks - 1) x chunk size + bytes in the last chunk``.

EWF version 1 only (E01, the ``EVF`` signature): section descriptors of 76 bytes (type, next
offset, size, padding, Adler-32), table sections listing each chunk's offset (the high bit set
for a compressed chunk) from a base offset. Anything unexpected gives None: this only explains a
mismatch, it never decides one.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
_FILE_HEADER = 13
_DESCRIPTOR = 76
_TABLE_HEADER = 24
_COMPRESSED = 0x80000000
# A segment is at most a few GiB of sections; a chain longer than this is damaged or looping.
_MAX_SECTIONS = 1_000_000
_CHUNK_SLACK = 4 + 64 + 1024  # checksum, padding, and a margin for a compressor's overhead


@dataclass(frozen=True, slots=True)
class ChunkData:
    """The bytes the chunks hold, and those of the last chunk beyond ``media_size``."""

    size: int
    tail: bytes


@dataclass(frozen=True, slots=True)
class _Chunk:
    segment: Path
    offset: int
    end: int
    compressed: bool


def chunk_data(segments: list[Path], chunk_size: int, media_size: int) -> ChunkData | None:
    """What the chunks of the E01 set ``segments`` (in order) hold; None when unsure."""
    if chunk_size <= 0:
        return None
    try:
        count, last = _last_chunk(segments)
        if last is None or count == 0:
            return None
        data = _chunk_bytes(last, chunk_size)
    # OverflowError: an offset past 2**63 in a damaged section chain, which seek() refuses.
    except (OSError, struct.error, zlib.error, ValueError, OverflowError):
        return None
    if data is None or len(data) > chunk_size:
        return None
    size = (count - 1) * chunk_size + len(data)
    start = (count - 1) * chunk_size
    tail = data[media_size - start :] if size > media_size >= start else b""
    return ChunkData(size, tail)


def _last_chunk(segments: list[Path]) -> tuple[int, _Chunk | None]:
    count = 0
    last: _Chunk | None = None
    for segment in segments:
        with segment.open("rb") as stream:
            if stream.read(_FILE_HEADER)[:8] != _SIGNATURE:
                raise ValueError("not an EWF version 1 segment")
            sections = list(_sections(stream))
            starts = sorted(offset for offset, _, _ in sections)
            for offset, kind, _size in sections:
                # "table2" repeats "table": counting both would double the chunks.
                if kind != b"table":
                    continue
                stream.seek(offset + _DESCRIPTOR)
                header = stream.read(_TABLE_HEADER)
                entries, base = struct.unpack_from("<I4xQ", header)
                if not entries:
                    continue
                stream.seek(offset + _DESCRIPTOR + _TABLE_HEADER + (entries - 1) * 4)
                (entry,) = struct.unpack("<I", stream.read(4))
                at = base + (entry & ~_COMPRESSED)
                # A chunk ends where the next section starts (its sectors section's end).
                end = next((s for s in starts if s > at), None)
                if end is None:
                    raise ValueError("last chunk runs past the last section")
                count += entries
                last = _Chunk(segment, at, end, bool(entry & _COMPRESSED))
    return count, last


def _sections(source: BinaryIO) -> list[tuple[int, bytes, int]]:
    out: list[tuple[int, bytes, int]] = []
    offset = _FILE_HEADER
    while len(out) < _MAX_SECTIONS:
        source.seek(offset)
        descriptor = source.read(_DESCRIPTOR)
        if len(descriptor) < _DESCRIPTOR:
            raise ValueError(f"section descriptor cut short at byte {offset}")
        kind = descriptor[:16].rstrip(b"\0")
        following, size = struct.unpack_from("<QQ", descriptor, 16)
        out.append((offset, kind, size))
        if kind in (b"done", b"next") or following <= offset:
            return out
        offset = following
    raise ValueError("section chain does not end")


def _chunk_bytes(chunk: _Chunk, chunk_size: int) -> bytes | None:
    # Bounded both ways: a damaged table can put the last chunk gigabytes before the next
    # section, and a deflate stream of zeros expands a thousand-fold. A sound chunk is stored
    # compressed only when that is smaller, raw with a 4-byte checksum otherwise (then at most
    # 64 bytes of section padding and checksum follow, as below).
    with chunk.segment.open("rb") as stream:
        stream.seek(chunk.offset)
        raw = stream.read(min(chunk.end - chunk.offset, chunk_size + _CHUNK_SLACK))
    if chunk.compressed:
        # One byte more than a chunk holds: such a chunk is damaged, and the caller says unsure.
        return zlib.decompressobj().decompress(raw, chunk_size + 1)
    # An uncompressed chunk ends with the Adler-32 of its data; the section's own checksum or
    # padding may follow, so the data is the longest prefix the checksum confirms.
    for cut in range(len(raw) - 4, max(len(raw) - 68, 0), -1):
        if zlib.adler32(raw[:cut]) == struct.unpack_from("<I", raw, cut)[0]:
            return raw[:cut]
    return None
