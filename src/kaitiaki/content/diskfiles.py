"""One file system's walk: its files as members (no content yet) and the TSK file each is read
from, deleted names included, file-system metadata marked as such.

Guards: a folder already being walked is not walked again (loops in damaged or hostile images)
and folder depth is bounded. A file's size may pass the whole image only if it is sparse: the
bytes its runs allocate must fit in the image (more is damaged metadata), and its holes, read
as zeros, are bounded by ``SPARSE_HOLES_LIMIT``. A deleted file is read only while its blocks
are still mapped (and, on NTFS, its clusters still free); otherwise it is recorded as not
recoverable, with why. Every deleted name TSK lists is recorded, content or not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytsk3  # type: ignore[import-not-found, unused-ignore]

from kaitiaki.content.archivebase import ArchiveMember, make_member
from kaitiaki.content.diskfsmeta import (
    NTFS_FIRST_USER_ENTRY,
    FatEntries,
    NtfsClusters,
    fat_special_names,
    not_recoverable,
    ntfs_deleted_record,
)
from kaitiaki.content.disktimes import fs_times

MAX_FOLDER_DEPTH = 256
# Zeros read for a sparse file's holes: hashing them costs time, not memory (they are streamed).
SPARSE_HOLES_LIMIT = 64 << 30
# TSK fails with OSError; a failing read callback (a damaged E01 chunk) comes out as RuntimeError.
TSK_ERRORS = (OSError, RuntimeError)
NOT_RECOVERABLE = not_recoverable("the file system no longer maps its blocks")
_REG = int(pytsk3.TSK_FS_META_TYPE_REG)
_DIRS = (int(pytsk3.TSK_FS_META_TYPE_DIR), int(pytsk3.TSK_FS_META_TYPE_VIRT_DIR))
# Names with no metadata left: a file's (ext), or of a type TSK could not tell (NTFS).
_NAMED_FILES = (int(pytsk3.TSK_FS_NAME_TYPE_REG), int(pytsk3.TSK_FS_NAME_TYPE_UNDEF))
_NAME_UNALLOC = int(pytsk3.TSK_FS_NAME_FLAG_UNALLOC)
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)
_NONRESIDENT = int(pytsk3.TSK_FS_ATTR_NONRES)
_NO_BLOCK = int(pytsk3.TSK_FS_ATTR_RUN_FLAG_SPARSE) | int(pytsk3.TSK_FS_ATTR_RUN_FLAG_FILLER)
_DATA_TYPES = (
    int(pytsk3.TSK_FS_ATTR_TYPE_DEFAULT),
    int(pytsk3.TSK_FS_ATTR_TYPE_NTFS_DATA),
    int(pytsk3.TSK_FS_ATTR_TYPE_HFS_DATA),
)

Step = tuple[ArchiveMember, Any]


@dataclass(frozen=True, slots=True)
class _DataRuns:
    """Where a file's (unnamed) data lies: bytes in allocated runs, and those runs as
    (first block, block count); resident data (inside an NTFS record) has no runs."""

    allocated: int
    runs: list[tuple[int, int]]
    resident: bool

    @property
    def mapped(self) -> bool:
        return self.resident or bool(self.runs)


@dataclass
class FsWalk:
    """One file system's walk: the folders being walked (loop guard) and what bounds a file."""

    fs: Any
    media_size: int
    ntfs: bool = False
    fat: FatEntries | None = None
    walking: set[int] = field(default_factory=set)
    clusters: NtfsClusters | None = None

    def __post_init__(self) -> None:
        self._block = max(int(self.fs.info.block_size), 1)
        if self.ntfs:
            self.clusters = NtfsClusters(self.fs)

    def root(self, prefix: str) -> Iterator[Step]:
        try:
            root = self.fs.open_dir(path="/")
        except TSK_ERRORS as exc:
            yield error_step(prefix, f"root folder unreadable: {tsk_message(exc)}")
            return
        self.walking.add(int(root.info.fs_file.meta.addr))
        yield from self._folder(root, prefix, 0, fs_metadata=False)

    def _folder(self, folder: Any, prefix: str, depth: int, *, fs_metadata: bool) -> Iterator[Step]:
        entries: list[tuple[bytes, Any]] = []
        try:
            for entry in folder:
                raw = bytes(entry.info.name.name)
                if raw not in (b".", b".."):
                    entries.append((raw, entry))
        except TSK_ERRORS as exc:  # a damaged folder: what was listed is kept
            yield error_step(prefix, f"folder not fully read: {tsk_message(exc)}")
        for raw, entry in sorted(entries, key=lambda pair: pair[0]):
            yield from self._entry(raw, entry, prefix, depth, fs_metadata)

    def _entry(
        self, raw: bytes, entry: Any, prefix: str, depth: int, fs_metadata: bool
    ) -> Iterator[Step]:
        path = prefix + raw.decode("utf-8", "surrogateescape")
        name, meta = entry.info.name, entry.info.meta
        address = int(meta.addr) if meta is not None else int(name.meta_addr)
        metadata = fs_metadata or self._is_metadata(raw, address)
        if self.ntfs and metadata and int(name.flags) & _NAME_UNALLOC:
            return  # a free reserved record (TSK's OrphanFile-16..23): no file was ever in it
        if meta is None and address > 0 and int(name.flags) & _NAME_UNALLOC:
            found, reason = self._deleted_record(entry, address)
            if found is None:
                if int(name.type) in _NAMED_FILES:
                    member = make_member(path, None, error=not_recoverable(reason), deleted=True)
                    yield _flagged(member, metadata), None
                return
            entry, meta = found, found.info.meta
        if meta is None:
            if int(name.type) in _NAMED_FILES:
                # A deleted name whose metadata entry is gone: only the name is left.
                missing = NOT_RECOVERABLE + " (no metadata left)"
                yield make_member(path, None, error=missing, deleted=True), None
        elif int(meta.type) in _DIRS:
            yield from self._subfolder(entry, meta, path, depth, metadata)
        elif int(meta.type) == _REG:
            member, file = self._file(entry, name, meta, path)
            yield _flagged(member, metadata), file

    def _is_metadata(self, raw: bytes, address: int) -> bool:
        """The file system's own files: NTFS's ($MFT, $LogFile, ...: MFT entries below 24,
        and all under $Extend), exFAT's special entries and FAT's volume label (read on disk)."""
        if self.ntfs:
            return 0 <= address < NTFS_FIRST_USER_ENTRY
        if self.fat is not None:
            text = raw.decode("utf-8", "replace")
            return fat_special_names(text) and self.fat.is_metadata(address)
        return False

    def _deleted_record(self, entry: Any, address: int) -> tuple[Any, str]:
        """The metadata of a deleted name TSK listed without it, or why it is gone."""
        if self.ntfs:
            record = ntfs_deleted_record(self.fs, address, int(entry.info.name.meta_seq))
            return record.file, record.reason or ""
        try:
            found = self.fs.open_meta(inode=address)
        except TSK_ERRORS as exc:
            return None, f"its metadata entry {address} is unreadable ({tsk_message(exc)})"
        meta = found.info.meta
        if meta is None or not int(meta.flags) & _META_UNALLOC:
            return None, f"its metadata entry {address} is in use by another file"
        return found, ""

    def _subfolder(
        self, entry: Any, meta: Any, path: str, depth: int, fs_metadata: bool
    ) -> Iterator[Step]:
        address = int(meta.addr)
        if address in self.walking:
            yield error_step(path + "/", "folder loop: refers back to a folder above it")
            return
        if depth + 1 > MAX_FOLDER_DEPTH:
            yield error_step(
                path + "/", f"folders nested deeper than {MAX_FOLDER_DEPTH}; not walked"
            )
            return
        try:
            inner = entry.as_directory()
        except TSK_ERRORS as exc:
            if _deleted(entry.info.name, meta):
                return  # a deleted folder whose listing is gone: nothing left to walk
            yield error_step(path + "/", f"folder unreadable: {tsk_message(exc)}")
            return
        self.walking.add(address)
        try:
            yield from self._folder(inner, path + "/", depth + 1, fs_metadata=fs_metadata)
        finally:
            self.walking.discard(address)

    def _file(self, entry: Any, name: Any, meta: Any, path: str) -> Step:
        """The member (no opener yet) and the TSK file to read it from, if it can be read."""
        size = int(meta.size)
        deleted = _deleted(name, meta)
        data = self._runs(entry)
        error = self._refusal(size, data)
        if error is None and deleted and size > 0:
            if data is None or not data.mapped:
                error = NOT_RECOVERABLE
            elif self.clusters is not None and self.clusters.reallocated(data.runs):
                error = not_recoverable("its clusters are allocated again (to another file)")
        member = make_member(path, size, error=error, deleted=deleted, times=fs_times(meta))
        return member, None if error else entry

    def _refusal(self, size: int, data: _DataRuns | None) -> str | None:
        """Why a file declaring ``size`` bytes is not read, if it is not."""
        whole = self.media_size
        if size < 0:
            return f"declares a negative size ({size}); not read (damaged metadata)"
        if size <= whole:
            return None
        if data is None:
            return (
                f"declares {size} bytes, more than the whole image ({whole}), and its runs "
                f"cannot be listed; not read (damaged metadata)"
            )
        if data.allocated > whole:
            return (
                f"declares {size} bytes and its runs allocate {data.allocated}, more than the "
                f"whole image ({whole}); not read (damaged metadata)"
            )
        holes = size - data.allocated
        if holes > SPARSE_HOLES_LIMIT:
            return (
                f"declares {size} bytes, more than the whole image ({whole}), of which "
                f"{data.allocated} allocated: {holes} bytes of holes pass the limit for a "
                f"sparse file ({SPARSE_HOLES_LIMIT}); not read (damaged metadata?)"
            )
        return None

    def _runs(self, entry: Any) -> _DataRuns | None:
        """The file's unnamed data attribute's runs (NTFS alternate streams are not read);
        None when TSK cannot list them."""
        try:
            for attribute in entry:
                info = attribute.info
                if int(info.type) not in _DATA_TYPES or info.name:
                    continue
                if not int(info.flags) & _NONRESIDENT:
                    return _DataRuns(max(int(info.size), 0), [], resident=True)
                runs = [
                    (int(run.addr), int(run.len))
                    for run in attribute
                    if not int(run.flags) & _NO_BLOCK and int(run.len) > 0
                ]
                allocated = sum(length for _, length in runs) * self._block
                return _DataRuns(allocated, runs, resident=False)
        except TSK_ERRORS:
            return None
        return None  # no data attribute at all: nothing says where its bytes are


def error_step(folder: str, error: str) -> tuple[ArchiveMember, None]:
    """A record for a folder or volume (``""``: the image's own file system) that failed."""
    return ArchiveMember(folder, None, None, error), None


def tsk_message(exc: BaseException) -> str:
    """TSK's messages span lines; one line is enough for the record."""
    return " ".join(str(exc).split()) or type(exc).__name__


def _flagged(member: ArchiveMember, fs_metadata: bool) -> ArchiveMember:
    return replace(member, fs_metadata=True) if fs_metadata else member


def _deleted(name: Any, meta: Any) -> bool:
    return bool(int(name.flags) & _NAME_UNALLOC or int(meta.flags) & _META_UNALLOC)
