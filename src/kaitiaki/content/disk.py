"""Files inside disk images (dd/raw, E01): every file system's files, deleted ones included.

Paths follow archive members: ``image.dd!/DCIM/a.jpg`` for a file system that fills the image,
``image.dd!/p1/DCIM/a.jpg`` for one in partition 1 of a partitioned image (MBR/GPT; ``pN`` is
the partition's number as Linux counts it: table slot + 1, logical partitions from 5). Deleted
files carry ``deleted=True``; TSK's ``$OrphanFiles`` folder holds deleted files whose folder is
unknown. Times are what TSK reports, as UTC: FAT keeps local wall-clock times with no zone (and no
change time), so FAT times are that wall clock labelled UTC, whatever the examiner's zone is.

The walk of each file system, its guards (folder loops, depth, sizes past the image unless
sparse, deleted files no longer recoverable) and how file-system metadata is told apart are in
``diskfiles``. The file system's own files (NTFS's $MFT, $LogFile, ... and $Extend; exFAT's
$ALLOC_BITMAP, $UPCASE_TABLE, $VOLUME_GUID; FAT's and exFAT's volume label entry) are members
with ``fs_metadata``: hashed, recorded apart from the user's files. Links, devices and TSK's
virtual files ($MBR, $FAT1: views of areas no folder lists) are not files to hash, left out.

APFS (a whole image or a GPT partition) and UDF (a UDF/ISO 9660 bridge's UDF side), which TSK
does not read, are walked by libfsapfs and pycdlib instead (``diskwalkers``, ``apfs``, ``udf``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, BinaryIO

import pytsk3  # type: ignore[import-not-found, unused-ignore]

from kaitiaki.content.archivebase import (
    ArchiveMember,
    MemberError,
    sized_stream,
)
from kaitiaki.content.diskfiles import (
    MAX_FOLDER_DEPTH,
    NOT_RECOVERABLE,
    SPARSE_HOLES_LIMIT,
    TSK_ERRORS,
    FsWalk,
    error_step,
    tsk_message,
)
from kaitiaki.content.diskfsmeta import FatEntries
from kaitiaki.content.diskimage import CallbackImage, DiskImageError, open_image
from kaitiaki.content.diskmagic import file_system_at_start
from kaitiaki.content.disktimes import utc_clock
from kaitiaki.content.diskwalkers import TSK, OtherFiles, walk_other, walker_at
from kaitiaki.content.diskwatch import watched

__all__ = [
    "MAX_FOLDER_DEPTH",
    "NOT_RECOVERABLE",
    "SPARSE_HOLES_LIMIT",
    "DiskEntry",
    "OpenDiskImage",
    "iter_disk_files",
    "list_disk_files",
]

_NTFS = int(pytsk3.TSK_FS_TYPE_NTFS)
_READ_CHUNK = 1 << 20  # bytes asked of TSK at a time: a sparse file's holes never fill memory
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
    # Why its bytes are not in the image at all (a truncated acquisition), if so.
    missing: str | None = None


@dataclass(frozen=True, slots=True)
class DiskEntry:
    """A listed file without its content: what the file system says of it (``member``, with no
    opener) and where its bytes are: its file system's byte offset in the image (``volume``) and
    its metadata address (inode, MFT entry, FAT entry); ``address`` is None when there is
    nothing to read (a failed folder, a file not recoverable). Small and picklable, so a scan
    lists an image in one process and reads its files in others.

    ``walker`` names the library that listed it and reads it again: ``"tsk"``, or for the file
    systems TSK does not read ``"apfs"`` (``address``: the file's identifier, ``store``: its
    volume's index in the container) and ``"udf"`` (``address``: its File Entry's block)."""

    member: ArchiveMember
    volume: int = 0
    address: int | None = None
    walker: str = TSK
    store: int = 0


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

    return watched(partial(_walk_image, stream, mime, size, original))


class _ImageFiles:
    """Listed files' content, read from the image (opened on the first file that has any)."""

    def __init__(
        self, stream: BinaryIO, mime: str, size: int, original: Path | None, stack: ExitStack
    ) -> None:
        self._open = partial(open_image, stream, mime, size, stack, original)
        self._image: Any = None
        self._media_size = 0
        self._file_systems: dict[int, Any] = {}
        self._others = OtherFiles()

    def image(self) -> Any:
        if self._image is None:
            self._image, self._media_size = self._open()
        return self._image

    def member(self, entry: DiskEntry) -> ArchiveMember:
        """``entry``'s member with an opener that reads the file from the image."""
        if entry.address is None:
            return entry.member
        if entry.walker != TSK:
            image = self.image()
            return self._others.member(
                image,
                self._media_size,
                entry.member,
                (entry.walker, entry.volume, entry.address, entry.store),
            )
        fs = self._file_systems.get(entry.volume)
        if fs is None:
            fs = self._file_systems[entry.volume] = open_file_system(
                self.image(), entry.volume, self._media_size
            )
        return _with_opener(entry.member, fs.open_meta(inode=entry.address))

    def clear(self) -> None:
        self._file_systems.clear()
        self._others.clear()
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


def _walk_image(
    stream: BinaryIO, mime: str, size: int, original: Path | None
) -> Iterator[DiskEntry]:
    with ExitStack() as stack:
        image, media_size = open_image(stream, mime, size, stack, original)
        header = image.read(0, min(4096, media_size))  # the media's bytes, also inside an E01
        bare = _Volume("", 0, "file system at the start of the image")
        if walker_at(image, 0, media_size) is not None:  # APFS or UDF filling the image
            volumes = [bare]
        else:
            volumes = _volumes(
                image, media_size, bare_first=file_system_at_start(header) is not None
            )
        for volume in volumes:
            yield from _walk_volume(image, volume, media_size)


