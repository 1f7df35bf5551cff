"""What every archive reader shares: the records it yields, the expansion budget, member names,
and the guarded stream that every byte taken out of an archive passes through.

The readers themselves (one module per format) never trust what an archive declares: declared
sizes are only used to refuse a member early, and the real bytes are counted as they are read.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

ENCRYPTED = "encrypted member; not readable without a key"
UNNAMED = "<unnamed>"


class ArchiveError(Exception):
    """The archive as a whole cannot be read (corrupt, unsupported, encrypted headers)."""


class ArchiveBombError(ArchiveError):
    """Expansion passed a limit: total expanded bytes, expansion ratio or member count."""


@dataclass(frozen=True, slots=True)
class ArchiveLimits:
    # Archives inside archives deeper than this are recorded, not opened (enforced by the hasher).
    max_depth: int = 5
    # Bytes taken out of one top-level archive, all nesting levels together.
    max_total_bytes: int = 32 << 30
    # Expanded bytes per byte of the top-level archive...
    max_ratio: float = 250.0
    # ...checked only past this many expanded bytes, so small, very compressible files pass.
    ratio_floor: int = 16 << 20
    # Entries (directories and links included) in one top-level archive, all levels together.
    max_members: int = 1_000_000


@dataclass
class ExpansionBudget:
    """Bytes expanded so far under one top-level archive, nested archives included.

    ``expanded`` counts every byte handed out by a reader at every level: a nested archive's bytes
    count once as a member and again as its own members' bytes. The limits bound the work done.
    Once a limit is passed the budget stays spent, so every later read under the same top-level
    archive fails at once and the whole tree of readers unwinds.
    """

    limits: ArchiveLimits
    compressed_size: int
    expanded: int = 0
    members: int = 0
    notes: list[str] = field(default_factory=list)

    def check(self) -> None:
        """Raise ``ArchiveBombError`` if a limit has been passed."""
        limits = self.limits
        if self.expanded > limits.max_total_bytes:
            raise ArchiveBombError(
                f"archive bomb: expanded size passed the limit of {limits.max_total_bytes} bytes "
                f"(max_total_bytes)"
            )
        if self._ratio_passed(self.expanded):
            raise ArchiveBombError(
                f"archive bomb: {self.expanded} bytes expanded from {self.compressed_size}, past "
                f"the ratio limit of {limits.max_ratio:g}:1 (max_ratio)"
            )
        if self.members > limits.max_members:
            raise ArchiveBombError(
                f"archive bomb: more than {limits.max_members} members (max_members)"
            )

    def add(self, nbytes: int) -> None:
        self.expanded += nbytes
        self.check()

    def add_member(self) -> None:
        self.members += 1
        self.check()

    def refusal(self, declared: int | None) -> str | None:
        """Why a member declaring ``declared`` bytes must not be read, or None if it may be."""
        if declared is None:
            return None
        after = self.expanded + declared
        if after > self.limits.max_total_bytes:
            return (
                f"archive bomb: member declares {declared} bytes, which would pass the limit of "
                f"{self.limits.max_total_bytes} expanded bytes (max_total_bytes); not read"
            )
        if self._ratio_passed(after):
            return (
                f"archive bomb: member declares {declared} bytes, which would pass the ratio "
                f"limit of {self.limits.max_ratio:g}:1 (max_ratio); not read"
            )
        return None

    def _ratio_passed(self, expanded: int) -> bool:
        return expanded > self.limits.ratio_floor and expanded > self.limits.max_ratio * max(
            self.compressed_size, 1
        )


class MemberError(ArchiveError):
    """One member cannot be read, but the container can go on (a disk image's damaged file)."""


@dataclass(frozen=True, slots=True)
class FsTimes:
    """A file's times as its file system keeps them, in UTC; None where it keeps none."""

    modified: datetime | None = None
    accessed: datetime | None = None
    changed: datetime | None = None
    created: datetime | None = None


@dataclass(frozen=True, slots=True)
class ArchiveMember:
    """One entry of an archive (or a file inside a disk image).

    ``open`` gives the member's bytes as a stream, to be called once and read before the next
    member is asked for (streamed formats cannot go back). When it is None the member cannot be
    read and ``error`` says why. ``note`` is for the record (a sanitised name, for instance).
    ``deleted`` and ``times`` come from a file system (disk images); archives leave them unset.
    ``fs_metadata`` marks the file system's own files (NTFS's $MFT, exFAT's $UPCASE_TABLE):
    hashed and recorded apart from the user's files, never analysed as content.
    """

    name: str
    size: int | None
    open: Callable[[], BinaryIO] | None
    error: str | None = None
    note: str | None = None
    deleted: bool = False
    times: FsTimes | None = None
    fs_metadata: bool = False


# What decompressors and the stdlib readers raise on damaged or hostile input.
READ_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    EOFError,
    ValueError,
    NotImplementedError,
    zlib.error,
    lzma.LZMAError,
    struct.error,
    tarfile.TarError,
    zipfile.BadZipFile,
)


