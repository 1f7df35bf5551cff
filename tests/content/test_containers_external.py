"""Containers examiners receive, on images other projects wrote: virtual disks (VMDK, VHD, VHDX,
QCOW2), ISO 9660, UDF and APFS.

Fixtures: Fox-IT dissect.hypervisor's virtual disks (their tests state each disk's size, its
first sector and the bytes at 2 MiB), libarchive's ISO images (their .c tests state the files
and contents), dissect.apfs's APFS containers; and disks written at test time by the formats'
reference tools (QEMU's qemu-img, udftools' mkudffs) from a FAT image, whose bytes and files
the disk read back must equal. QEMU is also the independent reader of the published disks.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from contextlib import ExitStack
from pathlib import Path

import pytest

from disk_samples import fat_image, needs
from kaitiaki.content.disk import iter_disk_files
from kaitiaki.content.diskimage import DiskImageError, open_image
from kaitiaki.content.diskmagic import (
    APFS_MIME,
    QCOW_MIME,
    RAW_DISK_MIME,
    UDF_MIME,
    VHD_MIME,
    VHDX_MIME,
    VMDK_MIME,
)
from kaitiaki.content.kinds import HEADER_SIZE, ContentKind, detect
from nothing_skips import external, require

MIB = 1024 * 1024
# The first sector dissect.hypervisor's tests state for its VHD/VHDX fixtures: one MBR, whose
# 4-byte disk signature (at 440) differs per disk.
_MBR_HEAD = bytes.fromhex(
    "33c08ed0bc007c8ec08ed8be007cbf0006b90002fcf3a450681c06cbfbb90400"
    "bdbe07807e00007c0b0f850e0183c510e2f1cd1888560055c6461105c6461000"
    "b441bbaa55cd135d720f81fb55aa7509f7c101007403fe46106660807e100074"
    "2666680000000066ff760868000068007c680100681000b4428a56008bf4cd13"
    "9f83c4109eeb14b80102bb007c8a56008a76018a4e028a6e03cd136661731cfe"
    "4e11750c807e00800f848a00b280eb845532e48a5600cd135deb9e813efe7d55"
    "aa756eff7600e88d007517fab0d1e664e88300b0dfe660e87c00b0ffe664e875"
    "00fbb800bbcd1a6623c0753b6681fb54435041753281f90201722c666807bb00"
    "006668000200006668080000006653665366556668000000006668007c000066"
    "6168000007cd1a5a32f6ea007c0000cd18a0b707eb08a0b607eb03a0b50732e4"
    "0500078bf0ac3c007409bb0700b40ecd10ebf2f4ebfd2bc9e464eb002402e0f8"
    "2402c3496e76616c696420706172746974696f6e207461626c65004572726f72"
    "206c6f6164696e67206f7065726174696e672073797374656d004d697373696e"
    "67206f7065726174696e672073797374656d000000637b9a"
)
_MBR_TAIL = bytes.fromhex(
    "3dad8c00000002030007e525008000000000380000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000055aa"
)


def _hypervisor(name: str) -> Path:
    return external("dissect-hypervisor", f"tests/_data/disk/{name}.gz", decoded=True)


def _mime(path: Path) -> str:
    with path.open("rb") as stream:
        found = detect(stream.read(HEADER_SIZE))
    assert found.kind == ContentKind.DISK_IMAGE, found
    return found.mime


def _media(path: Path, mime: str) -> tuple[int, bytes, str]:
    """The disk inside ``path``: its size, first sector and SHA-256, read as TSK reads it."""
    with ExitStack() as stack, path.open("rb") as stream:
        image, size = open_image(stream, mime, path.stat().st_size, stack, path)
        digest = hashlib.sha256()
        for offset in range(0, size, 4 * MIB):
            digest.update(image.read(offset, min(4 * MIB, size - offset)))
        return size, image.read(0, 512), digest.hexdigest()


def _files(
    path: Path, metadata: set[str] | None = None
) -> dict[str, tuple[int | None, str | None, str | None]]:
    """The image's user files: path inside it -> (size, SHA-256 of the content read, error).

    The file systems' own files (NTFS's $MFT, ...) and deleted ones go to ``metadata`` by name
    instead: these fixtures hold no user files, and what a file system keeps of deleted entries
    is another test's business."""
    found: dict[str, tuple[int | None, str | None, str | None]] = {}
    with path.open("rb") as stream:
        for member in iter_disk_files(stream, _mime(path), path.stat().st_size, path):
            if member.fs_metadata or member.deleted:
                if metadata is not None:
                    metadata.add(member.name)
                continue
            digest = None
            if member.open is not None:
                with member.open() as content:
                    digest = hashlib.sha256(content.read()).hexdigest()
            found[member.name] = (member.size, digest, member.error)
    return found


