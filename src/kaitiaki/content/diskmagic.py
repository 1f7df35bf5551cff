"""Disk images recognised by their bytes: a partition table or a bare file system at offset 0,
an EWF (E01) segment, or a virtual disk (VMDK, VHD, VHDX, QCOW) holding one.

Only the first sectors are looked at (``HEADER_SIZE`` bytes), never the file's name. A match here
means "worth handing to The Sleuth Kit"; TSK has the last word on whether anything is readable.
UDF and APFS are recognised so that they are read beside TSK (``diskwalkers``).
Checks are stricter than one magic number because a boot-sector signature (0x55AA at 510) is only
two bytes: the fields around it must make sense too.
"""

from __future__ import annotations

import struct

RAW_DISK_MIME = "application/x-raw-disk-image"
EWF_MIME = "application/x-ewf"
# Virtual disks, read as the disk they hold (content/virtualdisk.py). A fixed VHD is the raw
# disk followed by a 512-byte footer, so it is recognised (and read) as the raw disk it starts with.
VMDK_MIME = "application/x-vmdk"
VHD_MIME = "application/x-vhd"
VHDX_MIME = "application/x-vhdx"
QCOW_MIME = "application/x-qemu-disk"
VIRTUAL_DISK_MIMES = (VMDK_MIME, VHD_MIME, VHDX_MIME, QCOW_MIME)
# File systems TSK does not read, read by other libraries (content/apfs.py, content/udf.py).
UDF_MIME = "application/x-udf-image"
APFS_MIME = "application/x-apple-apfs"

_VIRTUAL_SIGNATURES = (
    (b"KDMV", VMDK_MIME),  # VMDK sparse extent (monolithicSparse, streamOptimized, split)
    (b"COWD", VMDK_MIME),  # ESX server copy-on-write disk
    (b"# Disk DescriptorFile", VMDK_MIME),  # VMDK descriptor naming its extent files
    (b"\xbe\xba\xfe\xca\x00\x00\x00\x00", VMDK_MIME),  # ESXi seSparse (libvmdk refuses it)
    (b"conectix", VHD_MIME),  # dynamic and differencing VHD: the footer's copy at offset 0
    (b"vhdxfile", VHDX_MIME),
    (b"QFI\xfb", QCOW_MIME),  # QCOW version 1, 2 and 3
)

# Expert Witness Format (EnCase E01/Ex01 segments): signature, then a byte 0x01, then the segment
# number (little-endian u16).
_EWF_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
_EWF2_SIGNATURE = b"EVF2\x0d\x0a\x81\x00"

_SECTOR_SIZES = (512, 1024, 2048, 4096)
_EXT_MAGIC_OFFSET = 1024 + 56
_HFS_OFFSET = 1024
# ISO 9660 and UDF volume descriptors start at sector 16 of 2048 bytes: one byte of type, then
# the identifier. The header read for detection covers the first few of them.
_VOLUME_DESCRIPTORS = 16 * 2048
_ISO_DESCRIPTOR_TYPES = (0, 1, 2, 3, 255)
_UDF_NSR = (b"NSR02", b"NSR03")
_VOLUME_IDENTIFIERS = (b"CD001", b"BEA01", b"NSR02", b"NSR03", b"TEA01", b"BOOT2", b"CDW02")
# An APFS container's NX superblock: its object header's type (0x80000001: a physical NX
# superblock) at 24, then the magic "NXSB" at 32.
_APFS_TYPE_OFFSET, _APFS_MAGIC_OFFSET = 24, 32
_APFS_TYPE_AND_MAGIC = b"\x01\x00\x00\x80" + bytes(4) + b"NXSB"


def disk_image_mime(header: bytes) -> str | None:
    """``RAW_DISK_MIME`` or ``EWF_MIME`` when ``header`` starts a disk image, else None."""
    if header.startswith((_EWF_SIGNATURE, _EWF2_SIGNATURE)):
        return EWF_MIME
    for signature, mime in _VIRTUAL_SIGNATURES:
        if header.startswith(signature):
            return mime
    found = file_system_at_start(header)
    if found == "udf":
        return UDF_MIME
    if found == "apfs":
        return APFS_MIME
    if found or _gpt(header) or _mbr(header):
        return RAW_DISK_MIME
    return None


def ewf_segment_number(header: bytes) -> int | None:
    """The segment number of an EWF (E01) segment: 1 for ``.E01``, 2 for ``.E02``, ..."""
    if header.startswith(_EWF_SIGNATURE) and len(header) >= 11:
        return int(struct.unpack_from("<H", header, 9)[0])
    return None