def describe(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc, EOFError):
        return f"truncated ({text})" if text else "truncated"
    return text or type(exc).__name__


class GuardedReader(io.RawIOBase):
    """Bytes out of an archive: counted against the budget, read errors raised as ArchiveError."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        what: str,
        budget: ExpansionBudget | None,
        on_close: Callable[[], object] | None = None,
    ) -> None:
        super().__init__()
        self._read = read
        self._what = what
        self._budget = budget
        self._on_close = on_close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._budget is not None:
            self._budget.check()  # a spent budget refuses even a zero-length member
        try:
            data = self._read(len(buffer))
        except ArchiveError:
            raise
        except READ_ERRORS as exc:
            raise ArchiveError(f"{self._what} unreadable: {describe(exc)}") from exc
        size = len(data)
        memoryview(buffer)[:size] = data
        if self._budget is not None:
            self._budget.add(size)
        return size

    def close(self) -> None:
        if not self.closed and self._on_close is not None:
            self._on_close()
        super().close()


def guarded(
    read: Callable[[int], bytes],
    what: str,
    budget: ExpansionBudget | None,
    on_close: Callable[[], object] | None = None,
) -> BinaryIO:
    """A buffered ``GuardedReader``: ``read(n)`` gives n bytes unless the member ends first."""
    return io.BufferedReader(GuardedReader(read, what, budget, on_close))


def sized_stream(
    read_at: Callable[[int, int], bytes], size: int, what: str, chunk: int = 1 << 20
) -> BinaryIO:
    """A guarded stream of a file system's file of ``size`` bytes, read in pieces of at most
    ``chunk`` by ``read_at(offset, length)``, which raises ``MemberError`` when a read fails.

    Not counted against an archive budget: a file system's files are bounded by their image.
    """
    offset = 0

    def read(length: int) -> bytes:
        nonlocal offset
        length = min(length, size - offset, chunk)
        if length <= 0:
            return b""
        data = read_at(offset, length)
        if not data:
            raise MemberError(f"read stopped at byte {offset} of {size}")
        offset += len(data)
        return data

    return guarded(read, what, None)


_SEPARATORS = re.compile(r"[/\\]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def member_name(raw: str) -> tuple[str, str | None]:
    """The name to show for a member and a note when it had to be changed.

    ``raw`` may carry surrogate escapes (tar, undecodable bytes): those bytes are shown as
    ``\\xNN``, as are control characters. A name that would climb out of an extraction folder
    (absolute, a drive letter, ``..`` parts, with either slash) is shown with those parts removed;
    the member is still read, since it is evidence, and nothing is ever written to disk anyway.
    """
    notes: list[str] = []
    try:
        encoded = raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # lone surrogates that are not escapes, e.g. from UTF-16 names
        encoded = raw.encode("utf-8", "backslashreplace")
    decoded = encoded.decode("utf-8", "backslashreplace")
    # Control and format characters (newlines, right-to-left overrides that disguise an
    # extension) are shown as escapes too.
    text = "".join(c if c.isprintable() else _escape(c) for c in decoded)
    if text != raw:
        notes.append(
            "member name has bytes that are not UTF-8 or unprintable characters; shown escaped"
        )
    parts = _SEPARATORS.split(text)
    if text[:1] in ("/", "\\") or _DRIVE.match(text) or ".." in parts:
        kept = [p for p in _SEPARATORS.split(_DRIVE.sub("", text)) if p not in ("", ".", "..")]
        notes.append(f"path traversal name in archive: '{text}'")
        text = "/".join(kept)
    if not text:
        notes.append("member has no name")
    return text or UNNAMED, "; ".join(notes) or None


def _escape(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def make_member(
    raw_name: str,
    size: int | None,
    opener: Callable[[], BinaryIO] | None = None,
    error: str | None = None,
    *,
    deleted: bool = False,
    times: FsTimes | None = None,
) -> ArchiveMember:
    name, note = member_name(raw_name)
    return ArchiveMember(name, size, opener, error, note, deleted, times)
