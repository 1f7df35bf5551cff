"""Builds the hostile-file corpus: small files kept in ``files/``, large ones made at test time.

    uv run python tests/hostile/make_hostile.py --small tests/hostile/files  # the kept ones
    uv run python tests/hostile/make_hostile.py --large /tmp/hostile  # bombs, huge lines

Every file is generated from benign bytes (zeros, digits, letters, generated hashes); none holds
real material. The large ones (bombs, a 100 MB line) are never committed: they are built here,
in seconds, by the corpus test (``test_hostile_corpus.py``) into a temporary folder.
"""

from __future__ import annotations

import argparse
import io
import json
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import py7zr
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from make_hostile_disks import DISKS

from kaitiaki.refer.signing import write_signed_manifest

CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"
MD5 = "0123456789ABCDEF0123456789ABCDEF"
RECORDS_HEADER = "timestamp,account_id,action,object_id,ip,port\n"
GOOD_RECORD = "2024-03-09T13:30:00Z,acct-1,upload,obj-1,203.0.113.5,443\n"
OUTCOMES_HEADER = "referral_id,subject_id,status,date,arrested,children_safeguarded,note\n"
OUTCOME_ROW = "REF-1,S1,,2024-01-01,1,,noted\n"


def _vics(value: str) -> bytes:
    return ('{"@odata.context":' + json.dumps(CONTEXT) + ',"value":' + value + "}").encode()


