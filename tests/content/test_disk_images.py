"""Disk images read through The Sleuth Kit: FAT, ext4, NTFS, MBR and GPT, E01; deleted files."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from skimage import data

from disk_samples import (
    MTIME,
    debugfs,
    ext4_image,
    fat_image,
    inode_of,
    needs,
    ntfs_image,
    partitioned_image,
)
from kaitiaki.content.disk import NOT_RECOVERABLE
from kaitiaki.content.diskimage import ewf_reader
from kaitiaki.content.diskmagic import (
    APFS_MIME,
    EWF_MIME,
    RAW_DISK_MIME,
    VIRTUAL_DISK_MIMES,
    disk_image_mime,
)
from kaitiaki.content.kinds import HEADER_SIZE, ContentKind, detect
from kaitiaki.scan.hasher import hash_path
from kaitiaki.signals.pdq import hash_image_bytes
from kaitiaki.signals.record import FileRecord

WHEN = datetime.fromtimestamp(MTIME, UTC)


def _jpeg(array: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=90)  # type: ignore[arg-type]
    return buffer.getvalue()


@pytest.fixture(scope="module")
def photos() -> dict[str, bytes]:
    return {"astronaut": _jpeg(data.astronaut()), "coffee": _jpeg(data.coffee())}


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _inside(image: Path) -> dict[str, FileRecord]:
    """Records of the files inside ``image``, by their path inside it."""
    records = list(hash_path(image))
    assert records[0].path == str(image) and records[0].kind == ContentKind.DISK_IMAGE
    assert records[0].sha256 == _sha(image.read_bytes())
    return {r.path.split("!/", 1)[1]: r for r in records[1:]}


def _files(photos: dict[str, bytes]) -> dict[str, bytes]:
    return {"DCIM/astro.jpg": photos["astronaut"], "DCIM/coffee.jpg": photos["coffee"]}


def test_detected_by_bytes_never_by_name(tmp_path: Path, photos: dict[str, bytes]) -> None:
    fat = fat_image(tmp_path / "card.jpg", _files(photos))  # a misleading name
    header = fat.read_bytes()[:HEADER_SIZE]
    assert detect(header).kind == ContentKind.DISK_IMAGE
    assert detect(header).mime == RAW_DISK_MIME
    assert detect(photos["astronaut"][:HEADER_SIZE]).kind == ContentKind.IMAGE
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("a.txt", "x")
    assert detect(zipped.getvalue()).kind == ContentKind.ARCHIVE
    assert detect(b"EVF\x09\x0d\x0a\xff\x00\x01\x01\x00" + bytes(100)).mime == EWF_MIME


@given(st.binary(min_size=0, max_size=4096))
def test_arbitrary_bytes_never_break_detection(blob: bytes) -> None:
    assert disk_image_mime(blob) in (None, RAW_DISK_MIME, EWF_MIME, APFS_MIME, *VIRTUAL_DISK_MIMES)
    assert detect(blob).kind in set(ContentKind)


@given(st.binary(min_size=64, max_size=64), st.sampled_from([0x01, 0x7F, 0xFF]))
def test_a_boot_signature_alone_is_not_a_partition_table(entries: bytes, status: int) -> None:
    """0x55AA is two bytes: entries with an impossible status byte make it no table at all."""
    sector = bytearray(512)
    sector[446:510] = entries
    sector[446] = status
    sector[510:512] = b"\x55\xaa"
    assert disk_image_mime(bytes(sector)) is None


def test_fat_deleted_file_is_recovered_and_flagged(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    image = fat_image(tmp_path / "fat.dd", _files(photos), deleted=("DCIM/coffee.jpg",))
    before = _sha(image.read_bytes())
    inside = _inside(image)
    astro = inside["DCIM/astro.jpg"]
    assert astro.sha256 == _sha(photos["astronaut"]) and not astro.deleted
    assert astro.size == len(photos["astronaut"])
    # FAT writes 0xE5 over a deleted name's first letter; TSK shows it as "_".
    gone = inside["DCIM/_offee.jpg"]
    assert gone.deleted and gone.error is None
    assert gone.sha256 == _sha(photos["coffee"])
    assert gone.pdq == hash_image_bytes(photos["coffee"]).hex
    assert any("deleted file" in note for note in gone.notes)
    # FAT: modification time to 2 s, access date only, no change time.
    assert astro.modified_at == WHEN and gone.modified_at == WHEN
    assert astro.accessed_at == WHEN.replace(hour=0, minute=0, second=0)
    assert astro.changed_at is None
    assert _sha(image.read_bytes()) == before  # the evidence is never written to


def test_fat_times_do_not_depend_on_the_examiners_zone(
    tmp_path: Path, photos: dict[str, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    image = fat_image(tmp_path / "fat.dd", _files(photos))
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    inside = _inside(image)
    assert inside["DCIM/astro.jpg"].modified_at == WHEN
    assert os.environ["TZ"] == "Pacific/Auckland"  # put back after the walk


def test_ext4_deleted_file_without_blocks_is_recorded_not_recoverable(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    image = ext4_image(tmp_path / "ext.dd", _files(photos), deleted=("DCIM/coffee.jpg",))
    inside = _inside(image)
    kept = inside["DCIM/astro.jpg"]
    assert kept.sha256 == _sha(photos["astronaut"]) and not kept.deleted
    assert kept.modified_at == WHEN
    assert None not in (kept.accessed_at, kept.changed_at, kept.created_on_fs_at)
    gone = inside["DCIM/coffee.jpg"]
    assert gone.deleted and gone.sha256 is None
    assert gone.error == NOT_RECOVERABLE
    assert gone.size == len(photos["coffee"]) and gone.modified_at == WHEN


def test_ext4_deleted_file_with_blocks_still_mapped_is_hashed(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    image = ext4_image(
        tmp_path / "ext.dd", _files(photos), deleted=("DCIM/coffee.jpg",), wipe_extents=False
    )
    gone = _inside(image)["DCIM/coffee.jpg"]
    assert gone.deleted and gone.sha256 == _sha(photos["coffee"])


def test_partition_tables_give_partition_paths(tmp_path: Path, photos: dict[str, bytes]) -> None:
    fat = fat_image(tmp_path / "p1.fs", {"a.jpg": photos["astronaut"]})
    ext = ext4_image(tmp_path / "p2.fs", {"DCIM/c.jpg": photos["coffee"]}, size="4M")
    mbr = partitioned_image(tmp_path / "mbr.dd", "dos", [(fat, "c"), (ext, "83")])
    inside = _inside(mbr)
    assert inside["p1/a.jpg"].sha256 == _sha(photos["astronaut"])
    assert inside["p2/DCIM/c.jpg"].sha256 == _sha(photos["coffee"])
    basic_data = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
    gpt = partitioned_image(tmp_path / "gpt.dd", "gpt", [(fat, basic_data)])
    assert _inside(gpt)["p1/a.jpg"].sha256 == _sha(photos["astronaut"])


def test_partition_without_a_file_system_is_one_error(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    fat = fat_image(tmp_path / "p1.fs", {"a.jpg": photos["astronaut"]})
    blank = tmp_path / "blank.fs"
    blank.write_bytes(bytes(1 << 20))
    mbr = partitioned_image(tmp_path / "mbr.dd", "dos", [(fat, "c"), (blank, "83")])
    inside = _inside(mbr)
    assert inside["p1/a.jpg"].sha256 == _sha(photos["astronaut"])
    assert "partition 2" in (inside["p2/"].error or "")
    assert "no file system" in (inside["p2/"].error or "")


def test_ntfs_files_and_a_deleted_one(tmp_path: Path, photos: dict[str, bytes]) -> None:
    files = {"astro.jpg": photos["astronaut"], "coffee.jpg": photos["coffee"]}
    image = ntfs_image(tmp_path / "ntfs.dd", files, deleted=("coffee.jpg",))
    inside = _inside(image)
    # NTFS's own files ($MFT, $LogFile, ..., $Extend/...) are recorded as file-system metadata,
    # apart from the user's files.
    system = {name for name in inside if name.startswith("$") and "Orphan" not in name}
    assert {"$MFT", "$LogFile", "$Bitmap", "$UpCase"} <= system
    assert all(inside[name].fs_metadata for name in system)
    assert not [name for name, r in inside.items() if r.fs_metadata and name not in system]
    astro = inside["astro.jpg"]
    assert astro.sha256 == _sha(photos["astronaut"]) and not astro.deleted
    assert None not in (astro.modified_at, astro.accessed_at, astro.changed_at)
    assert astro.created_on_fs_at is not None
    orphan = inside["$OrphanFiles/coffee.jpg"]
    assert orphan.deleted and orphan.sha256 == _sha(photos["coffee"])


def test_ntfs_deleted_file_whose_clusters_are_in_use_again_is_not_recoverable(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    files = {"astro.jpg": photos["astronaut"], "coffee.jpg": photos["coffee"]}
    image = ntfs_image(tmp_path / "ntfs.dd", files, deleted=("coffee.jpg",), free_clusters=False)
    orphan = _inside(image)["$OrphanFiles/coffee.jpg"]
    assert orphan.deleted and orphan.sha256 is None
    assert "clusters are allocated again" in (orphan.error or "")


def test_archive_inside_an_image_is_expanded(tmp_path: Path, photos: dict[str, bytes]) -> None:
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("inner/astro.jpg", photos["astronaut"])
    image = fat_image(tmp_path / "fat.dd", {"DL/bundle.zip": bundle.getvalue()})
    inside = _inside(image)
    assert inside["DL/bundle.zip"].kind == ContentKind.ARCHIVE
    member = inside["DL/bundle.zip!/inner/astro.jpg"]
    assert member.sha256 == _sha(photos["astronaut"]) and member.depth == 2


def test_disk_image_inside_an_archive_is_read(tmp_path: Path, photos: dict[str, bytes]) -> None:
    image = fat_image(tmp_path / "fat.dd", {"a.jpg": photos["astronaut"]})
    carrier = tmp_path / "carrier.zip"
    with zipfile.ZipFile(carrier, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(image, "backup/card.img")
    records = {r.path: r for r in hash_path(carrier)}
    member = records[f"{carrier}!/backup/card.img!/a.jpg"]
    assert member.sha256 == _sha(photos["astronaut"]) and member.depth == 2


def test_folder_loop_is_recorded_not_followed(tmp_path: Path, photos: dict[str, bytes]) -> None:
    image = ext4_image(tmp_path / "ext.dd", _files(photos))
    debugfs(image, "link /DCIM /DCIM/again")  # a second name for a folder, inside itself
    inside = _inside(image)
    assert "folder loop" in (inside["DCIM/again/"].error or "")
    assert inside["DCIM/astro.jpg"].sha256 == _sha(photos["astronaut"])


def test_file_larger_than_the_image_is_refused(tmp_path: Path, photos: dict[str, bytes]) -> None:
    image = ext4_image(tmp_path / "ext.dd", _files(photos))
    inode = inode_of(image, "DCIM/coffee.jpg")
    debugfs(image, f"sif <{inode}> size 0x10000000000")  # 1 TiB claimed in an 8 MiB image
    inside = _inside(image)
    assert "more than the whole image" in (inside["DCIM/coffee.jpg"].error or "")
    assert inside["DCIM/astro.jpg"].sha256 == _sha(photos["astronaut"])


def test_truncated_and_corrupt_images_are_recorded(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    whole = fat_image(tmp_path / "fat.dd", _files(photos)).read_bytes()
    short = tmp_path / "short.dd"
    short.write_bytes(whole[:4096])  # the boot sector survives, the folders and data do not
    image, failed = list(hash_path(short))
    assert image.kind == ContentKind.DISK_IMAGE and image.sha256 == _sha(whole[:4096])
    assert failed.path == f"{short}!/" and "root folder unreadable" in (failed.error or "")
    garbled = bytearray(whole)
    garbled[0x16:0x18] = bytes(2)  # sectors per FAT: 0, which TSK refuses
    garbled[0x24:0x28] = bytes(4)
    broken = tmp_path / "broken.dd"
    broken.write_bytes(bytes(garbled))
    image, failed = list(hash_path(broken))
    assert image.kind == ContentKind.DISK_IMAGE and image.sha256 == _sha(bytes(garbled))
    assert failed.path == f"{broken}!/" and "no partition table or file system" in (
        failed.error or ""
    )
    ext = ext4_image(tmp_path / "ext.dd", _files(photos))
    cut = tmp_path / "cut.dd"
    cut.write_bytes(ext.read_bytes()[:3000])  # the superblock's magic, nothing after it
    image, failed = list(hash_path(cut))
    assert image.kind == ContentKind.DISK_IMAGE and failed.error


def test_e01_read_when_pyewf_is_installed_else_recorded(
    tmp_path: Path, photos: dict[str, bytes]
) -> None:
    needs("ewfacquire")
    raw = fat_image(tmp_path / "fat.dd", _files(photos), deleted=("DCIM/coffee.jpg",))
    target = tmp_path / "seized"
    done = subprocess.run(
        ["ewfacquire", "-u", "-t", str(target), "-c", "deflate:fast", "-S", "1MiB", str(raw)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    segments = sorted(tmp_path.glob("seized.E*"))
    assert segments[0].name == "seized.E01"
    records = list(hash_path(segments[0]))
    assert records[0].mime == EWF_MIME
    if ewf_reader() is None:
        assert len(records) == 2 and "needs pyewf" in (records[1].error or "")
    else:
        inside = {r.path.split("!/", 1)[1]: r for r in records[1:]}
        assert inside["DCIM/astro.jpg"].sha256 == _sha(photos["astronaut"])
        assert inside["DCIM/_offee.jpg"].deleted
    if len(segments) > 1:
        later = list(hash_path(segments[1]))
        assert len(later) == 1 and "segment 2" in later[0].notes[0]