def _qemu_raw(path: Path, tmp_path: Path) -> bytes:
    """The disk as QEMU reads it (an independent reader of the same format)."""
    needs("qemu-img")
    raw = tmp_path / f"{path.name}.qemu.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", str(path), str(raw)], check=True)
    return raw.read_bytes()


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


@pytest.mark.parametrize(
    ("name", "mime", "signature"),
    [
        ("vhd/dynamic.vhd", VHD_MIME, "e1"),
        ("vhdx/fixed.vhdx", VHDX_MIME, "8a"),
        ("vhdx/dynamic.vhdx", VHDX_MIME, "f9"),
    ],
)
def test_published_vhd_and_vhdx_read_as_their_project_states(
    name: str, mime: str, signature: str, tmp_path: Path
) -> None:
    disk = _hypervisor(name)
    assert _mime(disk) == mime
    size, first, digest = _media(disk, mime)
    assert size == 10 * MIB  # stated: vhd.size == 10485760
    assert first == _MBR_HEAD + bytes.fromhex(signature) + _MBR_TAIL
    with ExitStack() as stack, disk.open("rb") as stream:
        image, _ = open_image(stream, mime, disk.stat().st_size, stack, disk)
        assert image.read(0x200000, 512) == b"\xff" * 512  # stated
    assert digest == _sha(_qemu_raw(disk, tmp_path))
    # One NTFS partition holding no user files: walked without an error, only NTFS's own files.
    metadata: set[str] = set()
    assert _files(disk, metadata) == {}
    assert {"p1/$MFT", "p1/$Boot"} <= metadata


def test_published_fixed_vhd_is_the_raw_disk_it_starts_with() -> None:
    disk = _hypervisor("vhd/fixed.vhd")
    assert _mime(disk) == RAW_DISK_MIME  # the "conectix" footer is at the end, not the start
    size, first, _ = _media(disk, RAW_DISK_MIME)
    assert size == 10 * MIB + 512  # the disk, then its footer
    assert first == _MBR_HEAD + bytes.fromhex("eb") + _MBR_TAIL
    metadata: set[str] = set()
    assert _files(disk, metadata) == {}
    assert "p1/$MFT" in metadata


def test_published_qcow2_holds_the_stated_pattern() -> None:
    disk = _hypervisor("qcow2/basic.qcow2")
    assert _mime(disk) == QCOW_MIME
    with ExitStack() as stack, disk.open("rb") as stream:
        image, size = open_image(stream, QCOW_MIME, disk.stat().st_size, stack, disk)
        assert size == 536870912  # stated
        for mib in (0, 1, 2, 100, 254):  # stated: MiB i is filled with byte i
            assert image.read(mib * MIB, MIB) == bytes([mib]) * MIB
    with pytest.raises(DiskImageError, match="no partition table or file system"):
        _files(disk)  # a pattern, no file system: the recorded reason says so


def test_published_qcow2_with_snapshots_reads_the_current_disk() -> None:
    disk = _hypervisor("qcow2/snapshot.qcow2")
    with ExitStack() as stack, disk.open("rb") as stream:
        image, size = open_image(stream, QCOW_MIME, disk.stat().st_size, stack, disk)
        assert size == 536870912
        assert image.read(0, 4 * MIB) == bytes(4 * MIB)  # stated: the first 4 MiB are zeros


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("qcow2/backing-chain-1.qcow2", r"backing file \(backing-chain-2\.qcow2\)"),
        ("vhdx/differencing.avhdx", r"VHDX differencing disk: its parent disk \(.*\.avhdx\)"),
        ("vmdk/sesparse.vmdk", r"VMDK virtual disk unreadable: .*unsupported"),
    ],
)
def test_published_disks_needing_more_are_refused_with_the_reason(name: str, reason: str) -> None:
    disk = _hypervisor(name)
    assert _mime(disk) in (QCOW_MIME, VHDX_MIME, VMDK_MIME)
    with pytest.raises(DiskImageError, match=reason):
        _files(disk)


