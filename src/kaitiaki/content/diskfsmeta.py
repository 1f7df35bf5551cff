"""What a file system says about its own files: which entries are its metadata, whether a
deleted NTFS name's MFT record still holds that file, and whether its clusters are still free.

TSK lists exFAT's special root entries (allocation bitmap, up-case table, volume GUID, volume
label, TexFAT padding, access-control table) and FAT's volume label among the user's files,
under names a user could also give a file (``$UPCASE_TABLE``). Which is which is read from the
entry on disk: TSK numbers a FAT directory entry by its 32-byte slot, counted from the first
sector after the FATs (exFAT: the cluster heap's), with the first three numbers reserved.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

import pytsk3  # type: ignore[import-not-found, unused-ignore]

_TSK_ERRORS = (OSError, RuntimeError)
NOT_RECOVERABLE_PREFIX = "content not recoverable: deleted"
NTFS_FIRST_USER_ENTRY = 24
_NTFS_BITMAP_ENTRY = 6
_META_UNALLOC = int(pytsk3.TSK_FS_META_FLAG_UNALLOC)

# TSK's first numbered slot; exFAT's entry type of a file (the in-use bit 0x80 masked off);
# FAT's attribute byte: the low four bits, 0x08 alone is a volume label (0x0F: a long name).
_FAT_FIRST_SLOT = 3
_EXFAT_FILE_ENTRY = 0x05
_FAT_ATTRIBUTES = 11
_FAT_VOLUME_LABEL = 0x08
_ENTRY_SIZE = 32


def not_recoverable(reason: str) -> str:
    """The record's error for a deleted file whose content cannot be had, and why."""
    return f"{NOT_RECOVERABLE_PREFIX}, and {reason}"


def fat_special_names(name: str) -> bool:
    """Names TSK gives (ex)FAT's special entries (confirmed on disk by ``FatEntries``)."""
    return name.startswith("$") or name.endswith(" (Volume Label Entry)")


@dataclass(frozen=True, slots=True)
class FatEntries:
    """Reads a FAT or exFAT directory entry by TSK's metadata address."""

    image: Any
    entry_base: int  # byte offset in the image of TSK's slot 3
    sector: int
    exfat: bool

    @classmethod
    def of(cls, image: Any, volume: int) -> FatEntries | None:
        try:
            boot = bytes(image.read(volume, 512))
        except _TSK_ERRORS:
            return None
        if len(boot) < 512:
            return None
        if boot[3:11] == b"EXFAT   ":
            heap = struct.unpack_from("<I", boot, 88)[0]
            shift = boot[108]
            if not 9 <= shift <= 12:  # 512 to 4096 bytes a sector: anything else is damage
                return None
            return cls(image, volume + heap * (1 << shift), 1 << shift, exfat=True)
        sector = struct.unpack_from("<H", boot, 11)[0]
        reserved = struct.unpack_from("<H", boot, 14)[0]
        fats, per_fat = boot[16], struct.unpack_from("<H", boot, 22)[0]
        per_fat = per_fat or struct.unpack_from("<I", boot, 36)[0]  # FAT32 keeps it here
        if sector not in (512, 1024, 2048, 4096) or not 1 <= fats <= 4:
            return None
        return cls(image, volume + (reserved + fats * per_fat) * sector, sector, exfat=False)

    def is_metadata(self, address: int) -> bool:
        """Whether TSK's file ``address`` is a special entry rather than a file's."""
        slot = address - _FAT_FIRST_SLOT
        if slot < 0:
            return False
        per_sector = self.sector // _ENTRY_SIZE
        at = (
            self.entry_base + (slot // per_sector) * self.sector + (slot % per_sector) * _ENTRY_SIZE
        )
        try:
            entry = bytes(self.image.read(at, _ENTRY_SIZE))
        except _TSK_ERRORS:
            return False  # unreadable: listed as the user's file, which hides nothing
        if len(entry) != _ENTRY_SIZE:
            return False
        if self.exfat:
            return entry[0] & 0x7F != _EXFAT_FILE_ENTRY
        return entry[_FAT_ATTRIBUTES] & 0x0F == _FAT_VOLUME_LABEL


@dataclass(frozen=True, slots=True)
class NtfsRecord:
    """What a deleted NTFS name's MFT record says: the file's metadata, or why it is gone."""

    file: Any  # the TSK file opened by its MFT entry, when it is still the deleted file's
    reason: str | None  # why not, otherwise


def ntfs_deleted_record(fs: Any, address: int, expected_seq: int) -> NtfsRecord:
    """The MFT record of a deleted name, if it still holds the file the name points to.

    NTFS adds one to a record's sequence number when it frees the record, so the deleted file's
    own record has the name's sequence number plus one (or the name's own, if the file system
    did not get to it). An allocated record, or a free one with a later sequence number, was
    taken by another file since. TSK's orphans carry no sequence number (0): not checked.
    """
    try:
        found = fs.open_meta(inode=address)
    except _TSK_ERRORS as exc:
        return NtfsRecord(None, f"MFT record {address} unreadable ({_one_line(exc)})")
    meta = found.info.meta
    if meta is None:
        return NtfsRecord(None, f"MFT record {address} holds no file")
    seq = int(meta.seq)
    if not int(meta.flags) & _META_UNALLOC:
        return NtfsRecord(None, f"MFT record {address} is in use by another file")
    if expected_seq and seq not in (expected_seq, expected_seq + 1):
        return NtfsRecord(
            None,
            f"MFT record {address} was reused by another file since (sequence {seq}; "
            f"the name points to sequence {expected_seq})",
        )
    return NtfsRecord(found, None)


class NtfsClusters:
    """NTFS's cluster bitmap ($Bitmap, MFT entry 6), read only where a deleted file's runs lie:
    a deleted file whose clusters are allocated again holds another file's bytes now."""

    def __init__(self, fs: Any) -> None:
        self._fs = fs
        self._bitmap: Any = None
        self._size = 0
        self._opened = False

    def reallocated(self, runs: list[tuple[int, int]]) -> bool | None:
        """Whether any cluster of ``runs`` ((first, count) pairs) is allocated; None: unknown."""
        bitmap = self._open()
        if bitmap is None:
            return None
        for first, count in runs:
            start, end = first // 8, (first + count + 7) // 8
            if first < 0 or end > self._size:
                return None  # a run past the volume: damaged metadata, not a verdict
            try:
                data = bytes(bitmap.read_random(start, end - start))
            except _TSK_ERRORS:
                return None
            if len(data) != end - start:
                return None
            if _any_set(data, first - start * 8, count):
                return True
        return False

    def _open(self) -> Any:
        if not self._opened:
            self._opened = True
            try:
                self._bitmap = self._fs.open_meta(inode=_NTFS_BITMAP_ENTRY)
                self._size = int(self._bitmap.info.meta.size)
            except _TSK_ERRORS:
                self._bitmap = None
        return self._bitmap


def _any_set(data: bytes, offset: int, count: int) -> bool:
    """Whether any of bits ``offset`` .. ``offset + count - 1`` of ``data`` is set (LSB first)."""
    if count <= 0:
        return False
    end = offset + count
    head, tail = offset // 8, (end - 1) // 8
    head_bits = data[head] >> (offset % 8)
    if head == tail:
        return bool(head_bits & ((1 << count) - 1))
    tail_bits = data[tail] & ((1 << (end - tail * 8)) - 1)
    return bool(head_bits or tail_bits) or data[head + 1 : tail].count(0) != tail - head - 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
