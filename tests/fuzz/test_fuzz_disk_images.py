"""Disk images (raw, with or without a partition table): any input ends in files read (or
recorded with their error) or a ``DiskImageError``; a scan of it never raises; never a crash,
hang or blow-up. Seeds are small ext4 images made by ``mke2fs`` (``disk_samples``)."""

from __future__ import annotations

import struct
import subprocess

import pytest
from fuzz_sandbox import Sandbox
from fuzz_support import FUZZ, check_bytes, mutated
from hypothesis import given
from hypothesis import strategies as st

from disk_samples import ext4_image, needs

FILES = {"DCIM/a.txt": b"first file\n" * 50, "b.bin": bytes(range(256)) * 40, "c": b"c"}
# Where ext4 keeps what TSK parses first: superblock, group descriptors, bitmaps, inode table.
METADATA = 96 << 10
SECTOR = 512
START = 2048  # first partition's sector, as partitioning tools place it


@pytest.fixture(scope="session")
def ext4_seed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("ext4-seed")
    return ext4_image(folder / "seed.img", FILES, deleted=("c",), size="2M").read_bytes()


@pytest.fixture(scope="session")
def e01_seed(tmp_path_factory: pytest.TempPathFactory, ext4_seed: bytes) -> bytes:
    """The ext4 seed as one E01 segment (ewfacquire, deflate), as an examiner receives it."""
    needs("ewfacquire")
    folder = tmp_path_factory.mktemp("e01-seed")
    (folder / "seed.dd").write_bytes(ext4_seed)
    done = subprocess.run(
        [
            "ewfacquire",
            "-u",
            "-t",
            str(folder / "seized"),
            "-c",
            "deflate:fast",
            "-S",
            "64MiB",
            str(folder / "seed.dd"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return (folder / "seized.E01").read_bytes()


def with_mbr(fs: bytes, entries: list[tuple[int, int, int]] | None = None) -> bytes:
    """``fs`` in partition 1 of an MBR disk; ``entries`` (type, start, sectors) override it."""
    mbr = bytearray(SECTOR)
    for slot, (kind, start, sectors) in enumerate(entries or [(0x83, START, len(fs) // SECTOR)]):
        struct.pack_into("<B3xB3xII", mbr, 446 + 16 * slot, 0, kind, start, sectors)
    mbr[510:512] = b"\x55\xaa"
    return bytes(mbr) + bytes(START * SECTOR - SECTOR) + fs


@FUZZ
@given(data=st.data(), cut=st.one_of(st.none(), st.integers(0, 2 << 20)))
def test_ext4_metadata_mutations(
    sandbox: Sandbox, ext4_seed: bytes, data: st.DataObject, cut: int | None
) -> None:
    head = data.draw(mutated(ext4_seed[:METADATA], max_ops=6), label="metadata")
    image = (head + ext4_seed[METADATA:])[:cut]
    check_bytes(sandbox, "disk_image", image, ".img")


_sector = st.integers(0, 0xFFFFFFFF)


@FUZZ
@given(
    entries=st.lists(
        st.tuples(st.sampled_from([0x83, 0x07, 0x0C, 0x05, 0xEE, 0x00]), _sector, _sector),
        min_size=1,
        max_size=4,
    )
)
def test_hostile_partition_tables(
    sandbox: Sandbox, ext4_seed: bytes, entries: list[tuple[int, int, int]]
) -> None:
    # Partitions past the end, overlapping, zero-sized, extended tables that loop.
    check_bytes(sandbox, "disk_image", with_mbr(ext4_seed, entries), ".img")


@FUZZ
@given(data=st.data())
def test_scan_of_mutated_partitioned_images(
    sandbox: Sandbox, ext4_seed: bytes, data: st.DataObject
) -> None:
    image = with_mbr(ext4_seed)
    head = data.draw(mutated(image[: START * SECTOR + METADATA], max_ops=3), label="head")
    check_bytes(sandbox, "scan", head + image[START * SECTOR + METADATA :], ".img")


@FUZZ
@given(data=st.data())
def test_scan_of_mutated_e01(sandbox: Sandbox, e01_seed: bytes, data: st.DataObject) -> None:
    # libewf parses the segment's sections (headers, tables, compressed chunks) in C.
    image = data.draw(mutated(e01_seed, max_ops=3), label="e01")
    check_bytes(sandbox, "scan", image, ".E01")


def test_seeds_are_read(sandbox: Sandbox, ext4_seed: bytes, e01_seed: bytes) -> None:
    """The seeds' files are found (the deleted one recorded): mutations start from sound input."""
    for image in (ext4_seed, with_mbr(ext4_seed)):
        assert check_bytes(sandbox, "disk_image", image, ".img").summary == "3 files, 0 unreadable"
    assert check_bytes(sandbox, "scan", e01_seed, ".E01").summary == "4 records, 1 with errors"
