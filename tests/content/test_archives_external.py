"""Archive readers on archives written by others, with the answers their projects state.

Fixtures (fetched by tests/external/fetch.py, never committed):
- libarchive 3.6.2's test archives (BSD-2-Clause): libarchive/test/*.uu; each ``test_*.c`` beside
  them states the entries, sizes and encryption flags asserted below.
- CPython 3.11's test suite (PSF-2.0, Debian's libpython3.11-testsuite): ziptestdata/exe_with_zip
  and exe_with_z64 (a shell script with a zip appended; test_zipfile.py says each member holds
  ``FAVORITE_NUMBER``), testtar.tar (test_tarfile.py: "misc/regtype-old-v7" is a pre-POSIX
  member of 7011 bytes with digest ``sha256_regtype``), and the two overlapping-entry zips that
  test_zipfile.py builds in code (test_full_overlap, test_quoted_overlap), taken from its source.
"""

from __future__ import annotations

import ast
import hashlib
import random
import tarfile
import zipfile
from functools import cache
from pathlib import Path

import pytest

from kaitiaki.content.archives import ENCRYPTED
from kaitiaki.content.kinds import ContentKind, detect
from kaitiaki.scan.hasher import ARCHIVE_SEPARATOR, hash_path
from kaitiaki.signals.record import FileRecord
from nothing_skips import external

CPYTHON = "usr/lib/python3.11/test"
LIBARCHIVE = "libarchive/test"


def libarchive(name: str) -> Path:
    return external("libarchive", f"{LIBARCHIVE}/{name}.uu", decoded=True)


def cpython(name: str) -> Path:
    return external("cpython-tests", f"{CPYTHON}/{name}")


def scan(path: Path) -> tuple[FileRecord, dict[str, FileRecord]]:
    """The file's own record and its members' records by member path ("" for the archive's
    not-fully-read record)."""
    top, *rest = hash_path(path)
    members = {r.path.split(ARCHIVE_SEPARATOR, 1)[1]: r for r in rest}
    return top, members


@cache
def cpython_test_source(module: str) -> ast.Module:
    return ast.parse(cpython(module).read_text(encoding="utf-8"))


def cpython_constant(module: str, name: str, function: str | None = None) -> object:
    """A literal assigned to ``name`` in a CPython test module (inside ``function`` if given)."""
    tree = cpython_test_source(module)
    scopes = [
        node
        for node in ast.walk(tree)
        if function is None or (isinstance(node, ast.FunctionDef) and node.name == function)
    ]
    for scope in scopes:
        for node in ast.walk(scope) if function else tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets
            ):
                return ast.literal_eval(node.value)
    raise AssertionError(f"{module} has no literal {name} in {function or 'the module'}")


def zip_built_by_cpython(test: str) -> bytes:
    """The zip that a test of CPython's test_zipfile.py builds as a bytes literal, ``data``."""
    data = cpython_constant("test_zipfile.py", "data", test)
    assert isinstance(data, bytes)
    return data


# --- overlapping entries (finding 5: independent of the Python version) ----------------------


def test_full_overlap_reads_the_first_entry_and_refuses_the_one_sharing_it(
    tmp_path: Path,
) -> None:
    # CPython's test: both entries at offset 0; 'a' reads 1033 bytes, 'b' must not.
    path = tmp_path / "full-overlap.zip"
    path.write_bytes(zip_built_by_cpython("test_full_overlap"))
    _, members = scan(path)
    assert members["a"].size == 1033 and members["a"].sha256
    assert members["b"].sha256 is None
    assert "overlapping zip entries" in (members["b"].error or "")
    assert "entry 'a' at byte 0" in (members["b"].error or "")


def test_quoted_overlap_is_refused_whatever_the_python_version(tmp_path: Path) -> None:
    # CPython's test: 'a' (header at 0, 52 compressed bytes) quotes 'b' (header at 36); from
    # 3.12 zipfile refuses 'a' with "Overlapped entries". This Python may not: we must.
    path = tmp_path / "quoted-overlap.zip"
    path.write_bytes(zip_built_by_cpython("test_quoted_overlap"))
    _, members = scan(path)
    assert members["a"].sha256 is None
    assert "overlapping zip entries" in (members["a"].error or "")
    assert "'b' at byte 36" in (members["a"].error or "")
    assert members["b"].size == 1033 and members["b"].sha256


# --- encryption -------------------------------------------------------------------------------


def test_zip_with_encrypted_central_directory_is_unreadable_not_encrypted() -> None:
    # libarchive: AES-256 with the headers encrypted; next_header is ARCHIVE_FATAL, no name.
    top, members = scan(libarchive("test_read_format_zip_encryption_header.zip"))
    assert top.kind == ContentKind.ARCHIVE
    assert list(members) == [""], "no member can be named"
    error = members[""].error or ""
    assert "unreadable zip" in error and "central directory is encrypted" in error
    assert ENCRYPTED not in error