def _zip(members: dict[str, bytes], modes: dict[str, int] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if modes and name in modes:
                info.create_system = 3
                info.external_attr = modes[name] << 16
            archive.writestr(info, data)
    return out.getvalue()


def _tar(entries: list[tarfile.TarInfo], data: dict[str, bytes], mode: str = "w") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as archive:  # type: ignore[call-overload]
        for info in entries:
            content = data.get(info.name, b"")
            info.size = len(content) if info.isreg() else 0
            archive.addfile(info, io.BytesIO(content) if info.isreg() else None)
    return out.getvalue()


def _tar_entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, link
    return info


def _7z(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return out.getvalue()


def _parquet() -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    row = GOOD_RECORD.strip().split(",")
    names = RECORDS_HEADER.strip().split(",")
    table = pa.table({name: [row[i]] * 50 for i, name in enumerate(names)})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _broken_parquet_page() -> bytes:
    """A Parquet whose footer is sound but whose data page is not: fails part-way through."""
    data = bytearray(_parquet())
    for offset in range(8, 40):
        data[offset] ^= 0xA5
    return bytes(data)


# name -> bytes: small enough to keep in the repository (well under 200 KB each).
SMALL: dict[str, Callable[[], bytes]] = {
    # VICS (hash sets from partners)
    "vics-5001-digit-integer.json": lambda: _vics(
        '[{"MD5":"' + MD5 + '","MediaID":' + "9" * 5001 + "}]"
    ),
    "vics-5001-digit-float.json": lambda: _vics(
        '[{"MD5":"' + MD5 + '","Category":1.' + "9" * 5001 + "}]"
    ),
    "vics-deep-nesting-5000.json": lambda: _vics("[" + "[" * 5000 + "]" * 5000 + "]"),
    "vics-truncated.json": lambda: _vics('[{"MD5":"' + MD5 + '"},{"MD5":"01')[:-1],
    "vics-not-utf8.json": lambda: _vics('[{"MD5":"' + MD5 + '","Series":"\xff\xfe"}]').replace(
        b"\xc3\xbf\xc3\xbe", b"\xff\xfe"
    ),
    "vics-nul-bytes.json": lambda: _vics('[{"MD5":"' + MD5 + '"}]').replace(b'"MD5"', b'"M\0D5"'),
    # plain and CSV hash lists
    "hashes-nul.txt": lambda: b"0123456789abcdef0123456789abcdef\n\0\0\0\n",
    "hashes-not-utf8.txt": lambda: b"0123456789abcdef0123456789abcdef\n\xff\xfe\xfd\n",
    "hashes-unclosed-quote.csv": lambda: b'md5,series\n0123456789abcdef0123456789abcdef,"open\n',
    # access records, column mappings
    "records-not-utf8.csv": lambda: (RECORDS_HEADER + GOOD_RECORD).encode() + b"\xff\xfe,x,y\n",
    "records-nul.csv": lambda: (RECORDS_HEADER + GOOD_RECORD).encode() + b"\0\0\0\0\n",
    "records-unclosed-quote.csv": lambda: (RECORDS_HEADER + '"2024,acct\n' + GOOD_RECORD).encode(),
    "records-deep-and-huge.jsonl": lambda: (
        "[" * 100_000
        + "\n"
        + '{"timestamp":'
        + "9" * 5001
        + "}\n"
        + '{"ip":"'
        + "A" * 70_000
        + '"}\n'
    ).encode(),
    "records-truncated.parquet": lambda: _parquet()[:-20],
    "records-broken-page.parquet": _broken_parquet_page,
    "records-not-parquet.parquet": lambda: b"PAR1" + b"\0" * 64 + b"PAR1",
    "mapping-deep.toml": lambda: b"[records]\ntimestamp = " + b"[" * 5000 + b"\n",
    "mapping-huge-integer.toml": lambda: b"[records]\ndelimiter = " + b"9" * 5001 + b"\n",
    "mapping-not-utf8.toml": lambda: b'[records]\ntimestamp = "\xff\xfe"\n',
    # archives
    "zip-slip.zip": lambda: _zip({"../../../../tmp/evil.txt": b"x", "/etc/cron.d/evil": b"y"}),
    "zip-symlink-escape.zip": lambda: _zip(
        {"link": b"/etc/shadow"}, {"link": stat.S_IFLNK | 0o777}
    ),
    "zip-nul-in-name.zip": lambda: _zip({"\0evil.txt": b"x", "ok.txt": b"y"}),
    "zip-truncated.zip": lambda: _zip({"a.txt": b"hello" * 1000})[:-30],
    "tar-traversal.tar": lambda: _tar(
        [_tar_entry("../../../../tmp/evil.txt"), _tar_entry("/etc/evil")],
        {"../../../../tmp/evil.txt": b"x", "/etc/evil": b"y"},
    ),
    "tar-symlink-escape.tar": lambda: _tar(
        [
            _tar_entry("escape", tarfile.SYMTYPE, "../../../../etc/shadow"),
            _tar_entry("escape/passwd"),
            _tar_entry("hard", tarfile.LNKTYPE, "/etc/shadow"),
        ],
        {"escape/passwd": b"written through the link?"},
    ),
    "tar-truncated.tar.gz": lambda: _tar([_tar_entry("a.bin")], {"a.bin": b"z" * 50_000}, "w:gz")[
        :-40
    ],
    "7z-truncated.7z": lambda: _7z({"a.txt": b"hello" * 1000})[:-30],
    # partner files
    "outcomes-not-utf8.csv": lambda: (OUTCOMES_HEADER + "REF-1,S1,,,1,,").encode() + b"\xff\n",
    "outcomes-5001-digit-count.csv": lambda: (
        OUTCOMES_HEADER + "REF-1,S1,,," + "9" * 5001 + ",,\n"
    ).encode(),
    "outcomes-nul.csv": lambda: (OUTCOMES_HEADER + "REF-1,S1,,,1,,no\0te\n").encode(),
    "enrichment-not-utf8.csv": lambda: b"subject_id,travel\nS1,\xff\n",
    "pointers-deep.json": lambda: (
        b'{"format":"kaitiaki-pointers","pointers":' + b"[" * 100_000 + b"}"
    ),
    "pointers-5001-digit-version.json": lambda: (
        b'{"format":"kaitiaki-pointers","version":' + b"9" * 5001 + b"}"
    ),
}


# Inputs the fuzz suite found, kept as they were (they cannot be rebuilt: their seed came from
# mke2fs, which writes fresh UUIDs and times each run).
FOUND: dict[str, str] = {
    "ext4-tsk-loop.img.gz": "an ext4 image, mutated by test_fuzz_disk_images, on which The "
    "Sleuth Kit's open_dir loops for ever inside C (gzip: 2 MB of mostly zeros)",
    "e01-damaged-chunk.E01": "an E01 segment (ewfacquire of an ext4 image), mutated by "
    "test_fuzz_disk_images, with a chunk libewf refuses: pytsk3 raised it as RuntimeError",
    "records-mixed-newlines-blank-line.csv": "a header, a blank line, then a CRLF line: "
    "DuckDB's line reader (which finds blank lines) refused it with its own error",
}


# --- large ones, built at test time ---------------------------------------------------------


def zip_bomb_overlap(path: Path, copies: int = 2000, kernel_mib: int = 64) -> None:
    """A zip bomb without recursion: one compressed kernel, ``copies`` central-directory
    entries all pointing at the same local header (entries that overlap entirely). ~70 KB
    that would expand to ``copies`` x ``kernel_mib`` MiB (125 GiB by default)."""
    kernel = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = b"".join(kernel.compress(b"\0" * (1 << 20)) for _ in range(kernel_mib)) + kernel.flush()
    size = kernel_mib << 20
    crc = 0
    for _ in range(kernel_mib):
        crc = zlib.crc32(b"\0" * (1 << 20), crc)
    name = b"kernel.bin"
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0
    )
    central_one = (
        struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            8,
            0,
            0,
            crc,
            len(body),
            size,
            len(name),
            0,
            0,
            0,
            0,
            0,
            0,
        )
        + name
    )
    central = central_one * copies
    offset = len(local) + len(name) + len(body)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, copies, copies, len(central), offset, 0)
    path.write_bytes(local + name + body + central + end)


