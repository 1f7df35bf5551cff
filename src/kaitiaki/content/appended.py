"""Archives that do not start at byte 0: self-extracting executables and zips with data before
them (a shell script or a PE stub, padding an SFX maker left, a file simply prepended).

Magic bytes at the start say "executable" or nothing at all, so these are found from the other
end. A zip is read from its end record anyway: the end-of-central-directory record sits in the
file's last 64 KiB (22 bytes plus a comment of at most 65,535), and it tells where the central
directory starts relative to the zip; the difference from where it really is, is the data
before the zip. ``zipfile`` makes the same correction when it reads, so once found here the zip
is read like any other.

A RAR archive behind an SFX stub starts with its own signature somewhere inside the file; it is
recognised (signature and a valid first header, so that a RAR tool that merely contains the
signature as a constant is not taken for an archive) and recorded with the reason it is not
read: kaitiaki has no RAR reader.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from kaitiaki.content.kinds import ContentKind, Detected

# What an archive may hide behind: nothing recognised, or an executable (SFX stubs).
HOSTS = frozenset(
    {
        "application/octet-stream",
        "application/x-msdownload",
        "application/x-executable",
        "application/x-mach-binary",
    }
)
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP64_LOCATOR = b"PK\x06\x07"
_ZIP64_LOCATOR_SIZE = 20
_ZIP64_END = b"PK\x06\x06"
_ZIP64_END_SIZE = 56  # without its extensible data, as zipfile assumes
_CENTRAL = b"PK\x01\x02"
_CENTRAL_SIZE = 46
# The end record, its longest comment and the zip64 records before it.
TAIL_SIZE = _EOCD_SIZE + 0xFFFF + _ZIP64_LOCATOR_SIZE + _ZIP64_END_SIZE

RAR4 = b"Rar!\x1a\x07\x00"
RAR5 = b"Rar!\x1a\x07\x01\x00"
RAR_SIGNATURE = b"Rar!\x1a\x07"
_RAR4_MAIN = 0x73
_RAR5_MAIN = 1
NO_RAR_READER = "RAR archive: its members are not read (kaitiaki has no RAR reader)"


@dataclass(frozen=True, slots=True)
class Appended:
    """An archive found inside a file that does not start with it."""

    detected: Detected
    offset: int  # bytes before the archive
    note: str


def may_hold_archive(detected: Detected) -> bool:
    """Whether a file detected as ``detected`` from its start is worth looking into."""
    return detected.kind == ContentKind.OTHER and detected.mime in HOSTS


def zip_at_end(tail: bytes, size: int) -> Appended | None:
    """The zip that ends the file of ``size`` bytes whose last bytes are ``tail``, if any.

    Strict on purpose, so that a file that merely contains "PK\\5\\6" is not taken for a zip: the
    end record's comment must end the file, the directory must lie on disk 0 with at least one
    entry, be large enough for its entries and fit before the end record, and where its start
    falls inside ``tail`` it must begin with a central-directory signature.
    """
    base = size - len(tail)  # file offset of tail[0]
    search = len(tail)
    while (at := tail.rfind(_EOCD, 0, search)) >= 0:
        search = at + len(_EOCD) - 1
        found = _zip_from_end_record(tail, base, at)
        if found is not None:
            return found
    return None


def _zip_from_end_record(tail: bytes, base: int, at: int) -> Appended | None:
    record = tail[at : at + _EOCD_SIZE]
    if len(record) < _EOCD_SIZE:
        return None
    _, disk, cd_disk, here, total, cd_size, cd_offset, comment = struct.unpack("<4sHHHHIIH", record)
    after = len(tail) - (at + _EOCD_SIZE + comment)  # padding after the zip, as zipfile allows
    if after < 0 or disk != 0 or cd_disk != 0 or here != total:
        return None
    directory_end = at  # where the central directory (or the zip64 records) ends, in tail
    zip64 = _zip64_directory(tail, at)  # zipfile prefers the zip64 values wherever they are
    if zip64 is not None:
        total, cd_size, cd_offset, directory_end = zip64
    elif 0xFFFFFFFF in (cd_size, cd_offset) or total == 0xFFFF:
        return None
    if total == 0 or cd_size < total * _CENTRAL_SIZE:
        return None
    start = base + directory_end - cd_size  # the central directory's real offset in the file
    prefix = start - cd_offset
    if start < 0 or prefix < 0:
        return None
    if start >= base and tail[start - base : start - base + 4] != _CENTRAL:
        return None
    where = [f"{prefix} bytes of other data before it"] if prefix else []
    where += [f"{after} bytes after it"] if after else []
    shown = f" ({' and '.join(where)})" if where else ""
    return Appended(
        Detected(ContentKind.ARCHIVE, "application/zip"),
        prefix,
        f"zip found by its end record in a file that does not start as a zip{shown}: a "
        f"self-extracting archive or data added to a zip; its members are read",
    )


def _zip64_directory(tail: bytes, at: int) -> tuple[int, int, int, int] | None:
    """(entries, directory size, directory offset, where the directory ends in tail)."""
    locator = at - _ZIP64_LOCATOR_SIZE
    end = locator - _ZIP64_END_SIZE
    if end < 0 or tail[locator : locator + 4] != _ZIP64_LOCATOR:
        return None
    if tail[end : end + 4] != _ZIP64_END:
        return None
    here, total, cd_size, cd_offset = struct.unpack_from("<QQQQ", tail, end + 24)
    if here != total:
        return None
    return int(total), int(cd_size), int(cd_offset), end


def rar_at(data: bytes, offset: int) -> bool:
    """Whether a RAR archive really starts at ``data[offset]``: its signature, then a main
    archive header whose CRC matches (RAR 5) or whose type is the main header's (RAR 4)."""
    if data.startswith(RAR5, offset):
        return _rar5_main_header(data, offset + len(RAR5))
    if data.startswith(RAR4, offset):
        header = data[offset + len(RAR4) : offset + len(RAR4) + 13]
        if len(header) < 13 or header[2] != _RAR4_MAIN:
            return False
        (crc, _, _, head_size) = struct.unpack_from("<HBHH", header)
        body = data[offset + len(RAR4) + 2 : offset + len(RAR4) + head_size]
        return bool(head_size >= 13 and (zlib.crc32(body) & 0xFFFF) == crc)
    return False


