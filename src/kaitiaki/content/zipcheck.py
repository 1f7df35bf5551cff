"""zip structure checks that ``zipfile`` does not make on every Python version.

Overlapping entries: David Fifield's "better zip bomb" (2019) points many central-directory
entries at overlapping or shared compressed bytes, so that a ~40 KB file expands to terabytes
without any nesting. CPython only refuses such entries from 3.12 on (and 3.11.x patch releases
after ours), so the check is made here, from the central directory alone, on every version.

Encrypted central directory: PKWARE's Strong Encryption Specification can encrypt the central
directory itself (and mask the local headers), so no member name or size can be known without
the key; ``zipfile`` only sees a "bad magic number". Such a zip is unreadable as a whole, which is
not the same as a readable archive with encrypted members.
"""

from __future__ import annotations

import struct
import zipfile
from typing import BinaryIO

_LOCAL_HEADER = 30  # the fixed part of a local file header; name and extra field follow
_LOCAL_SIGNATURE = b"PK\x03\x04"
_ARCHIVE_EXTRA_SIGNATURE = b"PK\x06\x08"  # written just before an encrypted central directory
# General purpose bits 0 (encrypted), 6 (strong encryption) and 13 (local header values
# masked, which goes with an encrypted central directory).
_FLAGS_MASKED = 0x1 | 0x40 | 0x2000
_STRONG_VERSION = 50  # "version needed to extract" 5.0: strong encryption

ENCRYPTED_DIRECTORY = (
    "its central directory is encrypted (PKWARE strong encryption): member names, sizes and "
    "contents cannot be read without the key"
)


def overlapping(archive: zipfile.ZipFile) -> dict[int, str]:
    """For each entry (by index in ``infolist()``) whose bytes run into another entry or into the
    central directory, why it must not be read.

    The rule is CPython 3.12's: each entry ends where the next one (by header offset) begins, or
    at the central directory; among entries sharing one header offset, the first listed is
    bounded by the next offset and the others by the shared one. An entry occupies at least its
    30-byte local header plus its compressed size (``zipfile`` has already added any data before
    the zip), a bound no well-formed zip passes. So the innermost entry of a quoted overlap, and
    the first of entries sharing a header, stay readable, as in CPython.
    """
    infos = archive.infolist()
    directory = getattr(archive, "start_dir", None)  # set by ZipFile when reading, untyped
    order = sorted(range(len(infos)), key=lambda i: (infos[i].header_offset, -i))
    found: dict[int, str] = {}
    for position, index in enumerate(order):
        info = infos[index]
        end = info.header_offset + _LOCAL_HEADER + info.compress_size
        if position + 1 < len(order):
            other = infos[order[position + 1]]
            if end > other.header_offset:
                found[index] = (
                    f"overlapping zip entries: this entry's bytes {info.header_offset}-{end} run "
                    f"into entry '{other.orig_filename}' at byte {other.header_offset} (the "
                    f"non-recursive zip bomb construction: entries sharing compressed data); "
                    f"not read"
                )
        elif isinstance(directory, int) and end > directory:
            found[index] = (
                f"zip entry's bytes {info.header_offset}-{end} run past the start of the central "
                f"directory at byte {directory}; not read"
            )
    return found


def encrypted_directory(stream: BinaryIO) -> bool:
    """Whether the zip in ``stream`` (from its start) has an encrypted central directory.

    Looked for when ``zipfile`` cannot read the directory: the first local header masked as the
    specification says (flag bits 0, 6 and 13, version 5.0 or later, CRC and size zeroed), or
    the archive extra data record that precedes an encrypted directory at the offset the end
    record gives. The stream is rewound.
    """
    start = stream.tell()
    try:
        stream.seek(0)
        head = stream.read(_LOCAL_HEADER)
        if len(head) == _LOCAL_HEADER and head[:4] == _LOCAL_SIGNATURE:
            version, flags, _, _, _, crc, _, size = struct.unpack_from("<HHHHHIII", head, 4)
            # A masked header: encrypted, strong, masked, spec 5.0 or later, CRC and size zero.
            masked = flags & _FLAGS_MASKED == _FLAGS_MASKED
            if masked and version & 0xFF >= _STRONG_VERSION and crc == 0 and size == 0:
                return True
        offset = _directory_offset(stream)
        if offset is not None:
            stream.seek(offset)
            return stream.read(4) == _ARCHIVE_EXTRA_SIGNATURE
        return False
    finally:
        stream.seek(start)


def _directory_offset(stream: BinaryIO) -> int | None:
    """The central directory's offset from a comment-less end record (zip64 when it says so)."""
    size = stream.seek(0, 2)
    if size < 22:
        return None
    stream.seek(size - 22)
    end = stream.read(22)
    if end[:4] != b"PK\x05\x06":
        return None
    (offset,) = struct.unpack_from("<I", end, 16)
    if offset != 0xFFFFFFFF or size < 42:
        return int(offset)
    stream.seek(size - 42)
    locator = stream.read(20)
    if locator[:4] != b"PK\x06\x07":
        return None
    (record,) = struct.unpack_from("<Q", locator, 8)
    if record > size - 56:  # also keeps seek() from a value past 2**63 (OverflowError)
        return None
    stream.seek(record)
    zip64 = stream.read(56)
    if len(zip64) < 56 or zip64[:4] != b"PK\x06\x06":
        return None
    (offset64,) = struct.unpack_from("<Q", zip64, 48)
    return int(offset64) if offset64 <= size else None