def test_7z_with_encrypted_headers_is_unreadable() -> None:
    _, members = scan(libarchive("test_read_format_7zip_encryption_header.7z"))
    assert list(members) == [""]
    assert "unreadable 7z: its headers are encrypted" in (members[""].error or "")


@pytest.mark.parametrize(
    ("fixture", "stated"),
    [
        # name: (size, encrypted) as each libarchive test_*.c asserts
        (
            "test_read_format_zip_encryption_data.zip",
            {"bar.txt": (20, True), "foo.txt": (20, True)},
        ),
        (
            "test_read_format_zip_traditional_encryption_data.zip",
            {"bar.txt": (495, True), "foo.txt": (495, True)},
        ),
        (
            "test_read_format_zip_encryption_partially.zip",
            {"bar.txt": (20, False), "foo.txt": (20, True)},
        ),
        ("test_read_format_7zip_encryption.7z", {"bar.txt": (4, True)}),
        (
            "test_read_format_7zip_encryption_partially.7z",
            {"bar_unencrypted.txt": (4, False), "bar_encrypted.txt": (4, True)},
        ),
    ],
)
def test_encrypted_members_are_recorded_per_entry(
    fixture: str, stated: dict[str, tuple[int, bool]]
) -> None:
    _, members = scan(libarchive(fixture))
    assert set(members) == set(stated)
    for name, (size, encrypted) in stated.items():
        record = members[name]
        assert record.size == size, name
        if encrypted:
            assert record.error == ENCRYPTED and record.sha256 is None, name
        else:
            assert record.error is None and record.sha256, name


# --- self-extracting archives and data before a zip --------------------------------------------


@pytest.mark.parametrize("name", ["exe_with_zip", "exe_with_z64"])
def test_shell_script_with_a_zip_appended_is_opened(name: str) -> None:
    path = cpython(f"ziptestdata/{name}")
    top, members = scan(path)
    assert top.kind == ContentKind.ARCHIVE and top.mime == "application/zip"
    assert any("bytes of other data before it" in note for note in top.notes)
    # CPython's test: every member holds FAVORITE_NUMBER; its own zipfile is the other reader.
    with zipfile.ZipFile(path) as archive:
        expected = {n: archive.read(n) for n in archive.namelist()}
    assert expected and all(b"FAVORITE_NUMBER" in data for data in expected.values())
    assert {n: members[n].sha256 for n in expected} == {
        n: hashlib.sha256(data).hexdigest() for n, data in expected.items()
    }


@pytest.mark.parametrize(
    ("fixture", "stated"),
    [
        # test_read_format_zip_sfx.c: an SFX stub, then file0 and build.sh (23 bytes)
        ("test_read_format_zip_sfx", {"file0": None, "build.sh": 23}),
        # test_compat_zip.c: "A file with leading garbage (similar to an SFX file)"
        ("test_compat_zip_4.zip", {"foo": 4, "bar": 4, "baz": 4}),
        # test_read_format_zip_padded.c: padding in front (1), at both ends (3)
        ("test_read_format_zip_padded1.zip", {"file0": 6, "file1": 6}),
        ("test_read_format_zip_padded3.zip", {"file0": 6, "file1": 6}),
    ],
)
def test_zip_after_other_data_is_found_by_its_end_record(
    fixture: str, stated: dict[str, int | None]
) -> None:
    top, members = scan(libarchive(fixture))
    assert top.kind == ContentKind.ARCHIVE and top.mime == "application/zip"
    assert any("found by its end record" in note for note in top.notes)
    assert set(members) == set(stated)
    for name, size in stated.items():
        assert members[name].sha256, name
        if size is not None:
            assert members[name].size == size, name


def test_self_extracting_zip_inside_another_archive_is_opened(tmp_path: Path) -> None:
    # Read from a member stream, not from disk: the blob is kept to be read a second time.
    sfx = libarchive("test_read_format_zip_sfx")
    outer = tmp_path / "outer.tar"
    with tarfile.open(outer, "w") as archive:
        archive.add(sfx, arcname="installer.exe")
    _, members = scan(outer)
    assert members["installer.exe"].kind == ContentKind.ARCHIVE
    assert members["installer.exe!/build.sh"].size == 23
    assert members["installer.exe!/build.sh"].sha256


@pytest.mark.parametrize(
    "fixture",
    ["test_read_format_rar5_sfx.exe", "test_read_format_rar_sfx.exe"],
)
def test_self_extracting_rar_is_recognised_with_the_reason_it_is_not_read(fixture: str) -> None:
    path = libarchive(fixture)
    top, members = scan(path)
    assert top.kind == ContentKind.ARCHIVE and top.sha256
    (note,) = [n for n in top.notes if "RAR archive found at byte" in n]
    offset = int(note.split("at byte ")[1].split()[0])
    assert path.read_bytes()[offset : offset + 6] == b"Rar!\x1a\x07"
    assert list(members) == [""]
    assert "no RAR reader" in (members[""].error or "")


