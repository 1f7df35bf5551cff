"""Issue 13's parsers of outside data: virtual disks (QCOW2 read by hand, VMDK/VHD/VHDX by
libyal), the E01 chunk walker, archives inside other files (zip end record, RAR signature, the
zip overlap checks), pre-POSIX tar headers and category maps. Any input ends in a result or the
module's clear error; never a crash, hang or blow-up.

Seeds are written by other tools at test time (``qemu-img``, ``ewfacquire``, CPython's zipfile
and tarfile) and then mutated where each parser looks: headers and tables.
"""

from __future__ import annotations

import io
import struct
import subprocess
import tarfile
import zipfile
import zlib
from pathlib import Path

import pytest
from fuzz_sandbox import Sandbox
from fuzz_support import FUZZ, check_bytes, hostile_text, mutated
from hypothesis import given
from hypothesis import strategies as st

from disk_samples import needs

DISK = 1 << 20  # the guest disk: 1 MiB, half of it data, the rest never written
_CHUNK = 32 << 10  # ewfacquire's default chunk: 64 sectors


def _guest() -> bytes:
    """Compressible text, incompressible bytes and zeros, so every kind of cluster is there."""
    text = b"kaitiaki fuzz seed: the quick brown fox\n" * 6000
    noise = bytes((i * 2654435761 >> 13) & 0xFF for i in range(128 << 10))
    return (text + noise)[: DISK // 2].ljust(DISK, b"\0")


def _run(*args: str) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{args}: {done.stderr or done.stdout}"


@pytest.fixture(scope="session")
def virtual_seeds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The guest disk as qemu-img writes it: QCOW2 (deflate and zstd clusters, plain v2),
    monolithic sparse VMDK, dynamic VHD and VHDX."""
    needs("qemu-img")
    folder = tmp_path_factory.mktemp("virtual-seeds")
    raw = folder / "guest.raw"
    raw.write_bytes(_guest())
    made = {
        "qcow2-deflate": ["-c", "-O", "qcow2", "-o", "cluster_size=4096"],
        "qcow2-zstd": ["-c", "-O", "qcow2", "-o", "cluster_size=4096,compression_type=zstd"],
        "qcow2-v2": ["-O", "qcow2", "-o", "compat=0.10,cluster_size=4096"],
        "vmdk": ["-O", "vmdk"],
        "vhd": ["-O", "vpc", "-o", "subformat=dynamic"],
        "vhdx": ["-O", "vhdx", "-o", "block_size=1048576"],
    }
    seeds = {}
    for name, options in made.items():
        _run("qemu-img", "convert", "-f", "raw", *options, str(raw), str(folder / name))
        seeds[name] = (folder / name).read_bytes()
    return seeds


def _suffix(fmt: str) -> str:
    return "." + fmt.split("-")[0]


# Where the formats keep what a reader parses first: header, L1 and L2 tables (QCOW2), grain
# directories (VMDK), the block allocation table (VHD), the region and metadata tables (VHDX).
_HEAD = {"qcow2": 64 << 10, "vmdk": 128 << 10, "vhd": 8 << 10, "vhdx": 4 << 20}


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["qcow2-deflate", "qcow2-zstd", "qcow2-v2"]))
def test_qcow2_mutations(
    sandbox: Sandbox, virtual_seeds: dict[str, bytes], data: st.DataObject, fmt: str
) -> None:
    seed = virtual_seeds[fmt]
    head = data.draw(mutated(seed[: _HEAD["qcow2"]], max_ops=6), label="head")
    check_bytes(sandbox, "virtual_disk", head + seed[_HEAD["qcow2"] :], ".qcow2")


_u64 = st.one_of(st.integers(0, (1 << 64) - 1), st.sampled_from([0, 1, 1 << 63, (1 << 64) - 1]))


@FUZZ
@given(
    fields=st.fixed_dictionaries(
        {},
        optional={
            8: _u64,  # backing file offset
            20: st.integers(0, 64).map(lambda b: b.to_bytes(4, "big")),  # cluster bits
            24: _u64,  # disk size
            36: st.integers(0, (1 << 32) - 1).map(lambda n: n.to_bytes(4, "big")),  # L1 size
            40: _u64,  # L1 offset
            72: _u64,  # incompatible features
        },
    )
)
def test_qcow2_header_fields(
    sandbox: Sandbox, virtual_seeds: dict[str, bytes], fields: dict[int, int | bytes]
) -> None:
    # Any value in each field the reader trusts: sizes, offsets past 2^63, absurd cluster bits.
    image = bytearray(virtual_seeds["qcow2-deflate"])
    for offset, value in fields.items():
        packed = value if isinstance(value, bytes) else value.to_bytes(8, "big")
        image[offset : offset + len(packed)] = packed
    check_bytes(sandbox, "virtual_disk", bytes(image), ".qcow2")


@FUZZ
@given(data=st.data(), fmt=st.sampled_from(["vmdk", "vhd", "vhdx"]))
def test_libyal_virtual_disk_mutations(
    sandbox: Sandbox, virtual_seeds: dict[str, bytes], data: st.DataObject, fmt: str
) -> None:
    seed = virtual_seeds[fmt]
    cut = _HEAD[fmt]
    if fmt == "vhd":  # a dynamic VHD's footer is copied at its end: both are read
        head = data.draw(mutated(seed[:cut], max_ops=4), label="head")
        foot = data.draw(mutated(seed[-512:], max_ops=2), label="footer")
        image = head + seed[cut:-512] + foot
    else:
        image = data.draw(mutated(seed[:cut], max_ops=4), label="head") + seed[cut:]
    check_bytes(sandbox, "virtual_disk", image, _suffix(fmt))


def test_virtual_seeds_are_read(sandbox: Sandbox, virtual_seeds: dict[str, bytes]) -> None:
    """The seeds read whole, as qemu-img wrote them: mutations start from sound input."""
    for fmt, seed in virtual_seeds.items():
        outcome = check_bytes(sandbox, "virtual_disk", seed, _suffix(fmt))
        # qemu-img rounds a VHD up to whole cylinders of a CHS geometry: its footer says how.
        size = struct.unpack_from(">Q", seed, len(seed) - 512 + 48)[0] if fmt == "vhd" else DISK
        assert f": {size} bytes, {size} read, 0 reads failed" in outcome.summary, (fmt, outcome)
    # And the QCOW2 reader's bytes are the disk qemu-img was given (zstd clusters included).
    from kaitiaki.content.qcow import Qcow2Disk

    for fmt in ("qcow2-deflate", "qcow2-zstd", "qcow2-v2"):
        assert Qcow2Disk(io.BytesIO(virtual_seeds[fmt])).read(0, DISK) == _guest(), fmt


# --- E01 chunk walker -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e01_segments(tmp_path_factory: pytest.TempPathFactory) -> list[bytes]:
    """ewfacquire's E01 of a 2 MiB source whose last chunk is data (stored raw, with its
    checksum) and of one whose last chunk is zeros (compressed)."""
    needs("ewfacquire")
    folder = tmp_path_factory.mktemp("e01-chunks")
    segments = []
    for name, last in (("noise", bytes(range(256)) * 128), ("zeros", bytes(_CHUNK))):
        source = folder / f"{name}.dd"
        source.write_bytes(_guest() + _guest()[: (1 << 20) - _CHUNK] + last)
        target = folder / name
        _run("ewfacquire", "-u", "-t", str(target), "-c", "deflate:fast", str(source))
        segments.append(target.with_suffix(".E01").read_bytes())
    return segments


@FUZZ
@given(data=st.data(), which=st.integers(0, 1), where=st.sampled_from(["head", "tail"]))
def test_ewf_chunk_walker_mutations(
    sandbox: Sandbox, e01_segments: list[bytes], data: st.DataObject, which: int, where: str
) -> None:
    # The section chain starts at the head; the table sections and the last chunk are near
    # the tail (the last 8 KiB: table, table2, the hash and done sections).
    seed = e01_segments[which]
    if where == "head":
        image = data.draw(mutated(seed[:4096], max_ops=4), label="head") + seed[4096:]
    else:
        image = seed[:-8192] + data.draw(mutated(seed[-8192:], max_ops=4), label="tail")
    check_bytes(sandbox, "ewf_chunks", image, ".E01")


def test_ewf_seeds_are_walked(sandbox: Sandbox, e01_segments: list[bytes]) -> None:
    for seed in e01_segments:
        assert check_bytes(sandbox, "ewf_chunks", seed, ".E01").summary == (
            f"{2 << 20} bytes held, 0 beyond"
        )


# --- archives inside other files --------------------------------------------------------------


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def _overlapping_zip() -> bytes:
    """Two entries whose central-directory records point at one local header (an overlap)."""
    blob = bytearray(_zip({"a.txt": b"a" * 5000, "b.txt": b"b" * 5000}))
    second = blob.rindex(b"PK\x01\x02")
    struct.pack_into("<I", blob, second + 42, 0)
    return bytes(blob)


def _rar5_stub() -> bytes:
    """A RAR 5 signature and main archive header (type 1, no flags) with its CRC."""
    body = bytes([3, 1, 0, 0])  # header size 3, then type, header flags, archive flags
    return b"Rar!\x1a\x07\x01\x00" + struct.pack("<I", zlib.crc32(body)) + body


_PREFIXES = {
    "script": b'#!/bin/sh\nexec unzip "$0"\n',
    "pe": b"MZ" + bytes(58) + struct.pack("<I", 64) + b"PE\0\0" + bytes(4000),
    "none": b"",
}
APPENDED_SEEDS = {
    f"{name}+zip": prefix + _zip({"a.txt": b"hello\n" * 100, "d/b.bin": bytes(range(256))})
    for name, prefix in _PREFIXES.items()
} | {
    "pe+zip+tail": _PREFIXES["pe"] + _zip({"a.txt": b"x" * 300}) + b"\0" * 100,
    "pe+overlap": _PREFIXES["pe"] + _overlapping_zip(),
    "pe+rar": _PREFIXES["pe"] + _rar5_stub() + bytes(600),
}


@FUZZ
@given(data=st.data(), seed=st.sampled_from(sorted(APPENDED_SEEDS)))
def test_appended_archive_mutations(sandbox: Sandbox, data: st.DataObject, seed: str) -> None:
    blob = data.draw(mutated(APPENDED_SEEDS[seed], max_ops=5), label="file")
    check_bytes(sandbox, "appended", blob, ".exe")


def test_appended_seeds_are_found(sandbox: Sandbox) -> None:
    found = {
        name: check_bytes(sandbox, "appended", b, ".exe") for name, b in APPENDED_SEEDS.items()
    }
    pe = len(_PREFIXES["pe"])
    assert found["pe+zip"].summary == f"application/zip at {pe}: 2 members, 856 bytes"
    assert found["none+zip"].summary == "application/zip at 0: 2 members, 856 bytes"
    # CPython 3.12's rule: the first of two entries sharing one header is read, not the second.
    assert found["pe+overlap"].summary == f"application/zip at {pe}: 2 members, 5000 bytes"
    assert found["pe+rar"].kind == "error" and "no RAR reader" in found["pe+rar"].message


# --- pre-POSIX tar headers --------------------------------------------------------------------


def _v7_tar(members: dict[str, bytes]) -> bytes:
    """tarfile's ustar output with the POSIX fields blanked and each checksum redone: V7."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    blob = bytearray(out.getvalue())
    at = 0
    while at + 512 <= len(blob) and any(blob[at : at + 512]):
        _v7_header(blob, at)
        size = int(blob[at + 124 : at + 136].strip(b"\0 ") or b"0", 8)
        at += 512 + -(-size // 512) * 512
    return bytes(blob)


def _v7_header(blob: bytearray, at: int) -> None:
    blob[at + 257 : at + 500] = bytes(243)  # magic, version, owner names, devices, prefix
    _fix_checksum(blob, at)


def _fix_checksum(blob: bytearray, at: int) -> None:
    blob[at + 148 : at + 156] = b" " * 8
    blob[at + 148 : at + 156] = b"%06o\0 " % sum(blob[at : at + 512])


V7_SEED = _v7_tar({"docs/README": b"old tar\n" * 40, "bin/x": bytes(range(256)) * 3})


@FUZZ
@given(data=st.data(), fix=st.booleans())
def test_old_tar_header_mutations(sandbox: Sandbox, data: st.DataObject, fix: bool) -> None:
    blob = bytearray(data.draw(mutated(V7_SEED[:1024], max_ops=5), label="head") + V7_SEED[1024:])
    if fix and len(blob) >= 512:  # a sound checksum: the header's other fields are then parsed
        _fix_checksum(blob, 0)
    check_bytes(sandbox, "old_tar", bytes(blob), ".tar")
    check_bytes(sandbox, "archive", bytes(blob), ".tar")


def test_v7_seed_is_an_old_tar(sandbox: Sandbox) -> None:
    assert b"ustar" not in V7_SEED
    outcome = check_bytes(sandbox, "old_tar", V7_SEED, ".tar")
    assert outcome.summary == "old tar header: True; application/x-tar"
    assert check_bytes(sandbox, "archive", V7_SEED, ".tar").summary == "2 members, 1088 bytes"


# --- category maps ----------------------------------------------------------------------------

MAP_SEED = b"# NSRL CAID grades\n8=0\n9 = 0, 10=0  # trailing\nCAT-7=0\nX=A\n"
_codes = st.one_of(hostile_text(12), st.integers(-5, 99).map(str), st.sampled_from(["0", "A", "1"]))


def _map_lines(items: list[tuple[str, str, str]]) -> bytes:
    return "\n".join(f"{a}{s}{b}" for a, s, b in items).encode("utf-8", "surrogatepass")


_map_items = st.tuples(_codes, st.sampled_from(["=", " = ", "", "=="]), _codes)


@FUZZ
@given(
    data=st.one_of(mutated(MAP_SEED, max_ops=6), st.lists(_map_items, max_size=8).map(_map_lines))
)
def test_category_map_files(sandbox: Sandbox, data: bytes) -> None:
    check_bytes(sandbox, "category_map", data, ".map")


def test_category_map_seed(sandbox: Sandbox) -> None:
    # Five items; only uk-caid (A, B, C, 0) has both 0 and A and none of 8, 9, 10, 7.
    summary = check_bytes(sandbox, "category_map", MAP_SEED, ".map").summary
    assert summary == "5 items; used with 1 profiles, refused by 4"


def test_category_map_too_large(sandbox: Sandbox, tmp_path: Path) -> None:
    outcome = check_bytes(sandbox, "category_map", b"8=0\n" * 20_000, ".map")
    assert outcome.kind == "error" and "at most 65536 bytes" in outcome.message
