"""Hostile virtual disks for the corpus (``make_hostile.LARGE`` includes ``DISKS``), built at
test time: QCOW2 headers and compressed clusters written here byte by byte after QEMU's
docs/interop/qcow2.txt, VMDK descriptors naming extent files outside their folder, and a dynamic
VHD from ``qemu-img`` whose footer claims an absurd size.

All of it is zeros and text; nothing here holds real material.
"""

from __future__ import annotations

import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

_QCOW_ZSTD = 1 << 3  # incompatible feature bit: the compression type field is set


def qcow2_header(
    *,
    cluster_bits: int,
    size: int,
    l1_size: int,
    l1_offset: int,
    zstd: bool = False,
) -> bytes:
    """A version 3 header (112 bytes, with the compression type byte), no refcounts needed to
    read: the reader never looks at them."""
    header = bytearray(112)
    struct.pack_into(">4sIQIIQIIQ", header, 0, b"QFI\xfb", 3, 0, 0, cluster_bits, size, 0,
                     l1_size, l1_offset)  # fmt: skip
    struct.pack_into(">QQQII", header, 72, _QCOW_ZSTD if zstd else 0, 0, 0, 4, 112)
    header[104] = 1 if zstd else 0
    return bytes(header)


def qcow2_huge_l1(path: Path, l1_offset: int = 1 << 62) -> None:
    """An L1 table of 2^22 entries (the most the reader allows, 32 MiB) at an offset far past
    the file's end; 64 KiB clusters, so the disk claims 2^22 x 2^29 bytes = 2 PiB."""
    size = (1 << 22) * (1 << 16) * (1 << 13)
    path.write_bytes(qcow2_header(cluster_bits=16, size=size, l1_size=1 << 22, l1_offset=l1_offset))


def qcow2_l1_past_any_file(path: Path) -> None:
    """The same, the L1 offset past what any file offset can be (2^64 - 1)."""
    qcow2_huge_l1(path, (1 << 64) - 1)


def zstd_zeros_frame(size: int) -> bytes:
    """A zstd frame of ``size`` zero bytes made of RLE blocks (RFC 8878): 4 bytes per 128 KiB,
    so 8 GiB of output from 256 KiB. No content size in its header, as a streamed frame."""
    block = 128 << 10
    # Frame header descriptor 0 (no content size, not single-segment, no checksum), then the
    # window descriptor for 128 KiB (exponent 7, mantissa 0).
    out = bytearray(struct.pack("<I", 0xFD2FB528) + bytes([0x00, 7 << 3]))
    blocks = -(-size // block)
    for index in range(blocks):
        length = min(block, size - index * block)
        last = 1 if index == blocks - 1 else 0
        out += (last | (1 << 1) | (length << 3)).to_bytes(3, "little") + b"\0"
    return bytes(out)


def _qcow2_compressed_bomb(path: Path, packed: bytes, zstd: bool) -> None:
    """One 2 MiB cluster, compressed, whose stored run expands far beyond it."""
    bits = 21
    cluster = 1 << bits
    l1_at, l2_at, data_at = cluster, 2 * cluster, 3 * cluster
    sectors = -(-len(packed) // 512)
    shift = 62 - (bits - 8)
    assert sectors <= 1 << (bits - 8), "the packed run must fit the entry's sector count"
    entry = (1 << 62) | ((sectors - 1) << shift) | data_at
    image = bytearray(qcow2_header(cluster_bits=bits, size=cluster, l1_size=1, l1_offset=l1_at,
                                   zstd=zstd))  # fmt: skip
    image += bytes(l1_at - len(image)) + struct.pack(">Q", l2_at)
    image += bytes(l2_at - len(image)) + struct.pack(">Q", entry)
    image += bytes(data_at - len(image)) + packed
    path.write_bytes(bytes(image) + bytes(-len(image) % 512))


def qcow2_zstd_bomb(path: Path) -> None:
    """8 GiB of zeros in one zstd-compressed cluster (over the fuzz worker's 3 GiB cap)."""
    _qcow2_compressed_bomb(path, zstd_zeros_frame(8 << 30), zstd=True)


def qcow2_deflate_bomb(path: Path) -> None:
    """4 GiB of zeros as raw deflate in one cluster (about 4 MiB stored): 64 MiB compressed
    once, ended by a full flush (byte-aligned, no back-references across it), repeated, then a
    final empty block."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = packer.compress(bytes(64 << 20)) + packer.flush(zlib.Z_FULL_FLUSH)
    _qcow2_compressed_bomb(path, piece * 60 + b"\x03\x00", zstd=False)


def _vmdk_descriptor(extent: str) -> bytes:
    return (
        "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"
        'createType="monolithicFlat"\n\n# Extent description\n'
        f'RW 2048 FLAT "{extent}" 0\n\n# The Disk Data Base\n#DDB\n'
        'ddb.virtualHWVersion = "4"\nddb.geometry.cylinders = "2"\n'
        'ddb.geometry.heads = "16"\nddb.geometry.sectors = "63"\nddb.adapterType = "ide"\n'
    ).encode()


def vmdk_extent_traversal(path: Path) -> None:
    path.write_bytes(_vmdk_descriptor("../../etc/passwd"))


def vmdk_extent_absolute(path: Path) -> None:
    path.write_bytes(_vmdk_descriptor("/etc/passwd"))


def vhd_absurd_size(path: Path) -> None:
    """A dynamic VHD (qemu-img, 1 MiB) whose footer, and its copy at the start, claim a disk of
    2^63 - 512 bytes; the checksums are redone so that only the size is wrong."""
    raw = path.with_name(path.name + ".raw")
    raw.write_bytes(b"vhd " * (1 << 18))
    done = subprocess.run(
        ["qemu-img", "convert", "-f", "raw", "-O", "vpc", "-o", "subformat=dynamic", str(raw),
         str(path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    raw.unlink()
    image = bytearray(path.read_bytes())
    for at in (0, len(image) - 512):
        assert image[at : at + 8] == b"conectix"
        absurd = (1 << 63) - 512
        struct.pack_into(">QQ", image, at + 40, absurd, absurd)  # original and current size
        struct.pack_into(">I", image, at + 64, 0)
        checksum = ~sum(image[at : at + 512]) & 0xFFFFFFFF
        struct.pack_into(">I", image, at + 64, checksum)
    path.write_bytes(bytes(image))


DISKS: dict[str, Callable[[Path], None]] = {
    "qcow2-l1-4m-entries-huge-offset.qcow2": qcow2_huge_l1,
    "qcow2-l1-offset-past-any-file.qcow2": qcow2_l1_past_any_file,
    "qcow2-zstd-bomb.qcow2": qcow2_zstd_bomb,
    "qcow2-deflate-bomb.qcow2": qcow2_deflate_bomb,
    "vmdk-extent-traversal.vmdk": vmdk_extent_traversal,
    "vmdk-extent-absolute.vmdk": vmdk_extent_absolute,
    "vhd-absurd-size.vhd": vhd_absurd_size,
}
