"""Files inside disk images (dd/raw, E01): every file system's files, deleted ones included.

Paths follow archive members: ``image.dd!/DCIM/a.jpg`` for a file system that fills the image,
``image.dd!/p1/DCIM/a.jpg`` for one in partition 1 of a partitioned image (MBR/GPT; ``pN`` is
the partition's number as Linux counts it: table slot + 1, logical partitions from 5). Deleted
files carry ``deleted=True``; TSK's ``$OrphanFiles`` folder holds deleted files whose folder is
unknown. Times are what TSK reports, as UTC: FAT keeps local wall-clock times with no zone (and no
change time), so FAT times are that wall clock labelled UTC, whatever the examiner's zone is.

Guards: a folder already being walked is not walked again (loops in damaged or hostile images),
folder depth is bounded, a file declaring more bytes than the whole image is refused, and a
deleted file whose blocks the file system no longer maps is recorded as not recoverable.
Links, devices and TSK's virtual files ($MBR, $FAT1) are not files to hash and are left out, as
are NTFS's own metadata files ($MFT, $LogFile, ...: MFT entries below 24).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import pytsk3  # type: ignore[import-not-found, unused-ignore]

from kaitiaki.content.archivebase import (
    ArchiveMember,
    MemberError,
    guarded,
    make_member,
)
from kaitiaki.content.diskimage import DiskImageError, open_image
from kaitiaki.content.diskmagic import file_system_at_start
from kaitiaki.content.disktimes import fs_times, utc_clock
from kaitiaki.content.diskwatch import watched

MAX_FOLDER_DEPTH = 256
# TSK fails with OSError; a failing read callback (a damaged E01 chunk) comes out as RuntimeError.
_TSK_ERRORS = (OSError, RuntimeError)
NOT_RECOVERABLE = "content not recoverable: deleted, and the file system no longer maps its blocks"
_NTFS_FIRST_USER_ENTRY = 24
_REG = int(pytsk3.TSK_FS_META_TYPE_REG)
_DIRS = (int(pytsk3.TSK_FS_META_TYPE_DIR), int(pytsk3.TSK_FS_META_TYPE_VIRT_DIR))
_NAME_REG = int(pytsk3.TSK_FS_NAME_TYPE_REG)
_NAME_UNALLOC = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
_NONRESIDENT = int(pytsk3.TSK_FS_ATTR_NONRES)
_NO_BLOCK = int(pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE) | int(pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER)
_DATA_TYPES = (
    int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT),
    int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA),
    int(pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA),
)
_FAT_TYPES = {
    int(pytsk3.TSK_FS_TYPE_FAT12),
    int(pytsk3.TSK_FS_TYPE_FAT16),
    int(pytsk3.TSK_FS_TYPE_FAT32),
    int(pytsk3.TSK_FS_TYPE_EXFAT),
}


@dataclass(frozen=True, slots=True)
class _Volume:
    """A file system inside the image: where it starts and the path prefix of its files."""

    prefix: str
    offset: int
    label: str


@dataclass(frozen=True, slots=True)
class DiskEntry:
    """A listed file without its content: what the file system says of it (``member``, with no
    opener) and where its bytes are: its file system's byte offset in the image (``volume``) and
    its metadata address (inode, MFT entry, FAT entry); ``address`` is None when there is
    nothing to read (a failed folder, a file not recoverable). Small and picklable, so a scan
    lists an image in one process and reads its files in others."""

    member: ArchiveMember
    volume: int = 0
    address: int | None = None


# A listed member without an opener, the TSK file to read it from (None: nothing to read) and
# the byte offset of its file system in the image.
_Listed = tuple[ArchiveMember, Any, int]


def iter_disk_files(
    stream: BinaryIO, mime: str, size: int, original: Path | None = None
) -> Iterator[ArchiveMember]:
    """The files of every file system in the disk image read from ``stream`` (seekable).

    ``size`` is the stream's length; ``original`` the evidence file it came from, if any (an E01
    set's other segments lie beside it). A partition without a readable file system is one
    member with an error; an image with none at all raises ``DiskImageError``. The file systems
    are walked in a watched child process (``diskwatch``); files are read here.
    """
    with ExitStack() as stack:
        files = _ImageFiles(stream, mime, size, original, stack)
        for entry in list_disk_files(stream, mime, size, original):
            yield files.member(entry)


def list_disk_files(
    stream: BinaryIO, mime: str, size: int, original: Path | None = None
) -> Iterator[DiskEntry]:
    """``iter_disk_files`` as a listing: the same members in the same order, no content read."""

    def walk() -> Iterator[DiskEntry]:
        for member, file, volume in _walk_image(stream, mime, size, original):
            address = None if file is None else int(file.info.meta.addr)
            yield DiskEntry(member, volume, address)

    return watched(walk)


class _ImageFiles:
    """Listed files' content, read from the image (opened on the first file that has any)."""

    def __init__(
        self, stream: BinaryIO, mime: str, size: int, original: Path | None, stack: ExitStack
    ) -> None:
        self._open = partial(open_image, stream, mime, size, stack, original)
        self._image: Any = None
        self._file_systems: dict[int, Any] = {}

    def image(self) -> Any:
        if self._image is None:
            self._image, _ = self._open()
        return self._image

    def member(self, entry: DiskEntry) -> ArchiveMember:
        """``entry``'s member with an opener that reads the file from the image."""
        if entry.address is None:
            return entry.member
        fs = self._file_systems.get(entry.volume)
        if fs is None:
            fs = self._file_systems[entry.volume] = pytsk3.FS_Info(
                self.image(), offset=entry.volume
            )
        return _with_opener(entry.member, fs.open_meta(inode=entry.address))

    def clear(self) -> None:
        self._file_systems.clear()
        self._image = None


