"""Archives (zip, tar and its compressed forms, 7z) and whatever a scan opens: any input ends
in members read (or recorded with their error) or an ``ArchiveError``; a scan of it records
every problem and never raises; never a crash, hang or blow-up."""

from __future__ import annotations

import io
import stat
import struct
import tarfile
import warnings
import zipfile

import py7zr
import pytest
from fuzz_sandbox import Sandbox
from fuzz_support import FUZZ, check_bytes, mutated
from hypothesis import given
from hypothesis import strategies as st

MEMBERS = {
    "a.txt": b"hello archive\n" * 20,
    "dir/b.bin": bytes(range(256)) * 8,
    "empty": b"",
}


def zip_bytes(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def tar_bytes(members: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sevenzip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return out.getvalue()


SEEDS = {
    "zip": zip_bytes(MEMBERS),
    "tar": tar_bytes(MEMBERS),
    "tar.gz": tar_bytes(MEMBERS, "w:gz"),
    "tar.bz2": tar_bytes(MEMBERS, "w:bz2"),
    "tar.xz": tar_bytes(MEMBERS, "w:xz"),
    "7z": sevenzip_bytes(MEMBERS),
}


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(sorted(SEEDS)))
def test_archive_mutations(sandbox: Sandbox, data: st.DataObject, fmt: str) -> None:
    blob = data.draw(mutated(SEEDS[fmt]), label="archive")
    check_bytes(sandbox, "archive", blob, "." + fmt)


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(sorted(SEEDS)))
def test_scan_of_mutated_archives(sandbox: Sandbox, data: st.DataObject, fmt: str) -> None:
    # Nested: the mutated archive inside a sound zip, as a scan meets it inside evidence.
    blob = data.draw(mutated(SEEDS[fmt]), label="archive")
    outer = zip_bytes({f"inner.{fmt}": blob, "note.txt": b"x"})
    check_bytes(sandbox, "scan", outer, ".zip")


_names = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        [
            "../../etc/passwd",
            "/etc/shadow",
            "C:\\Windows\\system.ini",
            "..\\..\\x",
            "a/../../b",
            "\u202etxt.exe",
            "nul\x00byte",
            "dir/",
            "",
            "a" * 5000,
            ".",
        ]
    ),
)


def _zip_entry(name: str, data: bytes, mode: int) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name or "x")
    info.create_system = 3
    info.external_attr = mode << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info, data


@st.composite
def _hostile_zips(draw: st.DrawFn) -> bytes:
    """Zips as an attacker writes them: climbing names, links, devices, duplicate names,
    entries that overlap (many directory entries over one local header)."""
    out = io.BytesIO()
    with warnings.catch_warnings(), zipfile.ZipFile(out, "w") as archive:
        warnings.simplefilter("ignore")  # duplicate names are the point
        for _ in range(draw(st.integers(1, 5))):
            name = draw(_names)
            kind = draw(st.sampled_from([stat.S_IFREG, stat.S_IFLNK, stat.S_IFCHR, 0]))
            data = draw(st.sampled_from([b"", b"../../../../etc/passwd", b"\x00" * 4096]))
            info, content = _zip_entry(name, data, kind | 0o644)
            archive.writestr(info, content)
    blob = out.getvalue()
    copies = draw(st.sampled_from([0, 0, 1, 200]))
    return _overlap(blob, copies) if copies else blob


def _overlap(blob: bytes, copies: int) -> bytes:
    """The first central directory entry repeated ``copies`` more times, all at one offset."""
    end = blob.rindex(b"PK\x05\x06")
    (cd_size, cd_offset) = struct.unpack_from("<II", blob, end + 12)
    first = blob[cd_offset : cd_offset + cd_size]
    name_len, extra_len, comment_len = struct.unpack_from("<HHH", first, 28)
    entry = first[: 46 + name_len + extra_len + comment_len]
    central = first + entry * copies
    count = struct.unpack_from("<H", blob, end + 10)[0] + copies
    eocd = bytearray(blob[end : end + 22])
    struct.pack_into("<HHII", eocd, 8, count & 0xFFFF, count & 0xFFFF, len(central), cd_offset)
    return blob[:cd_offset] + central + bytes(eocd)


@FUZZ
@given(blob=_hostile_zips())
def test_hostile_zips(sandbox: Sandbox, blob: bytes) -> None:
    check_bytes(sandbox, "archive", blob, ".zip")


@st.composite
def _hostile_tars(draw: st.DrawFn) -> bytes:
    """Tars with climbing names, links out of the archive, devices, lying sizes, pax values."""
    out = io.BytesIO()
    fmt = draw(st.sampled_from([tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT]))
    with tarfile.open(
        fileobj=out, mode="w", format=fmt, encoding="utf-8", errors="surrogateescape"
    ) as archive:  # type: ignore[call-overload]
        for _ in range(draw(st.integers(1, 5))):
            name = draw(_names) or "x"
            kind = draw(
                st.sampled_from(
                    [tarfile.REGTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE, b"9"]
                )
            )
            info = tarfile.TarInfo(name[:99] if fmt == tarfile.USTAR_FORMAT else name)
            info.type = kind
            info.linkname = draw(st.sampled_from(["../../../../etc/shadow", "/etc/passwd", "a"]))
            if fmt == tarfile.PAX_FORMAT and draw(st.booleans()):
                info.pax_headers = {"comment": draw(st.text(max_size=50)), "mtime": "9" * 50}
            data = b"x" * draw(st.integers(0, 700)) if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            try:
                archive.addfile(info, io.BytesIO(data) if data else None)
            except (ValueError, UnicodeError):
                continue  # a name the format cannot store: not a file an attacker can send
    return out.getvalue()


@FUZZ
@given(blob=_hostile_tars(), cut=st.one_of(st.none(), st.integers(0, 4096)))
def test_hostile_tars(sandbox: Sandbox, blob: bytes, cut: int | None) -> None:
    check_bytes(sandbox, "archive", blob if cut is None else blob[:cut], ".tar")


@pytest.mark.parametrize("fmt", sorted(SEEDS))
def test_seeds_are_read(sandbox: Sandbox, fmt: str) -> None:
    """Every seed archive gives its three members, whole: the mutations start from sound input."""
    read = sum(len(data) for data in MEMBERS.values())
    outcome = check_bytes(sandbox, "archive", SEEDS[fmt], "." + fmt)
    assert outcome.summary == f"3 members, {read} bytes"
