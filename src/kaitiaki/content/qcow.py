"""QCOW2 (versions 2 and 3) read as the disk it holds: QEMU's copy-on-write format.

Read here rather than through libqcow: libqcow-python 20260703 returns zeros, silently, for
compressed clusters that QEMU packs several to a sector (``qemu-img convert -c`` of any
compressible disk; Fox-IT dissect.hypervisor's basic.qcow2 fixture shows it), and a reader
that loses evidence without an error is worse than none. The format (QEMU's docs/interop/qcow2.txt)
is two levels of tables mapping each guest cluster to a host cluster, a compressed cluster or
nothing (zeros).

Refused with their reason: a backing file or external data file (the rest of the disk lies in
another file), encryption, extended L2 entries (subclusters) and zstd compression without a zstd
module (``backports.zstd`` or ``zstandard``). QCOW version 1 is refused too.
"""

from __future__ import annotations

import importlib
import struct
import sys
import zlib
from array import array
from typing import Any, BinaryIO

from kaitiaki.content.diskimage import DiskImageError

_MAGIC = b"QFI\xfb"
_OFFSET_MASK = 0x00FFFFFFFFFFFE00  # host offset bits of L1 and standard L2 entries
_COMPRESSED = 1 << 62
_ZERO = 1  # v3 standard L2 entry: the cluster reads as zeros
_INCOMPATIBLE = {
    1 << 2: "an external data file holds its data",
    1 << 4: "extended L2 entries (subclusters)",
}
_CORRUPT, _COMPRESSION_TYPE = 1 << 1, 1 << 3
_MAX_CLUSTER_BITS = 21  # QEMU's limit: 2 MiB clusters
_MAX_OFFSET = (1 << 63) - 1
_MAX_L1_ENTRIES = 1 << 22  # 32 MiB of table: 2 PiB of disk at QEMU's default 64 KiB clusters