def file_system_at_start(header: bytes) -> str | None:
    """The file system whose boot sector or superblock ``header`` starts with, if any."""
    if len(header) < 512:
        return None
    if header[3:11] == b"NTFS    " and _sector_size(header) is not None:
        return "ntfs"
    if header[3:11] == b"EXFAT   ":
        return "exfat"
    if _fat(header):
        return "fat"
    if len(header) >= _EXT_MAGIC_OFFSET + 2 and _ext(header):
        return "ext"
    if len(header) >= _HFS_OFFSET + 2 and header[_HFS_OFFSET : _HFS_OFFSET + 2] in (b"H+", b"HX"):
        return "hfs"
    if header[_APFS_TYPE_OFFSET : _APFS_MAGIC_OFFSET + 4] == _APFS_TYPE_AND_MAGIC:
        return "apfs"
    return _optical(header)


def _optical(header: bytes) -> str | None:
    """ISO 9660 ("CD001") or UDF ("BEA01" ... "NSR02/03") in the volume descriptors at 32 KiB.

    A UDF bridge disc carries both; it is ISO 9660 here, the part The Sleuth Kit reads.
    """
    first = header[_VOLUME_DESCRIPTORS : _VOLUME_DESCRIPTORS + 6]
    if first[1:] == b"CD001" and first[0] in _ISO_DESCRIPTOR_TYPES:
        return "iso9660"
    identifiers: list[bytes] = []  # the volume recognition sequence, up to its first gap
    for start in range(_VOLUME_DESCRIPTORS, len(header) - 6, 2048):
        identifier = header[start + 1 : start + 6]
        if identifier not in _VOLUME_IDENTIFIERS:
            break
        identifiers.append(identifier)
    if b"BEA01" in identifiers and any(nsr in identifiers for nsr in _UDF_NSR):
        return "udf"
    return None


def udf_descriptors(header: bytes) -> bool:
    """UDF's volume recognition sequence at 32 KiB ("BEA01" then "NSR02/03"), alone or after
    ISO 9660's descriptors (a UDF bridge, which ``file_system_at_start`` calls ISO 9660)."""
    identifiers: list[bytes] = []  # the descriptors, up to their first gap
    for start in range(_VOLUME_DESCRIPTORS, len(header) - 6, 2048):
        identifier = header[start + 1 : start + 6]
        if identifier not in _VOLUME_IDENTIFIERS:
            break
        identifiers.append(identifier)
    return b"BEA01" in identifiers and any(nsr in identifiers for nsr in _UDF_NSR)


def _sector_size(header: bytes) -> int | None:
    size = int(struct.unpack_from("<H", header, 11)[0])
    return size if size in _SECTOR_SIZES else None


def _fat(header: bytes) -> bool:
    """A FAT12/16/32 boot sector: jump instruction, sane geometry, a FAT type label."""
    if header[0] not in (0xEB, 0xE9) or header[510:512] != b"\x55\xaa":
        return False
    per_cluster, reserved, fats = header[13], struct.unpack_from("<H", header, 14)[0], header[16]
    if _sector_size(header) is None or per_cluster == 0 or per_cluster & (per_cluster - 1):
        return False
    if reserved == 0 or fats not in (1, 2):
        return False
    # mkfs.fat, Windows and cameras write the type label; the label is informational in the
    # specification, but a boot sector without one at either place is too weak a signal.
    return header[54:59] in (b"FAT12", b"FAT16", b"FAT  ") or header[82:87] == b"FAT32"


def _ext(header: bytes) -> bool:
    """An ext2/3/4 superblock at 1024: magic 0xEF53 and plausible counts."""
    if header[_EXT_MAGIC_OFFSET : _EXT_MAGIC_OFFSET + 2] != b"\x53\xef":
        return False
    inodes, blocks = struct.unpack_from("<II", header, 1024)
    log_block = int(struct.unpack_from("<I", header, 1024 + 24)[0])
    return bool(inodes > 0 and blocks > 0 and log_block <= 6)


def _gpt(header: bytes) -> bool:
    """A GUID partition table: the header signature in LBA 1 (512-byte or 4096-byte sectors)."""
    return any(header[size : size + 8] == b"EFI PART" for size in _SECTOR_SIZES)


def _mbr(header: bytes) -> bool:
    """A DOS partition table: the signature and four entries that parse, at least one used."""
    if len(header) < 512 or header[510:512] != b"\x55\xaa":
        return False
    used = 0
    for slot in range(4):
        entry = header[446 + 16 * slot : 462 + 16 * slot]
        status, kind = entry[0], entry[4]
        start, sectors = struct.unpack_from("<II", entry, 8)
        if status not in (0x00, 0x80):
            return False
        if kind == 0:
            if sectors != 0:
                return False
            continue
        if start == 0 or sectors == 0:
            return False
        used += 1
    return used > 0
