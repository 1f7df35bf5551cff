"""APFS (libfsapfs) and UDF (pycdlib): the file systems TSK does not read, walked beside it.

APFS answers are those Fox-IT's dissect.apfs states in its own tests (tests/test_apfs.py) for
the containers macOS wrote in its tests/_data/. UDF images are written at test time by
genisoimage (Debian ``genisoimage``: ``-udf`` makes a UDF/ISO 9660 bridge) and mkudffs
(``udftools``); their files' digests are compared with the source files'.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy import select

from kaitiaki.content.archivebase import ArchiveMember, MemberError
from kaitiaki.content.disk import DiskEntry, OpenDiskImage, iter_disk_files, list_disk_files
from kaitiaki.content.diskmagic import disk_image_mime
from kaitiaki.scan.runner import run_scan
from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance
from nothing_skips import external, require

# dissect.apfs tests/test_apfs.py: the stated contents.
_FILE = "\uf8ff File System\n".encode()  # U+F8FF: Apple's logo, a private-use character
_XATTR_TEXT = b"Compressed data in xattr " + b"a" * 90 + b"\n"
_FORK_SHA256 = "5f46d97f947137dcf974fc19914c547acd18fcdb25124c846c1100f8b3fbca5f"
_ROOT_NAMES = (
    ".fseventsd",
    "case_folding_µ",
    "empty",
    "hardlink",
    unicodedata.normalize("NFD", "nfd_téstfilè"),  # kept decomposed, as written
    "nfd_¾",
    "nfkd_3⁄4",
)
_APFS_PARTITION_TYPE = "7C3457EF-0000-11AA-AA11-00306543ECAC"


def _apfs(name: str) -> Path:
    return external("dissect-apfs", f"tests/_data/{name}.bin.gz", decoded=True)


def _walk(image: Path) -> tuple[dict[str, ArchiveMember], dict[str, bytes | str]]:
    """Each member of the image, and each readable one's bytes (or its read error's text),
    read while the image is open, as the hasher reads them."""
    mime = disk_image_mime(image.read_bytes()[: 64 * 1024])
    assert mime is not None, f"{image.name} not recognised as a disk image"
    members: dict[str, ArchiveMember] = {}
    read: dict[str, bytes | str] = {}
    with image.open("rb") as stream:
        for member in iter_disk_files(stream, mime, image.stat().st_size, image):
            members[member.name] = member
            if member.open is None:
                continue
            try:
                read[member.name] = _content(member)
            except MemberError as exc:
                read[member.name] = str(exc)
    return members, read


def _content(member: ArchiveMember) -> bytes:
    assert member.open is not None, f"{member.name}: {member.error}"
    with member.open() as stream:
        return stream.read()


@pytest.mark.parametrize("name", ["case_sensitive", "case_insensitive", "jhfs_converted"])
def test_apfs_files_are_those_dissect_states(name: str) -> None:
    members, read = _walk(_apfs(name))

    for root_name in _ROOT_NAMES:
        assert any(n == f"v1/{root_name}" or n.startswith(f"v1/{root_name}/") for n in members)
    assert read["v1/dir/file"] == _FILE
    assert read["v1/hardlink"] == _FILE  # a hard link to dir/file: both names listed
    assert read["v1/empty"] == b""
    for method in ("zlib", "lzvn", "lzfse"):
        assert read[f"v1/dir/compressed-{method}-xattr"] == _XATTR_TEXT
        fork = read[f"v1/dir/compressed-{method}-fork"]
        # libfsapfs 20260921 fails on this LZFSE fork: a per-file read error, never a crash;
        # what it does read must be the stated content.
        if isinstance(fork, bytes) or method != "lzfse":
            assert isinstance(fork, bytes), fork
            assert hashlib.sha256(fork).hexdigest() == _FORK_SHA256
        else:
            assert "read failed at byte 0" in fork
    # Links, devices and FIFOs are not files to hash (as in TSK's walk).
    assert not any(n.endswith(("symlink-dir", "symlink-file", "/fifo")) for n in members)
    assert all(not m.deleted for m in members.values())
    file = members["v1/dir/file"]
    assert file.size == len(_FILE)
    assert file.times is not None and file.times.modified is not None
    assert file.times.modified.tzinfo is not None


def test_encrypted_apfs_volume_needs_a_password() -> None:
    members, _read = _walk(_apfs("encrypted"))
    assert list(members) == ["v1/"]
    assert "encrypted: needs a password" in (members["v1/"].error or "")
    assert "'Encrypted'" in (members["v1/"].error or "")  # the volume's name, as dissect states


def test_corrupt_apfs_container_is_one_error_not_a_crash() -> None:
    # dissect falls back to an older checkpoint here; libfsapfs refuses: recorded with why.
    members, _read = _walk(_apfs("corrupt"))
    assert list(members) == [""]
    assert "APFS container unreadable" in (members[""].error or "")


def _gpt_with_apfs(work: Path) -> Path:
    """A GPT disk whose second partition is the case_sensitive APFS container."""
    require(shutil.which("sfdisk") is not None, "sfdisk (Debian fdisk) is needed for GPT images")
    container = _apfs("case_sensitive").read_bytes()
    image = work / "mac.dd"
    sectors = len(container) // 512
    with image.open("wb") as out:
        out.truncate((2048 + 2048 + sectors + 2048) * 512)
    layout = (
        "label: gpt\n"
        "start=2048, size=2048, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4\n"
        f"start=4096, size={sectors}, type={_APFS_PARTITION_TYPE}\n"
    )
    done = subprocess.run(
        ["sfdisk", "--no-reread", "--no-tell-kernel", str(image)],
        input=layout,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    with image.open("r+b") as out:
        out.seek(4096 * 512)
        out.write(container)
    return image


def test_apfs_in_a_gpt_partition_is_walked(tmp_path: Path) -> None:
    members, read = _walk(_gpt_with_apfs(tmp_path))
    assert read["p2/v1/dir/file"] == _FILE
    assert "no file system The Sleuth Kit reads" in (members["p1/"].error or "")


def test_apfs_files_read_by_address_in_another_opening() -> None:
    image = _apfs("case_sensitive")
    mime = disk_image_mime(image.read_bytes()[:4096])
    assert mime is not None
    with image.open("rb") as stream:
        entries = list(list_disk_files(stream, mime, image.stat().st_size, image))
    entry = next(e for e in entries if e.member.name == "v1/dir/file")
    assert entry.walker == "apfs" and entry.address is not None
    reader = OpenDiskImage(image, mime)  # as a scan worker opens it
    try:
        assert _content(reader.member(entry)) == _FILE
        wrong = DiskEntry(entry.member, entry.volume, 10**9, "apfs", 0)
        with pytest.raises(MemberError, match="not found again"):
            reader.member(wrong)
    finally:
        reader.close()


def _source_tree(root: Path) -> dict[str, bytes]:
    files = {
        "a.txt": b"hello udf\n",
        "empty": b"",
        "sub/big.bin": os.urandom(3 * 1024 * 1024 + 17),
        "sub/deeper/Long name beyond 8.3, ünïcödé kept by UDF.txt": b"x\n",
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def _udf_bridge(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    require(shutil.which("genisoimage") is not None, "genisoimage (Debian genisoimage) missing")
    source = tmp_path / "src"
    files = _source_tree(source)
    image = tmp_path / "disc.iso"
    done = subprocess.run(
        ["genisoimage", "-quiet", "-udf", "-V", "DISC", "-o", str(image), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return image, files


def test_udf_bridge_files_equal_their_sources(tmp_path: Path) -> None:
    image, files = _udf_bridge(tmp_path)
    members, read = _walk(image)
    assert set(members) == set(files)  # the UDF side's full names, not ISO 9660's 8.3 ones
    for name, data in files.items():
        assert hashlib.sha256(read[name]).digest() == hashlib.sha256(data).digest()
        assert members[name].size == len(data)
        assert members[name].times is not None and members[name].times.modified is not None


def test_udf_only_image_is_recorded_as_not_read(tmp_path: Path) -> None:
    require(shutil.which("mkudffs") is not None, "mkudffs (Debian udftools) missing")
    image = tmp_path / "blank.udf"
    with image.open("wb") as out:
        out.truncate(4 << 20)
    done = subprocess.run(
        ["mkudffs", "--media-type=hd", "--label=BLANK", str(image)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    members, _read = _walk(image)
    assert list(members) == [""]
    assert "UDF file system: not read (no ISO 9660 side" in (members[""].error or "")


def test_scan_reads_apfs_and_udf_files_in_slices(sqlite_store: Store, tmp_path: Path) -> None:
    evidence = tmp_path / "exhibits"
    evidence.mkdir()
    shutil.copy(_apfs("case_sensitive"), evidence / "mac.apfs")
    disc, files = _udf_bridge(tmp_path)
    shutil.copy(disc, evidence / "disc.iso")

    result = run_scan(sqlite_store, [evidence], "apple", workers=2, actor="test:setup")

    with sqlite_store.session() as session:
        rows = {
            row.path.split("exhibits/", 1)[-1]: row
            for row in session.scalars(
                select(FileInstance).where(FileInstance.evidence_id == result.evidence_id)
            )
        }
    assert rows["mac.apfs!/v1/dir/file"].sha256 == hashlib.sha256(_FILE).hexdigest()
    assert rows["mac.apfs!/v1/dir/compressed-zlib-fork"].sha256 == _FORK_SHA256
    for name, data in files.items():
        assert rows[f"disc.iso!/{name}"].sha256 == hashlib.sha256(data).hexdigest()