class Qcow2Disk:
    """Random access to the guest disk of a QCOW2 image read from ``stream`` (seekable)."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        stream.seek(0)
        header = stream.read(112)
        if len(header) < 72 or header[:4] != _MAGIC:
            raise DiskImageError("QCOW image: header missing or truncated")
        version = struct.unpack_from(">I", header, 4)[0]
        if version not in (2, 3):
            raise DiskImageError(f"QCOW version {version}: not read (versions 2 and 3 are)")
        backing_offset, backing_size, self._cluster_bits = struct.unpack_from(">QII", header, 8)
        self.size, crypt, l1_size, l1_offset = struct.unpack_from(">QIIQ", header, 24)
        for what, offset in (("backing file name", backing_offset), ("L1 table", l1_offset)):
            # A file offset is at most 2^63 - 1; seek() refuses more with a ValueError.
            if offset > _MAX_OFFSET:
                raise DiskImageError(f"QCOW image: {what} offset {offset} is past any file's end")
        if backing_offset:
            stream.seek(backing_offset)
            name = stream.read(min(backing_size, 1023)).decode("utf-8", "replace")
            raise DiskImageError(
                f"QCOW disk over a backing file ({name}): the backing file is not read; only "
                "the changes would be, so the disk is not walked; the image file itself is hashed"
            )
        if crypt:
            raise DiskImageError("QCOW disk is encrypted (a password is needed); not read")
        if not 9 <= self._cluster_bits <= _MAX_CLUSTER_BITS:
            raise DiskImageError(f"QCOW image: cluster size 2^{self._cluster_bits} is invalid")
        self._zstd = False
        if version == 3 and len(header) >= 104:
            incompatible = struct.unpack_from(">Q", header, 72)[0]
            for bit, what in _INCOMPATIBLE.items():
                if incompatible & bit:
                    raise DiskImageError(f"QCOW disk: {what}; not read")
            if incompatible & _CORRUPT:
                raise DiskImageError("QCOW disk marked corrupt by QEMU; not read")
            if incompatible & _COMPRESSION_TYPE and len(header) >= 105:
                self._zstd = header[104] == 1
        self._cluster = 1 << self._cluster_bits
        self._l2_bits = self._cluster_bits - 3
        needed = -(-self.size // (self._cluster << self._l2_bits))
        if l1_size < needed or l1_size > _MAX_L1_ENTRIES:
            raise DiskImageError(f"QCOW image: L1 table of {l1_size} entries, {needed} needed")
        # Checked before seeking: a file system refuses a seek far past its largest file
        # (EINVAL), which would say nothing of where the image is wrong.
        self._file_size = stream.seek(0, 2)
        if l1_offset + 8 * l1_size > self._file_size:
            raise DiskImageError(
                f"QCOW image: L1 table of {l1_size} entries at byte {l1_offset} runs past the "
                f"image's end ({self._file_size} bytes)"
            )
        stream.seek(l1_offset)
        raw = stream.read(8 * l1_size)
        if len(raw) != 8 * l1_size:
            raise DiskImageError(f"QCOW image: L1 table at byte {l1_offset} truncated")
        self._l1 = _big_endian_u64(raw)
        self._l2_cache: dict[int, array[int]] = {}

    def read(self, offset: int, length: int) -> bytes:
        """``length`` bytes of the guest disk from ``offset`` (fewer at its end)."""
        length = max(0, min(length, self.size - offset))
        parts: list[bytes] = []
        while length > 0:
            within = offset & (self._cluster - 1)
            take = min(length, self._cluster - within)
            parts.append(self._cluster_data(offset >> self._cluster_bits)[within : within + take])
            offset += take
            length -= take
        return b"".join(parts)

    def _cluster_data(self, index: int) -> bytes:
        entry = self._l2_entry(index)
        if entry & _COMPRESSED:
            return self._compressed(entry, index)
        host = entry & _OFFSET_MASK
        if entry & _ZERO or host == 0:
            return bytes(self._cluster)
        if host >= self._file_size:  # not zeros: the table points at data the image lacks
            raise OSError(f"QCOW cluster {index} at byte {host}, past the image's end")
        self._stream.seek(host)
        data = self._stream.read(self._cluster)
        if len(data) < self._cluster:  # the image's last cluster may stop short
            data += bytes(self._cluster - len(data))
        return data

    def _l2_entry(self, index: int) -> int:
        l1_index, l2_index = index >> self._l2_bits, index & ((1 << self._l2_bits) - 1)
        table_offset = self._l1[l1_index] & _OFFSET_MASK if l1_index < len(self._l1) else 0
        if table_offset == 0:
            return 0
        table = self._l2_cache.get(table_offset)
        if table is None:
            raw = b""
            if table_offset + self._cluster <= self._file_size:
                self._stream.seek(table_offset)
                raw = self._stream.read(self._cluster)
            if len(raw) != self._cluster:
                raise OSError(f"QCOW L2 table at byte {table_offset} truncated")
            if len(self._l2_cache) >= 64:
                self._l2_cache.clear()
            table = self._l2_cache[table_offset] = _big_endian_u64(raw)
        return int(table[l2_index])

    def _compressed(self, entry: int, index: int) -> bytes:
        shift = 62 - (self._cluster_bits - 8)
        host = entry & ((1 << shift) - 1)
        sectors = ((entry >> shift) & ((1 << (self._cluster_bits - 8)) - 1)) + 1
        if host >= self._file_size:
            raise OSError(f"QCOW compressed cluster {index} at byte {host}, past the image's end")
        self._stream.seek(host)
        packed = self._stream.read(sectors * 512 - (host & 511))
        try:
            if self._zstd:
                data = _zstd(packed, self._cluster)
            else:
                # Raw deflate; the stored run may end with bytes of the next cluster.
                data = zlib.decompressobj(-15).decompress(packed, self._cluster)
        except zlib.error as exc:
            raise OSError(f"QCOW compressed cluster {index} damaged: {exc}") from exc
        if len(data) != self._cluster:
            raise OSError(f"QCOW compressed cluster {index} gave {len(data)} bytes")
        return data


def _zstd(packed: bytes, size: int) -> bytes:
    """One zstd cluster, never more than ``size`` bytes out (a cluster's stored run is at most
    two clusters long, but a zstd frame of zeros can expand a million-fold).

    Read by the standard library's ``compression.zstd`` (Python 3.14), its backport
    ``backports.zstd`` (which py7zr brings on older Pythons), or ``zstandard``.
    """
    module = _zstd_module()
    if module is not None:
        try:
            data: bytes = module.ZstdDecompressor().decompress(packed, max_length=size)
        except module.ZstdError as exc:
            raise OSError(f"zstd data damaged: {exc}") from exc
        return data
    try:
        import zstandard  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        raise OSError(
            "QCOW cluster compressed with zstd: reading it needs backports.zstd or zstandard (PyPI)"
        ) from None
    # stream_reader(...).read(n) stops at n bytes; decompressobj().decompress() has no bound.
    try:
        with zstandard.ZstdDecompressor().stream_reader(packed) as reader:
            bounded: bytes = reader.read(size)
    except zstandard.ZstdError as exc:
        raise OSError(f"zstd data damaged: {exc}") from exc
    return bounded


def _zstd_module() -> Any | None:
    for name in ("compression.zstd", "backports.zstd"):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return None


def _big_endian_u64(raw: bytes) -> array[int]:
    """QCOW's tables: big-endian 64-bit entries, kept as a compact array."""
    table = array("Q", raw)
    if sys.byteorder == "little":
        table.byteswap()
    return table
