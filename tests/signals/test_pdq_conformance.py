"""PDQ as ``kaitiaki hash`` and scans compute it (fast path included) against Meta's references.

Data: ``../shared/testdata/pdq`` (see its README). Missing data skips these tests, or fails them
when CI=true (the ``pdq_testdata`` fixture in tests/conftest.py).
"""

from __future__ import annotations

import csv
import itertools
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kaitiaki.scan.hasher import hash_path
from kaitiaki.signals.pdq import hamming
from kaitiaki.signals.record import FileRecord

# The reference README: different decoders land within 10 bits for images of quality >= 80.
DRIFT_LIMIT = 10
QUALITY_FOR_DRIFT = 80
THRESHOLD = 31
QUALITY_FLOOR = 50
DIH = "images/reg-test-input/dih"
BRIDGE = "images/bridge-mods"
UNRELATED = "images/reg-test-input/labelme-subset"


@dataclass(frozen=True, slots=True)
class Expected:
    path: str
    reference: str  # the C++ reference's hash where it lists one, else the Python reference's
    quality: int | None


def read_expected(root: Path) -> list[Expected]:
    with (root / "expected.csv").open(newline="", encoding="utf-8") as handle:
        return [
            Expected(
                row["path"],
                row["reference_cpp"] or row["reference_python"],
                int(row["reference_quality"]) if row["reference_quality"] else None,
            )
            for row in csv.DictReader(handle)
        ]


@pytest.fixture(scope="module")
def expected(pdq_testdata: Path) -> list[Expected]:
    return read_expected(pdq_testdata)


@pytest.fixture(scope="module")
def records(pdq_testdata: Path) -> dict[str, FileRecord]:
    """``hash_path`` records of every image in the set, by path relative to the set's root."""
    out = {}
    for path in sorted((pdq_testdata / "images").rglob("*")):
        if path.is_file():
            (record,) = hash_path(path)
            out[path.relative_to(pdq_testdata).as_posix()] = record
    return out


def pdq_of(records: dict[str, FileRecord], path: str) -> str:
    record = records[path]
    assert record.error is None and record.pdq, (path, record.error)
    return record.pdq


def nearest(record: FileRecord, other: str) -> int:
    assert record.pdq_dihedral is not None
    return min(hamming(h, other) for h in record.pdq_dihedral)


def test_every_image_hashes(records: dict[str, FileRecord]) -> None:
    assert len(records) >= 30
    for path, record in records.items():
        assert record.kind == "image" and record.error is None, (path, record.error)
        assert record.pdq_dihedral and record.pdq_dihedral[0] == record.pdq
        assert len(record.pdq_dihedral) == 8


def test_within_10_bits_of_reference(
    expected: list[Expected], records: dict[str, FileRecord]
) -> None:
    checked, failures = 0, []
    for row in expected:
        record = records[row.path]
        assert record.pdq_quality is not None
        if row.quality is not None and row.quality >= QUALITY_FOR_DRIFT:
            # A reference quality >= 80 must not slip out of the check through ours.
            assert record.pdq_quality >= QUALITY_FOR_DRIFT, row.path
        if record.pdq_quality < QUALITY_FOR_DRIFT:
            continue
        checked += 1
        drift = hamming(pdq_of(records, row.path), row.reference)
        if drift > DRIFT_LIMIT:
            failures.append(f"{row.path}: {drift} bits")
    assert checked >= 25
    assert not failures, failures


def test_dihedral_files_match_only_through_dihedral_query(
    expected: list[Expected], records: dict[str, FileRecord]
) -> None:
    files = sorted(p for p in records if p.startswith(DIH + "/"))
    assert len(files) == 8
    original = f"{DIH}/bridge-1-original.jpg"
    ours = pdq_of(records, original)
    reference = next(r.reference for r in expected if r.path == original)
    for path in files:
        assert nearest(records[path], ours) <= THRESHOLD, path
        assert nearest(records[path], reference) <= THRESHOLD, path
        if path != original:
            # Rotated and flipped copies are ~120 bits away by their plain hashes.
            assert hamming(pdq_of(records, path), ours) > THRESHOLD, path


def test_every_bridge_edit_matches_the_original(records: dict[str, FileRecord]) -> None:
    original = pdq_of(records, f"{BRIDGE}/aaa-orig.jpg")
    edits = [p for p in records if p.startswith(BRIDGE + "/")]
    assert len(edits) == 12
    for path in edits:
        assert hamming(pdq_of(records, path), original) <= THRESHOLD, path


def test_unrelated_photos_do_not_match_each_other(records: dict[str, FileRecord]) -> None:
    photos = sorted(p for p in records if p.startswith(UNRELATED + "/"))
    assert len(photos) == 7
    for a, b in itertools.combinations(photos, 2):
        assert nearest(records[a], pdq_of(records, b)) > THRESHOLD, (a, b)


def kaitiaki_command() -> list[str]:
    """The installed console script when on PATH, else the same entry point via this Python."""
    script = shutil.which("kaitiaki")
    if script:
        return [script]
    return [sys.executable, "-c", "from kaitiaki.cli.app import main; main()"]


def test_cli_hash_gives_the_same_hashes(
    pdq_testdata: Path, expected: list[Expected], records: dict[str, FileRecord]
) -> None:
    paths = [f"{DIH}/{p.name}" for p in sorted((pdq_testdata / DIH).iterdir())]
    paths.append(f"{BRIDGE}/aaa-orig.jpg")
    done = subprocess.run(
        [*kaitiaki_command(), "hash", *(str(pdq_testdata / p) for p in paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == len(paths)
    references = {r.path: r.reference for r in expected}
    for path, line in zip(paths, lines, strict=True):
        assert line["path"] == str(pdq_testdata / path)
        assert line["type"] == "image"
        assert line["pdq"] == records[path].pdq
        assert line["pdq_dihedral"] == records[path].pdq_dihedral
        assert line["md5"] == records[path].md5
        assert hamming(line["pdq"], references[path]) <= DRIFT_LIMIT, path