def zip_bomb_nested(path: Path, levels: int = 3, fan: int = 6, leaf_mib: int = 16) -> None:
    """Zips of zips (the 42.zip shape): ``fan`` copies per level, a leaf of zeros at the bottom."""
    blob = _zip({"zeros.bin": b"\0" * (leaf_mib << 20)})
    for level in range(levels):
        blob = _zip({f"level{level}-{i}.zip": blob for i in range(fan)})
    path.write_bytes(blob)


def gzip_bomb(path: Path, members: int = 32, member_mib: int = 64) -> None:
    """Gzip members of zeros, one after another (valid gzip): 2 GiB from about 2 MB."""
    import gzip

    member = gzip.compress(b"\0" * (member_mib << 20), compresslevel=9, mtime=0)
    path.write_bytes(member * members)


def csv_long_line(
    path: Path,
    header: str = RECORDS_HEADER,
    good: str = GOOD_RECORD,
    size: int = 100 << 20,
) -> None:
    """A CSV whose third line is one ``size``-byte field (100 MB without a newline)."""
    with path.open("wb") as out:
        out.write(header.encode() + good.encode())
        chunk = b"A" * (1 << 20)
        for _ in range(size >> 20):
            out.write(chunk)
        out.write(b"," + good.split(",", 1)[1].encode() + good.encode())


def vics_huge_string(path: Path, size: int = 64 << 20) -> None:
    with path.open("wb") as out:
        out.write(_vics("[").rstrip(b"}") + b'{"MD5":"' + MD5.encode() + b'","Series":"')
        chunk = b"A" * (1 << 20)
        for _ in range(size >> 20):
            out.write(chunk)
        out.write(b'"}]}')


def vics_deep_100k(path: Path) -> None:
    path.write_bytes(_vics("[" * 100_000 + "]" * 100_000))