class OpenDiskImage:
    """A disk image opened read-only to read listed files by their address; ``close`` it."""

    def __init__(self, path: Path, mime: str) -> None:
        self._stack = ExitStack()
        try:
            stream = self._stack.enter_context(path.open("rb"))
            size = os.fstat(stream.fileno()).st_size
            self._files = _ImageFiles(stream, mime, size, path, self._stack)
            self._files.image()  # opened now: its errors belong to opening
        except BaseException:
            self._stack.close()
            raise

    def member(self, entry: DiskEntry) -> ArchiveMember:
        """``entry``'s member with an opener that reads the file from the image."""
        return self._files.member(entry)

    def close(self) -> None:
        self._files.clear()
        self._stack.close()


def _with_opener(member: ArchiveMember, file: Any) -> ArchiveMember:
    return replace(member, open=partial(_open, file, member.size or 0, member.name))


def _walk_image(stream: BinaryIO, mime: str, size: int, original: Path | None) -> Iterator[_Listed]:
    with ExitStack() as stack:
        image, media_size = open_image(stream, mime, size, stack, original)
        header = image.read(0, min(4096, media_size))  # the media's bytes, also inside an E01
        volumes = _volumes(image, bare_first=file_system_at_start(header) is not None)
        for volume in volumes:
            try:
                fs = pytsk3.FS_Info(image, offset=volume.offset)
            except _TSK_ERRORS as exc:
                reason = f"{volume.label}: no file system The Sleuth Kit reads ({_tsk(exc)})"
                yield *_error(volume.prefix, reason), volume.offset
                continue
            for member, file in _file_system(fs, volume.prefix, media_size):
                yield member, file, volume.offset