def _rar5_main_header(data: bytes, at: int) -> bool:
    if len(data) < at + 6:
        return False
    (crc,) = struct.unpack_from("<I", data, at)
    size, used = _vint(data, at + 4)
    if size is None or size == 0 or size > 1 << 21:
        return False
    body = data[at + 4 : at + 4 + used + size]
    if len(body) < used + size or zlib.crc32(body) != crc:
        return False
    kind, _ = _vint(data, at + 4 + used)
    return kind == _RAR5_MAIN


def _vint(data: bytes, at: int) -> tuple[int | None, int]:
    """RAR 5's variable-length integer at ``at``: (value, bytes used); None if malformed."""
    value = 0
    for used in range(10):
        if at + used >= len(data):
            return None, 0
        byte = data[at + used]
        value |= (byte & 0x7F) << (7 * used)
        if not byte & 0x80:
            return value, used + 1
    return None, 0


def rar_note(offset: int) -> str:
    return f"RAR archive found at byte {offset} (a self-extracting RAR archive)"


_RAR_LOOKAHEAD = 512  # bytes kept after a signature to check the header that follows it
RAR_MIME = "application/x-rar-compressed"  # as filetype names a RAR at the start of a file


class Finder:
    """Looks for an archive inside a file while it is read forward, chunk by chunk: a zip by
    its end record in the last bytes, a RAR by its signature and first header anywhere."""

    def __init__(self) -> None:
        self._tail = b""
        self._carry = b""
        self._carry_at = 0  # file offset of _carry[0]
        self._rar: int | None = None

    def feed(self, chunk: bytes) -> None:
        self._tail = (
            chunk[-TAIL_SIZE:] if len(chunk) >= TAIL_SIZE else (self._tail + chunk)[-TAIL_SIZE:]
        )
        if self._rar is not None:
            return
        data = self._carry + chunk
        self._scan(data, len(data) - _RAR_LOOKAHEAD)
        keep = min(len(data), _RAR_LOOKAHEAD)
        self._carry_at += len(data) - keep
        self._carry = data[len(data) - keep :]

    def finish(self, size: int) -> Appended | None:
        """What was found in the file of ``size`` bytes just fed: a zip first (its end record is
        definite), else a RAR, else None."""
        found = zip_at_end(self._tail, size)
        if found is not None:
            return found
        if self._rar is None:
            self._scan(self._carry, len(self._carry))
        if self._rar is None:
            return None
        return Appended(Detected(ContentKind.ARCHIVE, RAR_MIME), self._rar, rar_note(self._rar))

    def _scan(self, data: bytes, limit: int) -> None:
        at = data.find(RAR_SIGNATURE)
        while 0 <= at < limit:
            if rar_at(data, at):
                self._rar = self._carry_at + at
                return
            at = data.find(RAR_SIGNATURE, at + 1)