_BENIGN = {
    "DOCS/readme.txt": b"kaitiaki container test\n" * 200,
    "DCIM/pattern.bin": bytes(range(256)) * 97,
    "top.txt": b"top level\n",
}


@pytest.fixture(scope="module")
def fat_disk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fat_image(tmp_path_factory.mktemp("fat") / "card.fs", _BENIGN)


@pytest.mark.parametrize(
    ("fmt", "options", "mime"),
    [
        ("vmdk", [], VMDK_MIME),
        ("vmdk", ["-o", "subformat=streamOptimized"], VMDK_MIME),
        ("vmdk", ["-o", "subformat=monolithicFlat"], VMDK_MIME),
        ("vmdk", ["-o", "subformat=twoGbMaxExtentSparse"], VMDK_MIME),
        ("vpc", [], VHD_MIME),
        ("vhdx", [], VHDX_MIME),
        ("qcow2", [], QCOW_MIME),
        ("qcow2", ["-c"], QCOW_MIME),
        ("qcow2", ["-o", "compat=0.10"], QCOW_MIME),  # QCOW2 version 2
    ],
)
def test_disks_written_by_qemu_hold_the_raw_disk_and_its_files(
    fmt: str, options: list[str], mime: str, fat_disk: Path, tmp_path: Path
) -> None:
    needs("qemu-img")
    disk = tmp_path / f"card.{fmt}"
    command = ["qemu-img", "convert", "-f", "raw", "-O", fmt, *options, str(fat_disk), str(disk)]
    subprocess.run(command, check=True, capture_output=True)
    assert _mime(disk) == mime
    raw = fat_disk.read_bytes()
    size, _, digest = _media(disk, mime)
    # VHD rounds the disk up to its cylinder geometry: what follows the raw disk is zeros.
    padded = raw + bytes(size - len(raw))
    assert size >= len(raw) and digest == _sha(padded)
    files = _files(disk)
    assert files == {name: (len(data), _sha(data), None) for name, data in _BENIGN.items()}


def test_qcow2_compressed_clusters_packed_to_a_sector_read_whole(tmp_path: Path) -> None:
    """QEMU packs small compressed clusters several to a sector (libqcow reads them as zeros)."""
    needs("qemu-img")
    raw = tmp_path / "pattern.raw"
    raw.write_bytes(b"".join(bytes([i]) * MIB for i in range(8)))
    disk = tmp_path / "pattern.qcow2"
    command = ["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", str(raw), str(disk)]
    subprocess.run(command, check=True, capture_output=True)
    assert disk.stat().st_size < MIB  # compressed indeed
    assert _media(disk, QCOW_MIME)[2] == _sha(raw.read_bytes())


def test_qcow_version_1_is_refused_with_the_reason(fat_disk: Path, tmp_path: Path) -> None:
    needs("qemu-img")
    disk = tmp_path / "card.qcow"
    command = ["qemu-img", "convert", "-f", "raw", "-O", "qcow", str(fat_disk), str(disk)]
    subprocess.run(command, check=True, capture_output=True)
    assert _mime(disk) == QCOW_MIME
    with pytest.raises(DiskImageError, match=r"^QCOW version 1: not read"):
        _files(disk)


def test_vmdk_descriptor_reads_extents_only_beside_it(fat_disk: Path, tmp_path: Path) -> None:
    needs("qemu-img")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    descriptor = tmp_path / "card.vmdk"
    command = ["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=monolithicFlat"]
    subprocess.run([*command, str(fat_disk), str(descriptor)], check=True, capture_output=True)
    shutil.move(tmp_path / "card-flat.vmdk", elsewhere / "card-flat.vmdk")
    text = descriptor.read_text(encoding="ascii", errors="replace")
    descriptor.write_text(
        text.replace('"card-flat.vmdk"', '"elsewhere/../elsewhere/card-flat.vmdk"')
    )
    with pytest.raises(DiskImageError, match=r"extent file .* missing beside it"):
        _files(descriptor)
    shutil.copy(elsewhere / "card-flat.vmdk", tmp_path / "card-flat.vmdk")
    assert set(_files(descriptor)) == set(_BENIGN)  # the base name, found beside it