def _volumes(image: Any, *, bare_first: bool) -> list[_Volume]:
    """The file systems to walk: the partitions of a table, or one file system at offset 0."""
    bare = _Volume("", 0, "file system at the start of the image")
    if bare_first and _has_file_system(image, 0):
        return [bare]
    try:
        table = pytsk3.Volume_Info(image)
    except _TSK_ERRORS:
        if _has_file_system(image, 0):
            return [bare]
        raise DiskImageError(
            "no partition table or file system The Sleuth Kit reads (damaged or truncated image?)"
        ) from None
    sector = int(table.info.block_size)
    found: list[_Volume] = []
    logical = 4
    for part in table:
        if not int(part.flags) & int(pytsk3.TSK_VS_PART_FLAG_ALLOC):
            continue
        if int(part.table_num) <= 0:  # GPT entries and MBR primaries (TSK: -1 and 0)
            number = int(part.slot_num) + 1
        else:
            logical += 1
            number = logical
        description = part.desc.decode("utf-8", "replace").strip() or "no type name"
        label = f"partition {number} ({description}, sectors {part.start}+{part.len})"
        found.append(_Volume(f"p{number}/", int(part.start) * sector, label))
    if not found:
        raise DiskImageError("partition table lists no partitions")
    return found


def _has_file_system(image: Any, offset: int) -> bool:
    try:
        pytsk3.FS_Info(image, offset=offset)
    except _TSK_ERRORS:
        return False
    return True


def _file_system(fs: Any, prefix: str, media_size: int) -> Iterator[tuple[ArchiveMember, Any]]:
    ftype = int(fs.info.ftype)
    walk = _FsWalk(fs, ftype == int(pytsk3.TSK_FS_TYPE_NTFS), media_size)
    steps = walk.root(prefix)
    if ftype not in _FAT_TYPES:
        yield from steps
        return
    # The clock is UTC only while TSK works, never while the consumer runs between two steps:
    # a scan lists images in its main process, whose own clock must stay the examiner's.
    while True:
        with utc_clock():
            step = next(steps, None)
        if step is None:
            return
        yield step


