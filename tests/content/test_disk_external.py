"""Disk images other projects publish, read through The Sleuth Kit and checked against what those
projects' own tests state and against an independent reader (Fox-IT's dissect, AGPL, used by
tests only; never by the package): NTFS deleted names, ext4 sparse files, (ex)FAT metadata.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kaitiaki.content.archivebase import ArchiveMember
from kaitiaki.content.disk import NOT_RECOVERABLE, iter_disk_files
from kaitiaki.content.diskmagic import RAW_DISK_MIME
from kaitiaki.scan.hasher import hash_path
from kaitiaki.signals.record import FileRecord
from nothing_skips import external, require


def _members(image: Path) -> Iterator[ArchiveMember]:
    with image.open("rb") as stream:
        yield from iter_disk_files(stream, RAW_DISK_MIME, image.stat().st_size, image)


def _inside(image: Path) -> dict[str, FileRecord]:
    records = list(hash_path(image))
    return {r.path.split("!/", 1)[1]: r for r in records[1:]}


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


# --- NTFS: deleted names (dissect.ntfs tests/_data/ntfs.bin) ---------------------------------


def _dissect_deleted_ntfs(image: Path) -> dict[str, str]:
    """Every file record NTFS marks free that still names a file: its path and content digest,
    as dissect.ntfs reads them from the MFT itself (not through any folder index)."""
    from dissect.ntfs import NTFS

    found: dict[str, str] = {}
    with image.open("rb") as fh:
        fs = NTFS(fh)
        for record in fs.mft.segments():
            if record.header.Flags & 1 or not record.filename or not record.is_file():
                continue  # in use, or holds no file
            path = record.full_path().replace("\\", "/")
            found[path] = _sha(record.open().read())
    return found


def test_ntfs_every_deleted_name_is_reported_with_its_content() -> None:
    image = external("dissect-ntfs", "tests/_data/ntfs.bin.gz", decoded=True)
    members = list(_members(image))
    deleted = {m.name: m for m in members if m.deleted}
    expected = _dissect_deleted_ntfs(image)
    assert len(expected) == 210  # "Large Directory/Directory N/File N.txt", N = 0..209
    assert set(deleted) == set(expected)  # none dropped, none invented
    inside = _inside(image)
    for path, digest in expected.items():
        record = inside[path]
        assert record.deleted and record.sha256 == digest, path
    # What dissect.ntfs's own test states of the live files is unchanged.
    assert inside["File.txt"].sha256 == _sha(b"Contents here")
    assert inside["Large.txt"].sha256 == _sha(b"A" * 2097152)
    assert {"Directory/File 1.txt", "Directory/File 2.txt"} <= set(inside)


def test_ntfs_deleted_names_match_the_sleuth_kits_fls() -> None:
    require(shutil.which("fls") is not None, "fls not installed (Debian sleuthkit)")
    image = external("dissect-ntfs", "tests/_data/ntfs.bin.gz", decoded=True)
    listed = subprocess.run(
        ["fls", "-r", "-p", "-d", "-F", str(image)], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    fls_deleted = {line.split("\t", 1)[1] for line in listed}
    ours = {m.name for m in _members(image) if m.deleted}
    assert len(fls_deleted) == 210 and ours == fls_deleted


def test_ntfs_system_files_are_recorded_as_file_system_metadata() -> None:
    image = external("dissect-ntfs", "tests/_data/ntfs.bin.gz", decoded=True)
    inside = _inside(image)
    system = {name for name, r in inside.items() if r.fs_metadata}
    assert {"$MFT", "$MFTMirr", "$LogFile", "$Bitmap", "$Boot", "$UpCase"} <= system
    assert all(name.startswith("$") and not name.startswith("$RECYCLE") for name in system)
    recycled = "$RECYCLE.BIN/S-1-5-21-311151722-437878493-4115995562-1000/desktop.ini"
    assert not inside[recycled].fs_metadata
    # dissect.ntfs's test: 4096-byte clusters; $Boot is the volume's first 8 KiB.
    assert inside["$Boot"].sha256 == _sha(image.read_bytes()[:8192])


# --- ext4 sparse files (dissect.extfs tests/data/ext4_sparse.bin) -----------------------------

_SPARSE_SIZES = {  # dissect.extfs tests/test_ext4.py, test_sparse
    "sparse_start": 0x3C000,
    "sparse_hole": 0x3C000,
    "sparse_end": 0x28000,
    "sparse_all": 0x500000,
}


def test_ext4_sparse_files_are_read_with_their_holes_as_zeros() -> None:
    from dissect.extfs import ExtFS

    image = external("dissect-extfs", "tests/data/ext4_sparse.bin.gz", decoded=True)
    assert image.stat().st_size < _SPARSE_SIZES["sparse_all"]  # larger than the whole image
    with image.open("rb") as fh:
        fs = ExtFS(fh)
        expected = {name: _sha(fs.get(name).open().read()) for name in _SPARSE_SIZES}
    inside = _inside(image)
    for name, size in _SPARSE_SIZES.items():
        assert inside[name].size == size and inside[name].sha256 == expected[name], name
    assert inside["sparse_all"].sha256 == _sha(bytes(_SPARSE_SIZES["sparse_all"]))


def test_a_sparse_files_holes_are_streamed_not_held() -> None:
    image = external("dissect-extfs", "tests/data/ext4_sparse.bin.gz", decoded=True)
    member = next(m for m in _members(image) if m.name == "sparse_all")
    assert member.open is not None
    tracemalloc.start()
    try:
        total = 0
        with member.open() as stream:
            while chunk := stream.read(1 << 16):
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == _SPARSE_SIZES["sparse_all"]
    assert peak < _SPARSE_SIZES["sparse_all"] // 2  # never the whole 5 MiB at once


# --- (ex)FAT metadata (dissect.fat tests/data) -----------------------------------------------


def _dissect_exfat_files(image: Path) -> dict[str, str]:
    """The user's files as dissect.fat lists them (it keeps the bitmap, up-case table and label
    apart, as ``bitmap_entry``/``upcase_entry``/``volume_entry``), with their digests."""
    from dissect.fat import exfat
    from dissect.util.stream import RunlistStream

    found: dict[str, str] = {}
    with image.open("rb") as fh:
        fs = exfat.ExFAT(fh)

        def walk(children: dict[str, Any], prefix: str) -> None:
            for name, (entry, inner) in children.items():
                if entry.metadata.attributes.directory:
                    walk(inner or {}, f"{prefix}{name}/")
                    continue
                stream = entry.stream
                runs = fs.runlist(stream.location, stream.flags.not_fragmented, stream.data_length)
                data = RunlistStream(fh, runs, stream.data_length, fs.sector_size).read()
                found[prefix + name] = _sha(data)

        walk(fs.files["/"][1], "")
    return found


def test_exfat_metadata_is_recorded_apart_and_never_analysed() -> None:
    image = external("dissect-fat", "tests/data/exfat.bin")
    inside = _inside(image)
    metadata = {name for name, r in inside.items() if r.fs_metadata}
    assert metadata == {"$ALLOC_BITMAP", "$UPCASE_TABLE", "THESIS (Volume Label Entry)"}
    for name in metadata:  # hashed, but no picture decoder ran on it
        assert inside[name].sha256 and inside[name].pdq is None
        assert inside[name].kind in ("other", "empty") and "pdq" not in (inside[name].error or "")
    users = {name: r.sha256 for name, r in inside.items() if not r.fs_metadata}
    assert users == _dissect_exfat_files(image)
    # dissect.fat's test_exfat: cat.jpg 88786 bytes, find_me.txt 9.
    assert inside["cat.jpg"].size == 88786 and inside["find_me.txt"].size == 9
    assert inside["cat.jpg"].kind == "image" and inside["cat.jpg"].pdq


def test_exfat_volume_guid_is_metadata() -> None:
    image = external("dissect-fat", "tests/data/exfat4m.bin")
    inside = _inside(image)
    users = {name for name, r in inside.items() if not r.fs_metadata}
    assert users == {"file.txt", "subdir/sub.txt"}  # dissect.fat's test_exfat_4m
    assert {"$ALLOC_BITMAP", "$UPCASE_TABLE", "$VOLUME_GUID"} <= set(inside) - users
    assert not [r for r in inside.values() if r.error and "pdq" in r.error]


def test_fat_volume_label_is_metadata_and_user_files_are_unchanged() -> None:
    from dissect.fat import fat

    for name, label in (("fat12", "VOLLAB1"), ("fat16", "LABFAT16"), ("fat32", "LABFAT32")):
        image = external("dissect-fat", f"tests/data/{name}.bin")
        inside = _inside(image)
        users = {path: r for path, r in inside.items() if not r.fs_metadata}
        assert set(users) == {"file1.txt", "file2.txt", "subdir1/file3.txt"}, name
        sizes = {"file1.txt": 20, "file2.txt": 23, "subdir1/file3.txt": 27}  # their test
        with image.open("rb") as fh:
            fs = fat.FATFS(fh)
            for path, size in sizes.items():
                assert users[path].size == size
                assert users[path].sha256 == _sha(fs.get(path).open().read()), (name, path)
        labels = [path for path, r in inside.items() if r.fs_metadata]
        assert len(labels) == 1 and labels[0].startswith(label), name


# --- pytsk3's own test image ------------------------------------------------------------------


def test_pytsk3_test_image_reads_as_its_tests_state() -> None:
    from dissect.extfs import ExtFS

    image = external("pytsk3", "test_data/image.raw")
    inside = _inside(image)
    # pytsk3 tests/fs_info.py: /passwords.txt (inode 15) holds 116 bytes; /a_directory/a_file.
    assert inside["passwords.txt"].size == 116
    with image.open("rb") as fh:
        fs = ExtFS(fh)
        for path in ("passwords.txt", "a_directory/a_file"):
            assert inside[path].sha256 == _sha(fs.get(path).open().read()), path
            assert not inside[path].deleted and not inside[path].fs_metadata
        assert inside["passwords.txt"].sha256 == _sha(fs.get_inode(15).open().read())
    # Deleted names whose inode is gone: reported, not recoverable, never dropped.
    for path in ("passwords.txt~", "a_directory/another_file~", "a_directory/.another_file.swp"):
        assert inside[path].deleted and inside[path].error
        assert (inside[path].error or "").startswith(NOT_RECOVERABLE)
    assert not [r for r in inside.values() if r.fs_metadata]


# --- partition tables of truncated images (dissect.volume tests/_data/disk) ------------------


def _volume_image(name: str) -> Path:
    return external("dissect-volume", f"tests/_data/disk/{name}")


def test_a_truncated_images_partitions_are_each_listed_with_why_they_are_missing() -> None:
    # Header-only images, as a failing drive's partial acquisition leaves them: TSK refused the
    # whole table ("Starting sector too large for image") and every partition was lost with it.
    # dissect.volume's test_mbr states two NTFS partitions at 0x100000 and 0x1F500000.
    inside = _inside(_volume_image("mbr.bin"))
    assert sorted(inside) == ["p1/", "p2/"]
    for folder, start in (("p1/", 0x100000), ("p2/", 0x1F500000)):
        error = inside[folder].error or ""
        assert f"starts at byte {start:,}, past the end of the image (512 bytes)" in error
        assert "NTFS / exFAT (0x07)" in error


def test_a_truncated_gpt_lists_the_partitions_its_project_states() -> None:
    # test_gpt: partition 1 at 20480 (an EFI System Partition, 0xC7FFE00 bytes), partition 2
    # at 0xC900000 (0x7465FFE00 bytes). Partition 1 starts inside the 32 KiB kept, so it is
    # probed (no file system in what is left); partition 2 starts past the end. dissect's size
    # is (last LBA - first LBA) sectors; GPT's last LBA is inclusive, so TSK counts one more.
    inside = _inside(_volume_image("gpt.bin"))
    first, second = inside["p1/"].error or "", inside["p2/"].error or ""
    assert f"EFI System Partition, sectors {20480 // 512}+{0xC7FFE00 // 512 + 1}" in first
    assert "no file system The Sleuth Kit reads" in first
    assert f"sectors {0xC900000 // 512}+{0x7465FFE00 // 512 + 1}" in second
    assert f"starts at byte {0xC900000:,}, past the end of the image" in second