def _walk_volume(image: Any, volume: _Volume, media_size: int) -> Iterator[DiskEntry]:
    """One file system's files: by APFS's or UDF's walker where TSK does not read it."""
    if volume.missing is not None:
        yield DiskEntry(error_step(volume.prefix, volume.missing)[0], volume.offset)
        return
    walker = walker_at(image, volume.offset, media_size)
    if walker is not None:
        found = walk_other(walker, image, volume.offset, media_size, volume.prefix, volume.label)
        if not isinstance(found, str):
            for member, address, store in found:
                yield DiskEntry(member, volume.offset, address, walker, store)
            return
        # A UDF bridge whose UDF side pycdlib refuses: its ISO 9660 side is TSK's to read.
        reason = f"{volume.label}: UDF side not read ({found}); its ISO 9660 side is read instead"
        yield DiskEntry(ArchiveMember(volume.prefix, None, None, reason), volume.offset)
    try:
        fs = open_file_system(image, volume.offset, media_size)
    except TSK_ERRORS as exc:
        reason = f"{volume.label}: no file system The Sleuth Kit reads ({tsk_message(exc)})"
        yield DiskEntry(error_step(volume.prefix, reason)[0], volume.offset)
        return
    for member, file in _file_system(fs, image, volume.offset, volume.prefix, media_size):
        address = None if file is None else int(file.info.meta.addr)
        yield DiskEntry(member, volume.offset, address)


def _volumes(image: Any, media_size: int, *, bare_first: bool) -> list[_Volume]:
    """The file systems to walk: the partitions of a table, or one file system at offset 0."""
    bare = _Volume("", 0, "file system at the start of the image")
    if bare_first and _has_file_system(image, media_size):
        return [bare]
    try:
        table = pytsk3.Volume_Info(image)
    except TSK_ERRORS:
        if _has_file_system(image, media_size):
            return [bare]
        table = _truncated_table(image)
        if table is None:
            raise DiskImageError(
                "no partition table or file system The Sleuth Kit reads "
                "(damaged or truncated image?)"
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
        start = int(part.start) * sector
        missing = None
        if start >= media_size:
            missing = (
                f"{label}: starts at byte {start:,}, past the end of the image "
                f"({media_size:,} bytes): a truncated acquisition? Nothing of it to read"
            )
        found.append(_Volume(f"p{number}/", start, label, missing))
    if not found:
        raise DiskImageError("partition table lists no partitions")
    return found


def _truncated_table(image: Any) -> Any:
    """The partition table of an image cut short (a failing drive's partial acquisition), or None.

    TSK refuses a whole table when a partition starts past the image's end ("Starting sector
    too large for image"), and so the partitions that are there would be lost with it. Read
    through a view that claims a far larger size (reads past the real end give nothing), the
    table lists every partition; those beyond the end are recorded as missing, the others read.
    """
    view = CallbackImage(image.read, _TRUNCATED_VIEW_SIZE)
    try:
        return pytsk3.Volume_Info(view)
    except TSK_ERRORS:
        return None


_TRUNCATED_VIEW_SIZE = 1 << 50  # 1 PiB: larger than any partition table here describes


def _has_file_system(image: Any, media_size: int) -> bool:
    try:
        open_file_system(image, 0, media_size)
    except TSK_ERRORS:
        return False
    return True


# TSK's own detection (TSK_FS_TYPE_DETECT) tries every type, YAFFS2's by reading the whole
# volume for NAND spare areas: 18.8 s on an empty 200 GiB virtual disk, hours on a wiped drive
# inside an E01, before saying "no file system". The types are tried one by one instead, and
# YAFFS2 (raw NAND dumps of old phones, which are small) only on volumes up to 16 GiB.
_FS_TYPES = tuple(
    int(getattr(pytsk3, f"TSK_FS_TYPE_{name}_DETECT"))
    for name in ("NTFS", "FAT", "EXT", "HFS", "ISO9660", "FFS")
)
_YAFFS2 = int(pytsk3.TSK_FS_TYPE_YAFFS2_DETECT)
_YAFFS2_MAX_VOLUME = 16 << 30


def open_file_system(image: Any, offset: int, media_size: int) -> Any:
    """TSK's file system at ``offset``; OSError (TSK's message) when none of its types fits."""
    types = _FS_TYPES + ((_YAFFS2,) if media_size - offset <= _YAFFS2_MAX_VOLUME else ())
    first_error: OSError | None = None
    for fs_type in types:
        try:
            return pytsk3.FS_Info(image, offset=offset, type=fs_type)
        except OSError as exc:
            first_error = first_error or exc
    raise first_error or OSError("no file system type to try")


def _file_system(
    fs: Any, image: Any, volume: int, prefix: str, media_size: int
) -> Iterator[tuple[ArchiveMember, Any]]:
    ftype = int(fs.info.ftype)
    fat = FatEntries.of(image, volume) if ftype in _FAT_TYPES else None
    walk = FsWalk(fs, media_size, ntfs=ftype == _NTFS, fat=fat)
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


def _open(entry: Any, size: int, path: str) -> BinaryIO:
    def read_at(offset: int, length: int) -> bytes:
        try:
            data: bytes = entry.read_random(offset, length)
        except TSK_ERRORS as exc:
            raise MemberError(
                f"read failed at byte {offset} of {size}: {tsk_message(exc)}"
            ) from exc
        return data

    return sized_stream(read_at, size, f"file in disk image ({path})", _READ_CHUNK)