@dataclass
class _FsWalk:
    """One file system's walk: the folders being walked (loop guard) and what bounds a file."""

    fs: Any
    ntfs: bool
    media_size: int
    walking: set[int] = field(default_factory=set)

    def root(self, prefix: str) -> Iterator[tuple[ArchiveMember, Any]]:
        try:
            root = self.fs.open_dir(path="/")
        except _TSK_ERRORS as exc:
            yield _error(prefix, f"root folder unreadable: {_tsk(exc)}")
            return
        self.walking.add(int(root.info.fs_file.meta.addr))
        yield from self.folder(root, prefix, 0)

    def folder(self, folder: Any, prefix: str, depth: int) -> Iterator[tuple[ArchiveMember, Any]]:
        entries: list[tuple[bytes, Any]] = []
        try:
            for entry in folder:
                raw = bytes(entry.info.name.name)
                if raw not in (b".", b".."):
                    entries.append((raw, entry))
        except _TSK_ERRORS as exc:  # a damaged folder: what was listed is kept
            yield _error(prefix, f"folder not fully read: {_tsk(exc)}")
        for raw, entry in sorted(entries, key=lambda pair: pair[0]):
            path = prefix + raw.decode("utf-8", "surrogateescape")
            name, meta = entry.info.name, entry.info.meta
            address = int(meta.addr) if meta is not None else int(name.meta_addr)
            if self.ntfs and address < _NTFS_FIRST_USER_ENTRY:
                continue  # NTFS's own metadata files and reserved entries
            if meta is None and address > 0:
                entry, meta = self._recovered(entry, address)
            if meta is None:
                if int(name.type) == _NAME_REG:
                    # A deleted name whose metadata entry is gone or reused: only the name is left.
                    missing = NOT_RECOVERABLE + " (no metadata left)"
                    yield make_member(path, None, error=missing, deleted=True), None
            elif int(meta.type) in _DIRS:
                yield from self._subfolder(entry, meta, path, depth)
            elif int(meta.type) == _REG:
                yield self._file(entry, name, meta, path)

    def _recovered(self, entry: Any, address: int) -> tuple[Any, Any]:
        """The metadata of a name TSK listed without it (NTFS orphans), if it still fits.

        Only an unallocated entry can still hold the deleted file; an allocated one (or, on
        NTFS, one with another sequence number) has been reused by another file since.
        """
        try:
            found = self.fs.open_meta(inode=address)
        except _TSK_ERRORS:
            return entry, None
        meta = found.info.meta
        if meta is None or not int(meta.flags) & _META_UNALLOC:
            return entry, None
        expected = int(entry.info.name.meta_seq)  # 0 for TSK's orphans: not known
        if self.ntfs and expected and int(meta.seq) != expected:
            return entry, None
        return found, meta

    def _subfolder(
        self, entry: Any, meta: Any, path: str, depth: int
    ) -> Iterator[tuple[ArchiveMember, Any]]:
        address = int(meta.addr)
        if address in self.walking:
            yield _error(path + "/", "folder loop: refers back to a folder above it")
            return
        if depth + 1 > MAX_FOLDER_DEPTH:
            yield _error(path + "/", f"folders nested deeper than {MAX_FOLDER_DEPTH}; not walked")
            return
        try:
            inner = entry.as_directory()
        except _TSK_ERRORS as exc:
            if _deleted(entry.info.name, meta):
                return  # a deleted folder whose listing is gone: nothing left to walk
            yield _error(path + "/", f"folder unreadable: {_tsk(exc)}")
            return
        self.walking.add(address)
        try:
            yield from self.folder(inner, path + "/", depth + 1)
        finally:
            self.walking.discard(address)

    def _file(self, entry: Any, name: Any, meta: Any, path: str) -> tuple[ArchiveMember, Any]:
        """The member (no opener yet) and the TSK file to read it from, if it can be read."""
        size = int(meta.size)
        deleted = _deleted(name, meta)
        error: str | None = None
        if size < 0 or size > self.media_size:
            error = (
                f"declares {size} bytes, more than the whole image ({self.media_size}); not read "
                f"(damaged metadata or a sparse file)"
            )
        elif deleted and size > 0 and not _mapped(entry):
            error = NOT_RECOVERABLE
        member = make_member(path, size, error=error, deleted=deleted, times=fs_times(meta))
        return member, None if error else entry


def _error(folder: str, error: str) -> tuple[ArchiveMember, None]:
    """A record for a folder or volume (``""``: the image's own file system) that failed."""
    return ArchiveMember(folder, None, None, error), None


def _deleted(name: Any, meta: Any) -> bool:
    return bool(int(name.flags) & _NAME_UNALLOC or int(meta.flags) & _META_UNALLOC)


def _mapped(entry: Any) -> bool:
    """Whether the file's data still has blocks (resident data counts; sparse runs do not)."""
    try:
        for attribute in entry:
            if int(attribute.info.type) not in _DATA_TYPES or attribute.info.name:
                continue  # NTFS alternate data streams and other attributes
            if not int(attribute.info.flags) & _NONRESIDENT:
                return True
            return any(not int(run.flags) & _NO_BLOCK and int(run.len) > 0 for run in attribute)
    except _TSK_ERRORS:
        return False
    return False


def _open(entry: Any, size: int, path: str) -> BinaryIO:
    offset = 0

    def read(length: int) -> bytes:
        nonlocal offset
        length = min(length, size - offset)
        if length <= 0:
            return b""
        try:
            data: bytes = entry.read_random(offset, length)
        except _TSK_ERRORS as exc:
            raise MemberError(f"read failed at byte {offset} of {size}: {_tsk(exc)}") from exc
        if not data:
            raise MemberError(f"read stopped at byte {offset} of {size}")
        offset += len(data)
        return data

    # Not counted against an archive budget: a file system's files are bounded by the image.
    return guarded(read, f"file in disk image ({path})", None)


def _tsk(exc: BaseException) -> str:
    """TSK's messages span lines; one line is enough for the record."""
    return " ".join(str(exc).split()) or type(exc).__name__
