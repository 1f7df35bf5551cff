"""The hostile-file corpus as regression tests: each file ends in its parser's clear error (naming
the file and where) or in a safe result, in a worker process with a time bound and a memory cap.

Small files are kept in ``files/``; bombs, 100 MB lines and signed packages are built by
``make_hostile.py`` into a temporary folder once per session.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fuzz_sandbox import Outcome, Sandbox
from make_hostile import FOUND, LARGE, SMALL, write_large

KEPT = Path(__file__).resolve().parent / "files"


@dataclass(frozen=True)
class Case:
    name: str
    target: str
    kind: str  # "error": the parser's clear error; "ok": a result
    match: str = ""  # a regex the error message or the result's summary must match


CASES = [
    # VICS: bounded numbers, nesting and strings, refused with the position (issue 12, finding 3)
    Case("vics-5001-digit-integer.json", "vics", "error"),
    Case("vics-5001-digit-float.json", "vics", "error"),
    Case("vics-deep-nesting-5000.json", "vics", "error"),
    Case("vics-deep-nesting-100000.json", "vics", "error"),
    Case("vics-64mb-string.json", "vics", "error"),
    Case("vics-truncated.json", "vics", "error"),
    Case("vics-not-utf8.json", "vics", "error"),
    Case("vics-nul-bytes.json", "vics", "error"),
    # plain and CSV hash lists
    Case("hashes-nul.txt", "hashset_plain", "error", r"line 2"),
    Case("hashes-not-utf8.txt", "hashset_plain", "error", r"UTF-8"),
    Case("hashes-unclosed-quote.csv", "hashset_csv", "error"),
    Case("hashes-100mb-line.csv", "hashset_csv", "error", r"line 3"),
    # access records: a bad row is rejected by number; a file that cannot be read is refused
    Case("records-not-utf8.csv", "records", "ok", r"1 accepted, 1 rejected"),
    Case("records-nul.csv", "records", "ok", r"1 accepted, 1 rejected"),
    Case("records-unclosed-quote.csv", "records", "error", r"cannot read as csv"),
    Case("records-100mb-line.csv", "records", "error", r"line 3 is longer than 2000000 bytes"),
    Case("records-deep-and-huge.jsonl", "records", "ok", r"0 accepted, 3 rejected"),
    Case("records-mixed-newlines-blank-line.csv", "records", "error", r"\(lines of .*invalid"),
    Case("records-truncated.parquet", "records", "error", r"cannot read as parquet"),
    Case(
        "records-broken-page.parquet", "records", "error", r"cannot read as parquet \((read|check) "
    ),
    Case("records-not-parquet.parquet", "records", "error", r"cannot read as parquet"),
    Case("mapping-deep.toml", "mapping", "error", r"nested too deeply"),
    Case("mapping-huge-integer.toml", "mapping", "error", r"not valid TOML"),
    Case("mapping-not-utf8.toml", "mapping", "error", r"not UTF-8"),
    # archives: traversal names shown without their climbing parts, links never followed,
    # damage an ArchiveError, bombs stopped by the expansion budget
    Case("zip-slip.zip", "archive", "ok", r"2 members"),
    Case("zip-symlink-escape.zip", "archive", "ok", r"1 members, 0 bytes"),
    Case("zip-nul-in-name.zip", "archive", "ok", r"2 members"),
    Case("zip-truncated.zip", "archive", "error", r"unreadable zip"),
    Case("tar-traversal.tar", "archive", "ok", r"2 members, 2 bytes"),
    Case("tar-symlink-escape.tar", "archive", "ok", r"3 members"),
    Case("tar-truncated.tar.gz", "archive", "error", r"truncated|unreadable|damaged"),
    Case("7z-truncated.7z", "archive", "error", r"7z"),
    Case("zip-bomb-overlapping-entries.zip", "archive", "ok", r"2000 members, 0 bytes"),
    Case("zip-bomb-overlapping-entries.zip", "scan", "ok", r"2001 records, 2000 with errors"),
    Case("zip-bomb-nested.zip", "scan", "ok", r"with errors"),
    Case("gzip-bomb.gz", "archive", "error", r"archive bomb"),
    Case("gzip-bomb.gz", "scan", "ok", r"with errors"),
    # disk images
    Case("disk-truncated.img", "disk_image", "ok", r"1 files"),
    Case("disk-truncated.img", "scan", "ok", r"2 records, 1 with errors"),
    Case("disk-cut-inside-a-file.img", "disk_image", "ok", r"1 files, 1 unreadable"),
    Case("disk-cut-inside-a-file.img", "scan", "ok", r"2 records, 1 with errors"),
    # found by the fuzz suite: TSK loops in C; the watched walk is stopped and recorded
    Case("ext4-tsk-loop.img.gz", "scan", "ok", r"3 records, 1 with errors"),
    # TSK's all-types probe failed on the damaged chunk; probing type by type (disk.py) finds
    # the ext file system and its files, the damaged chunk lying outside them
    Case("e01-damaged-chunk.E01", "scan", "ok", r"4 records, 1 with errors"),
    # virtual disks (issue 13): tables claimed past the end, compressed clusters that expand
    # far past a cluster, extent files named outside the descriptor's folder, absurd sizes
    Case(
        "qcow2-l1-4m-entries-huge-offset.qcow2",
        "virtual_disk",
        "error",
        r"L1 table of 4194304 entries at byte 4611686018427387904 runs past the image's end",
    ),
    Case("qcow2-l1-offset-past-any-file.qcow2", "virtual_disk", "error", r"past any file's end"),
    Case("qcow2-l1-4m-entries-huge-offset.qcow2", "scan", "ok", r"2 records, 1 with errors"),
    # Bounded to one cluster, as QEMU reads it: 2 MiB of zeros out, no more.
    Case("qcow2-zstd-bomb.qcow2", "virtual_disk", "ok", r": 2097152 bytes, 2097152 read, 0 "),
    Case("qcow2-deflate-bomb.qcow2", "virtual_disk", "ok", r": 2097152 bytes, 2097152 read, 0 "),
    Case("qcow2-zstd-bomb.qcow2", "scan", "ok", r"2 records, 1 with errors"),
    # The base name only, beside the descriptor (there is no "passwd" there): never /etc.
    Case(
        "vmdk-extent-traversal.vmdk",
        "virtual_disk",
        "error",
        r"extent file '\.\./\.\./etc/passwd' named by the descriptor is missing beside it",
    ),
    Case("vmdk-extent-absolute.vmdk", "virtual_disk", "error", r"'/etc/passwd' .* missing beside"),
    # libvhdi takes the footer's size; reads past its block table fail, each naming its byte.
    Case(
        "vhd-absurd-size.vhd",
        "virtual_disk",
        "ok",
        r": 9223372036854775296 bytes, .* [1-9]\d* reads failed",
    ),
    # Scanned, TSK's all-types probe (YAFFS2 reads the whole claimed disk) ran into the 300 s
    # watchdog; probing type by type, YAFFS2 only on small volumes, answers at once.
    Case("vhd-absurd-size.vhd", "scan", "ok", r"2 records, 1 with errors"),
    # what partners send back
    Case("package-traversal", "package", "ok", r"refused: .*outside the package"),
    Case("package-symlink", "package", "ok", r"refused: .*a link"),
    Case("package-deep-manifest", "package", "ok", r"refused: .*not a readable manifest"),
    Case("package-long-name", "package", "ok", r"refused: .*cannot be read"),
    Case("pointers-deep.json", "pointers", "error", r"nested too deeply"),
    Case("pointers-5001-digit-version.json", "pointers", "error", r"not JSON|digits"),
    Case("outcomes-not-utf8.csv", "outcomes", "error", r"line 2: not UTF-8"),
    Case("outcomes-5001-digit-count.csv", "outcomes", "error", r"row 1 \(line 2\)"),
    Case("outcomes-nul.csv", "outcomes", "ok", r"1 rows"),
    Case("outcomes-100mb-line.csv", "outcomes", "error", r"larger than 64 MiB"),
    Case("outcomes-2mb-line.csv", "outcomes", "error", r"line 3: longer than"),
    Case("enrichment-not-utf8.csv", "enrichment", "error", r"line 2: not UTF-8"),
]


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    write_large(folder)
    return folder


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()


def test_every_kept_and_built_file_is_in_a_case() -> None:
    named = {case.name for case in CASES}
    assert set(SMALL) | set(FOUND) | set(LARGE) <= named
    kept = {p.name for p in KEPT.iterdir()}
    assert kept == set(SMALL) | set(FOUND), "files/ differs from make_hostile.SMALL and FOUND"


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.target}:{c.name}")
def test_hostile_file(case: Case, large: Path, sandbox: Sandbox) -> None:
    path = large / case.name if case.name in LARGE else KEPT / case.name
    outcome: Outcome = sandbox.run(case.target, path)
    assert outcome.kind == case.kind, f"{case.name} through {case.target}: {outcome}"
    said = outcome.summary if case.kind == "ok" else outcome.message
    assert re.search(case.match, said), f"{case.name}: {said[:500]!r} lacks {case.match!r}"
