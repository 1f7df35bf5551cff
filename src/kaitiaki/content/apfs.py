"""APFS containers, read with libfsapfs (PyPI ``libfsapfs-python``, LGPL-3.0-or-later).

The Sleuth Kit's Python binding cannot open APFS pools, so an APFS container (a whole image, or
a GPT partition holding one) is walked here instead, beside TSK's walk of every other file
system. Each volume of the container is a folder ``vN/`` (N from 1, in the container's order),
so ``image.dmg!/v1/Users/a.jpg``, or ``image.dd!/p2/v1/...`` inside partition 2.

A file is found again by its volume's index and its identifier (inode number), so a scan can
list an image in one process and read its files in others. Folders already being walked are not
walked again (loops in damaged containers) and depth is bounded as for TSK's walk. An encrypted
volume is recorded as needing a password, never opened: libfsapfs crashes (SIGSEGV) when a
locked volume's root folder is asked for. libfsapfs does not report deleted files or snapshots;
only the current state of each volume is read. Links, devices and FIFOs are left out, as TSK's
walk leaves them out. Files are streamed, never held whole.
"""

from __future__ import annotations

import importlib
import stat
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, BinaryIO

from kaitiaki.content.archivebase import (
    ArchiveError,
    ArchiveMember,
    FsTimes,
    MemberError,
    make_member,
    sized_stream,
)
from kaitiaki.content.diskfiles import MAX_FOLDER_DEPTH, SPARSE_HOLES_LIMIT, tsk_message

_READ_CHUNK = 1 << 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENCRYPTED = "encrypted: needs a password; not read"

# A listed file: its member (no opener yet), its identifier (None: nothing to read) and the
# index of its volume in the container.
Found = tuple[ArchiveMember, int | None, int]


class ApfsError(ArchiveError):
    """The container as a whole cannot be read (libfsapfs missing, or it refuses the bytes)."""


def _pyfsapfs() -> Any:
    try:
        return importlib.import_module("pyfsapfs")
    except ImportError as exc:
        raise ApfsError(
            "reading APFS needs pyfsapfs (PyPI libfsapfs-python), which is not installed"
        ) from exc


def open_container(stream: BinaryIO) -> Any:
    """A libfsapfs container over ``stream`` (kept open by the caller while it is used)."""
    container = _pyfsapfs().container()
    try:
        container.open_file_object(stream)
    except (OSError, RuntimeError, ValueError) as exc:
        raise ApfsError(f"APFS container unreadable (libfsapfs: {_short(exc)})") from exc
    return container


def walk_container(stream: BinaryIO, prefix: str, media_size: int) -> Iterator[Found]:
    """Every volume's files, in name order; a volume or folder that fails is one error record."""
    try:
        container = open_container(stream)
        count = int(container.number_of_volumes)
    except (ApfsError, OSError) as exc:
        yield ArchiveMember(prefix, None, None, str(exc)), None, 0
        return
    for index in range(count):
        folder = f"{prefix}v{index + 1}/"
        try:
            volume = container.get_volume(index)
            name = str(volume.name)
            if volume.is_locked():
                yield (
                    ArchiveMember(folder, None, None, f"APFS volume {name!r}: {ENCRYPTED}"),
                    None,
                    index,
                )
                continue
            root = volume.get_root_directory()
        except (OSError, RuntimeError, ValueError) as exc:
            reason = f"APFS volume {index + 1} unreadable (libfsapfs: {_short(exc)})"
            yield ArchiveMember(folder, None, None, reason), None, index
            continue
        walk = _VolumeWalk(index, media_size)
        walk.walking.add(int(root.identifier))
        yield from walk.folder(root, folder, 0)


