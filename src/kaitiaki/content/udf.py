"""UDF file systems, read with pycdlib (PyPI ``pycdlib``, LGPL-2.1-only); TSK has no UDF.

pycdlib reads the UDF side of a UDF bridge image (ISO 9660 and UDF over the same files: DVDs,
``genisoimage -udf``, ``mkisofs -udf``). On a bridge image the UDF side is the one walked: it
is what Windows and macOS show, it keeps full Unicode names (ISO 9660 keeps 8.3 names unless
Joliet or Rock Ridge extends them) and a file's size past 4 GiB in one entry. A bridge whose UDF
side pycdlib cannot read falls back to TSK's ISO 9660 walk (``disk``). A UDF-only image (a
Blu-ray, a ``mkudffs`` volume) has no ISO 9660 descriptor, which pycdlib requires to open any
image: it is recorded as not read, with why.

A file is found again by its UDF File Entry's location (the logical block of its ICB), so a
scan can list an image in one process and read its files in others. pycdlib reads a file as
one run from its first allocation descriptor; a file whose allocation descriptors are not
contiguous is recorded as not read rather than read wrong. UDF keeps no deleted files pycdlib
lists. Folder loops are refused by pycdlib when it opens the image; depth is bounded here.
"""

from __future__ import annotations

import io
import itertools
import struct
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from typing import Any, BinaryIO

import pycdlib  # type: ignore[import-untyped, unused-ignore]
from pycdlib.pycdlibexception import PyCdlibException  # type: ignore[import-untyped, unused-ignore]
from pycdlib.pycdlibio import PyCdlibIO  # type: ignore[import-untyped, unused-ignore]

from kaitiaki.content.archivebase import (
    ArchiveError,
    ArchiveMember,
    FsTimes,
    MemberError,
    make_member,
    sized_stream,
)
from kaitiaki.content.diskfiles import MAX_FOLDER_DEPTH

_READ_CHUNK = 1 << 20
# What pycdlib raises on bytes it does not accept (its own errors, and struct/index errors on
# truncated descriptors).
_ERRORS = (PyCdlibException, OSError, ValueError, IndexError, KeyError, struct.error)
_UNSPECIFIED_ZONE = -2047

Found = tuple[ArchiveMember, int | None]


class UdfError(ArchiveError):
    """The UDF side of the image cannot be opened."""


def open_udf(stream: BinaryIO) -> Any:
    """A pycdlib reader over ``stream`` (a UDF bridge image), or UdfError saying why not."""
    iso = pycdlib.PyCdlib()
    try:
        iso.open_fp(io.BufferedReader(_Unclosed(stream)))
    except _ERRORS as exc:
        raise UdfError(f"pycdlib cannot open it ({_message(exc)})") from exc
    if not iso.has_udf():
        raise UdfError("no UDF descriptors pycdlib reads")
    return iso


def walk_udf(stream: BinaryIO, prefix: str, media_size: int) -> Iterator[Found]:
    """The UDF side's files in name order, or UdfError when it cannot be opened at all."""
    iso = open_udf(stream)
    try:
        root = iso.get_record(udf_path="/")
    except _ERRORS as exc:
        raise UdfError(f"UDF root folder unreadable ({_message(exc)})") from exc
    for member, entry in _folder(root, prefix, 0, media_size, iso.logical_block_size):
        yield member, None if entry is None else int(entry.extent_location())