def test_plain_rar_is_an_archive_with_the_reason_it_is_not_read() -> None:
    top, members = scan(libarchive("test_read_format_rar5_stored.rar"))
    assert top.kind == ContentKind.ARCHIVE
    assert "no RAR reader" in (members[""].error or "")


def test_an_executable_that_only_mentions_the_markers_stays_other(tmp_path: Path) -> None:
    # A PE header, then the RAR signature and a zip end record with nothing valid around them.
    path = tmp_path / "tool.exe"
    body = b"MZ" + bytes(62) + b"Rar!\x1a\x07\x01\x00" + bytes(64) + b"PK\x05\x06" + bytes(18)
    path.write_bytes(body + b"\xff" * 4096)
    top, members = scan(path)
    assert top.kind == ContentKind.OTHER and not members and not top.notes


# --- pre-POSIX (V7) tar -------------------------------------------------------------------------


def test_v7_tar_without_magic_is_recognised_and_read() -> None:
    # test_compat_tar_hardlink.c: READMf (321 bytes), then a hard link README to it.
    path = libarchive("test_compat_tar_hardlink_1.tar")
    assert path.read_bytes()[257:262] != b"ustar"
    top, members = scan(path)
    assert top.kind == ContentKind.ARCHIVE and top.mime == "application/x-tar"
    readme = members["xmcd-3.3.2/docs_d/READMf"]
    assert readme.size == 321 and readme.sha256
    assert "hard link to 'xmcd-3.3.2/docs_d/READMf'" in (members["xmcd-3.3.2/README"].error or "")
    # It has no end-of-archive blocks: libarchive takes that as the end; we say so.
    assert "without its end-of-archive blocks" in (members[""].error or "")


def test_v7_member_of_cpythons_testtar_has_its_stated_digest(tmp_path: Path) -> None:
    expected = cpython_constant("test_tarfile.py", "sha256_regtype")
    source = cpython("testtar.tar")
    # The old-format member on its own, header first: a V7 tar with no magic anywhere.
    with tarfile.open(source) as archive:
        info = archive.getmember("misc/regtype-old-v7")
    blocks = tarfile.BLOCKSIZE + -(-info.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    alone = tmp_path / "old-v7.tar"
    alone.write_bytes(source.read_bytes()[info.offset : info.offset + blocks] + bytes(1024))
    assert b"ustar" not in alone.read_bytes()
    top, members = scan(alone)
    assert top.kind == ContentKind.ARCHIVE
    assert members["misc/regtype-old-v7"].size == 7011
    assert members["misc/regtype-old-v7"].sha256 == expected
    # And inside the whole test archive.
    _, whole = scan(source)
    assert whole["misc/regtype-old-v7"].sha256 == expected


def test_blocks_that_are_not_tar_headers_are_not_taken_for_one() -> None:
    rng = random.Random(13)
    for _ in range(2000):
        assert detect(rng.randbytes(8192)).mime != "application/x-tar"
    # A header whose checksum matches but whose name holds control bytes is refused too.
    header = bytearray(tarfile.TarInfo("ok").tobuf(tarfile.USTAR_FORMAT))
    header[257:265] = bytes(8)  # no magic: only the V7 rules apply
    header[0:2] = b"\x01\x02"
    header[148:156] = b"        "
    header[148:156] = b"%06o\0 " % sum(header)
    assert detect(bytes(header) + bytes(1024)).kind == ContentKind.OTHER
    header[0:2] = b"ok"
    header[148:156] = b"        "
    header[148:156] = b"%06o\0 " % sum(header)
    assert detect(bytes(header) + bytes(1024)).mime == "application/x-tar"


# --- every libarchive test archive: a result or a clear error, never a crash ------------------


def _libarchive_fixtures() -> list[str]:
    # Listed from the source tree when it is there; collected as one skip otherwise.
    try:
        folder = external("libarchive", f"{LIBARCHIVE}/test_read_format_zip.zip.uu").parent
    except pytest.skip.Exception:
        return []
    names = (p.name.removesuffix(".uu") for p in folder.glob("*.uu"))
    return sorted(names)


@pytest.mark.parametrize("name", _libarchive_fixtures())
def test_every_libarchive_test_archive_ends_in_a_result_or_a_clear_error(name: str) -> None:
    top, members = scan(libarchive(name))
    assert top.sha256 and top.size is not None
    for path, record in members.items():
        assert record.sha256 or record.error, f"{name}!/{path}: neither hashed nor explained"