def _iso(member: str) -> Path:
    """A libarchive ISO test image, uudecoded and then uncompressed (compress(1), ".Z")."""
    compressed = external("libarchive", f"libarchive/test/{member}.Z.uu", decoded=True)
    iso = compressed.with_suffix("")
    if not iso.exists():
        gzip = shutil.which("gzip")
        require(gzip is not None, "gzip (which reads compress(1) files) not installed")
        done = subprocess.run([str(gzip), "-dc", str(compressed)], capture_output=True, check=True)
        partial = iso.with_name(iso.name + ".part")
        partial.write_bytes(done.stdout)
        partial.replace(iso)
    return iso


def test_iso9660_rock_ridge_image_files_as_libarchive_states() -> None:
    iso = _iso("test_read_format_iso_rockridge.iso")
    assert _mime(iso) == RAW_DISK_MIME
    files = _files(iso)
    # Stated (test_read_format_isorr_bz2.c): "file" is "hello\n" and 12,345,678 zero bytes,
    # "hardlink" its hard link. TSK reads the ISO 9660 names (upper case), not Rock Ridge's; the
    # six symbolic links are empty entries there.
    content = _sha(b"hello\n" + bytes(12345678))
    assert files["FILE"] == (12345684, content, None)
    assert files["HARDLINK"] == (12345684, content, None)
    links = {f"SYMLINK{n}" for n in ("", "2", "3", "4", "5", "6")}
    assert set(files) == {"FILE", "HARDLINK"} | links
    assert all(files[link] == (0, _sha(b""), None) for link in links)


def test_iso9660_joliet_image_files_as_libarchive_states() -> None:
    files = _files(_iso("test_read_format_iso_joliet_rockridge.iso"))
    # Stated (test_read_format_isojoliet_rr.c): the long Joliet name holds "hello\n".
    hello = (6, _sha(b"hello\n"), None)
    assert files == {"long-joliet-file-name.textfile": hello, "hardlink": hello}


def test_iso9660_image_with_only_a_root_folder_lists_nothing() -> None:
    iso = _iso("test_read_format_iso.iso")  # stated: one entry, the root folder
    assert _mime(iso) == RAW_DISK_MIME
    assert _files(iso) == {}


def test_udf_written_by_mkudffs_is_recorded_as_not_read(tmp_path: Path) -> None:
    needs("mkudffs")
    udf = tmp_path / "disc.udf"
    with udf.open("wb") as out:
        out.truncate(4 * MIB)
    subprocess.run(["mkudffs", "--label=KAITIAKI", str(udf)], check=True, capture_output=True)
    assert _mime(udf) == UDF_MIME
    # UDF-only (no ISO 9660 side): pycdlib does not open it (tests/content/test_apfs_udf.py
    # reads a UDF bridge's files).
    ((name, (_, _, error)),) = _files(udf).items()
    assert name == "" and "UDF file system: not read (no ISO 9660 side" in (error or "")


@pytest.mark.parametrize("name", ["case_sensitive.bin", "jhfs_converted.bin"])
def test_apfs_container_is_read(name: str) -> None:
    container = external("dissect-apfs", f"tests/_data/{name}.gz", decoded=True)
    assert _mime(container) == APFS_MIME
    # Stated (dissect.apfs tests/test_apfs.py): dir/file holds "\uf8ff File System\n".
    stated = "\uf8ff File System\n".encode()
    with container.open("rb") as stream:
        size = container.stat().st_size
        for member in iter_disk_files(stream, APFS_MIME, size, container):
            if member.name == "v1/dir/file":
                assert member.open is not None
                with member.open() as content:
                    assert content.read() == stated
                return
    raise AssertionError("v1/dir/file not listed")