def _folder(
    folder: Any, path: str, depth: int, media_size: int, block: int
) -> Iterator[tuple[ArchiveMember, Any]]:
    children: list[tuple[str, Any]] = []
    for descriptor in folder.fi_descs.values():
        entry = descriptor.file_entry
        if entry is None or entry.is_dot() or entry.is_dotdot():
            continue  # the parent's entry, listed in every folder
        name = entry.file_identifier().decode(entry.file_ident.encoding, "replace")
        children.append((name, entry))
    for name, entry in sorted(children, key=lambda pair: pair[0]):
        child = path + name
        if entry.is_dir():
            if depth + 1 > MAX_FOLDER_DEPTH:
                reason = f"folders nested deeper than {MAX_FOLDER_DEPTH}; not walked"
                yield ArchiveMember(child + "/", None, None, reason), None
            else:
                yield from _folder(entry, child + "/", depth + 1, media_size, block)
        elif entry.is_file():
            size = int(entry.get_data_length())
            error = _refusal(entry, size, media_size, block)
            member = make_member(child, size, error=error, times=_times(entry))
            yield member, None if error else entry


def _refusal(entry: Any, size: int, media_size: int, block: int) -> str | None:
    if size > media_size:
        return f"declares {size} bytes, more than the whole image ({media_size}); not read"
    if size > 0 and entry.inode is None:
        return "its data is not where pycdlib reads a file's data (embedded or unsupported)"
    runs = [(int(ad.log_block_num), int(ad.extent_length)) for ad in entry.alloc_descs or []]
    for (start, length), (after, _) in itertools.pairwise(runs):
        if start + -(-length // block) != after:
            return "its extents are not contiguous (pycdlib reads one run); not read"
    return None


def _times(entry: Any) -> FsTimes:
    return FsTimes(
        modified=_utc(entry.mod_time),
        accessed=_utc(entry.access_time),
        changed=_utc(entry.attr_time),
    )


def _utc(stamp: Any) -> datetime | None:
    """A UDF timestamp in UTC; one with no zone recorded is taken as UTC (as Linux does)."""
    if stamp is None:
        return None
    try:
        zone = 0 if stamp.tz == _UNSPECIFIED_ZONE else int(stamp.tz)
        local = datetime(
            stamp.year,
            stamp.month,
            stamp.day,
            stamp.hour,
            stamp.minute,
            stamp.second,
            stamp.centiseconds * 10_000 + stamp.hundreds_microseconds * 100 + stamp.microseconds,
            tzinfo=timezone(timedelta(minutes=zone)),
        )
    except (ValueError, OverflowError, TypeError):
        return None
    return local.astimezone(UTC)


class UdfFiles:
    """Listed files' content: the image opened once, files found by their File Entry's block."""

    def __init__(self, stream: BinaryIO) -> None:
        self._iso = open_udf(stream)
        self._entries: dict[int, Any] | None = None

    def member(self, member: ArchiveMember, location: int) -> ArchiveMember:
        if self._entries is None:
            root = self._iso.get_record(udf_path="/")
            found = _folder(root, "", 0, 1 << 62, self._iso.logical_block_size)
            self._entries = {
                int(entry.extent_location()): entry for _, entry in found if entry is not None
            }
        entry = self._entries.get(location)
        if entry is None:
            raise MemberError(f"UDF file entry at block {location} not found again")
        if entry.inode is None:  # an empty file: nothing to read
            return replace(member, open=partial(io.BytesIO, b""))
        handle = PyCdlibIO(entry.inode, self._iso.logical_block_size)
        return replace(member, open=partial(_open, handle, member.size or 0, member.name))


def _open(handle: Any, size: int, path: str) -> BinaryIO:
    opened = handle.__enter__()

    def read_at(offset: int, length: int) -> bytes:
        # pycdlib's file reads in order, as sized_stream asks: the offset is for the message.
        try:
            data: bytes = opened.read(length)
        except _ERRORS as exc:
            raise MemberError(f"read failed at byte {offset} of {size}: {_message(exc)}") from exc
        return data

    return sized_stream(read_at, size, f"file in UDF image ({path})", _READ_CHUNK)


class _Unclosed(io.RawIOBase):
    """``stream`` for pycdlib, which may close what it is given; the caller closes it."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._stream.read(len(memoryview(buffer)))
        memoryview(buffer).cast("B")[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._stream.seek(offset, whence)

    def tell(self) -> int:
        return self._stream.tell()


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:300] or type(exc).__name__