def signed_package(folder: Path, manifest_files: dict[str, str], files: dict[str, bytes]) -> None:
    """A package signed by a sender's own key whose manifest lists ``manifest_files``."""
    folder.mkdir(parents=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    key = Ed25519PrivateKey.generate()
    write_signed_manifest(folder, key, {"package_id": "KAI-ZZ-1", "created": "2024-01-01"})
    doc = json.loads((folder / "manifest.json").read_text())
    doc["files"].update(manifest_files)
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    (folder / "manifest.json").write_bytes(data)
    (folder / "manifest.sig").write_bytes(key.sign(data))  # signed: only the content is hostile


def package_traversal(folder: Path) -> None:
    signed_package(
        folder,
        {"../../../../etc/passwd": "0" * 64, "/etc/shadow": "0" * 64},
        {"package.json": b"{}\n"},
    )


def package_symlink(folder: Path) -> None:
    signed_package(folder, {}, {"package.json": b"{}\n"})
    (folder / "events.csv").symlink_to("/etc/passwd")
    doc = json.loads((folder / "manifest.json").read_text())
    doc["files"]["events.csv"] = "0" * 64
    (folder / "manifest.json").write_text(json.dumps(doc))


def truncated_disk_image(path: Path) -> None:
    """The first 40 KB of an ext4 image (made by mke2fs): a superblock, the rest gone."""
    from disk_samples import ext4_image

    work = path.with_name(path.name + ".work")
    work.mkdir()
    image = ext4_image(work / "whole.img", {"a.txt": b"a" * 5000}, size="2M")
    path.write_bytes(image.read_bytes()[: 40 << 10])


def package_deep_manifest(folder: Path) -> None:
    signed_package(folder, {}, {"package.json": b"{}\n"})
    (folder / "manifest.json").write_bytes(b'{"files": ' + b"[" * 100_000 + b"}")


def package_long_name(folder: Path) -> None:
    """A manifest naming a file whose name no file system takes (5000 characters)."""
    signed_package(folder, {"a" * 5000: "0" * 64}, {"package.json": b"{}\n"})


def disk_cut_inside_a_file(path: Path) -> None:
    """An ext4 image cut 1000 bytes into its one file's data: the file cannot be read whole."""
    from disk_samples import _run, ext4_image

    work = path.with_name(path.name + ".work")
    work.mkdir()
    image = ext4_image(work / "whole.img", {"a.txt": b"a" * 50_000}, size="2M")
    first_block = int(_run("debugfs", "-R", "blocks /a.txt", str(image)).split()[0])
    path.write_bytes(image.read_bytes()[: first_block * 1024 + 1000])


LARGE: dict[str, Callable[[Path], None]] = {
    "zip-bomb-overlapping-entries.zip": zip_bomb_overlap,
    "zip-bomb-nested.zip": zip_bomb_nested,
    "gzip-bomb.gz": gzip_bomb,
    "records-100mb-line.csv": csv_long_line,
    "outcomes-100mb-line.csv": lambda p: csv_long_line(p, OUTCOMES_HEADER, OUTCOME_ROW),
    "outcomes-2mb-line.csv": lambda p: csv_long_line(p, OUTCOMES_HEADER, OUTCOME_ROW, 2 << 20),
    "hashes-100mb-line.csv": lambda p: csv_long_line(p, "md5,series\n", f"{MD5},s\n"),
    "vics-64mb-string.json": vics_huge_string,
    "vics-deep-nesting-100000.json": vics_deep_100k,
    "package-traversal": package_traversal,
    "package-symlink": package_symlink,
    "package-deep-manifest": package_deep_manifest,
    "package-long-name": package_long_name,
    "disk-truncated.img": truncated_disk_image,
    "disk-cut-inside-a-file.img": disk_cut_inside_a_file,
    **DISKS,  # virtual disks: QCOW2 tables and bombs, VMDK extents, VHD sizes (issue 13)
}


def write_small(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in SMALL.items():
        (folder / name).write_bytes(build())


def write_large(folder: Path, names: list[str] | None = None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names or list(LARGE):
        LARGE[name](folder / name)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=Path, help="write the kept (small) files here")
    parser.add_argument("--large", type=Path, help="write the large files here")
    options = parser.parse_args()
    if options.small:
        write_small(options.small)
    if options.large:
        write_large(options.large)