class _VolumeWalk:
    def __init__(self, index: int, media_size: int) -> None:
        self.index = index
        self.media_size = media_size
        self.walking: set[int] = set()

    def folder(self, entry: Any, path: str, depth: int) -> Iterator[Found]:
        children: list[tuple[str, Any]] = []
        try:
            for number in range(int(entry.number_of_sub_file_entries)):
                child = entry.get_sub_file_entry(number)
                children.append((str(child.name), child))
        except (OSError, RuntimeError, ValueError) as exc:  # what was listed is kept
            reason = f"folder not fully read (libfsapfs: {_short(exc)})"
            yield ArchiveMember(path, None, None, reason), None, self.index
        for name, child in sorted(children, key=lambda pair: pair[0]):
            yield from self._entry(child, path + name, depth)

    def _entry(self, entry: Any, path: str, depth: int) -> Iterator[Found]:
        try:
            mode = int(entry.file_mode)
            identifier = int(entry.identifier)
        except (OSError, RuntimeError, ValueError) as exc:
            reason = f"metadata unreadable (libfsapfs: {_short(exc)})"
            yield make_member(path, None, error=reason), None, self.index
            return
        if stat.S_ISDIR(mode):
            if identifier in self.walking:
                reason = "folder loop: refers back to a folder above it"
                yield ArchiveMember(path + "/", None, None, reason), None, self.index
            elif depth + 1 > MAX_FOLDER_DEPTH:
                reason = f"folders nested deeper than {MAX_FOLDER_DEPTH}; not walked"
                yield ArchiveMember(path + "/", None, None, reason), None, self.index
            else:
                self.walking.add(identifier)
                try:
                    yield from self.folder(entry, path + "/", depth + 1)
                finally:
                    self.walking.discard(identifier)
        elif stat.S_ISREG(mode):
            yield self._file(entry, path, identifier)

    def _file(self, entry: Any, path: str, identifier: int) -> Found:
        try:
            size = int(entry.size)
            times = _times(entry)
            error = _refusal(entry, size, self.media_size)
        except (OSError, RuntimeError, ValueError) as exc:
            reason = f"metadata unreadable (libfsapfs: {_short(exc)})"
            return make_member(path, None, error=reason), None, self.index
        member = make_member(path, size, error=error, times=times)
        return member, None if error else identifier, self.index


def _refusal(entry: Any, size: int, media_size: int) -> str | None:
    """Why a file is not read: a size past the image that its extents do not explain (a
    sparse or compressed file's holes are read as what libfsapfs gives, within a limit)."""
    if size <= media_size:
        return None
    allocated = sum(int(entry.get_extent(i)[1]) for i in range(int(entry.number_of_extents)))
    if allocated > media_size:
        return (
            f"declares {size} bytes and its extents take {allocated}, more than the whole "
            f"image ({media_size}); not read (damaged metadata)"
        )
    if size - allocated > SPARSE_HOLES_LIMIT:
        return (
            f"declares {size} bytes, more than the whole image ({media_size}), of which "
            f"{allocated} in extents: past the limit for holes or compression "
            f"({SPARSE_HOLES_LIMIT}); not read (damaged metadata?)"
        )
    return None


def _times(entry: Any) -> FsTimes:
    return FsTimes(
        modified=_utc(entry.get_modification_time_as_integer()),
        accessed=_utc(entry.get_access_time_as_integer()),
        changed=_utc(entry.get_inode_change_time_as_integer()),
        created=_utc(entry.get_creation_time_as_integer()),
    )


def _utc(nanoseconds: int | None) -> datetime | None:
    """APFS keeps nanoseconds since 1970 in UTC; 0 (or none) means not kept."""
    if not nanoseconds:
        return None
    try:
        return _EPOCH + timedelta(microseconds=int(nanoseconds) // 1000)
    except OverflowError:
        return None


class ApfsFiles:
    """Listed files' content: the container opened once, files found by their identifier."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream  # kept: libfsapfs reads through it
        self._container = open_container(stream)
        self._volumes: dict[int, Any] = {}

    def member(self, member: ArchiveMember, index: int, identifier: int) -> ArchiveMember:
        volume = self._volumes.get(index)
        try:
            if volume is None:
                volume = self._volumes[index] = self._container.get_volume(index)
            entry = volume.get_file_entry_by_identifier(identifier)
        except (OSError, RuntimeError, ValueError) as exc:
            raise MemberError(
                f"APFS file {identifier} of volume {index + 1} not found again "
                f"(libfsapfs: {_short(exc)})"
            ) from exc
        if entry is None:
            raise MemberError(f"APFS file {identifier} of volume {index + 1} not found again")
        return replace(member, open=partial(_open, entry, member.size or 0, member.name))


def _open(entry: Any, size: int, path: str) -> BinaryIO:
    def read_at(offset: int, length: int) -> bytes:
        try:
            data: bytes = entry.read_buffer_at_offset(length, offset)
        except (OSError, RuntimeError, ValueError) as exc:
            raise MemberError(
                f"read failed at byte {offset} of {size} (libfsapfs: {_short(exc)})"
            ) from exc
        return data

    return sized_stream(read_at, size, f"file in APFS volume ({path})", _READ_CHUNK)


def _short(exc: BaseException) -> str:
    """libfsapfs chains its messages ("f: unable to read. g: invalid ..."): the first two."""
    parts = [part.strip() for part in tsk_message(exc).split(". ") if part.strip()]
    return ". ".join(parts[:2])[:300]
