"""The demo sample: deterministic, and every file hashes to the outcome its manifest promises."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kaitiaki.scan.hasher import hash_path
from kaitiaki.signals.pdq import hamming
from kaitiaki.signals.record import FileRecord
from kaitiaki.simulate import SampleManifest, build_sample
from kaitiaki.simulate.sample import ARCHIVE_SEPARATOR, IMAGE_SET, VICS_CONTEXT, VIDEO_SET

THRESHOLD = 31
QUALITY_FLOOR = 50
VIDEO_MATCH_SHARE = 0.8


def _built_elsewhere(root: Path, seed: int) -> SampleManifest:
    """The sample as a fresh interpreter builds it: what "same seed, same bytes" promises is a
    new run of ``kaitiaki demo``. (Built inside a long test process that had run hundreds of
    other tests, the H.264 clip once came out with other bytes; see the closing note of
    issue 12. Its frames are checked below either way, through the vPDQ match.)"""
    import subprocess
    import sys

    code = "import sys; from pathlib import Path; from kaitiaki.simulate import build_sample; "
    code += "build_sample(Path(sys.argv[1]), seed=int(sys.argv[2])).write()"
    subprocess.run([sys.executable, "-c", code, str(root), str(seed)], check=True, timeout=600)
    return SampleManifest.load(root / "manifest.json")


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return _built_elsewhere(tmp_path_factory.mktemp("sample"), 0)


@pytest.fixture(scope="module")
def records(sample: SampleManifest) -> dict[str, FileRecord]:
    """Every record ``hash_path`` gives for the sample, keyed by path relative to its root."""
    prefix = str(sample.root) + "/"
    out: dict[str, FileRecord] = {}
    for entry in sample.files:
        if ARCHIVE_SEPARATOR in entry.path:
            continue
        for record in hash_path(sample.root / entry.path):
            out[record.path.removeprefix(prefix)] = record
    return out


def nearest(record: FileRecord, original: str) -> int:
    """Dihedral query: the least distance from any of the record's 8 hashes to ``original``."""
    assert record.pdq_dihedral is not None
    return min(hamming(h, original) for h in record.pdq_dihedral)


def originals(sample: SampleManifest, records: dict[str, FileRecord]) -> dict[str, str]:
    found = {e.path: records[e.path].pdq for e in sample.select(role="original")}
    assert all(found.values())
    return {k: v for k, v in found.items() if v}


def test_same_seed_same_image_bytes(sample: SampleManifest, tmp_path: Path) -> None:
    again = _built_elsewhere(tmp_path / "again", 0)
    other = build_sample(tmp_path / "other", seed=1)
    assert again.files == sample.files  # digests of every file and member included
    for entry in sample.files:
        if entry.kind == "image" and ARCHIVE_SEPARATOR not in entry.path:
            assert (again.root / entry.path).read_bytes() == sample.on_disk(entry).read_bytes()
    for name in (IMAGE_SET, "archives/bundle.zip"):
        assert (again.root / name).read_bytes() == (sample.root / name).read_bytes()
    # Photos and their edits do not depend on the seed; generated images do.
    by_path = {e.path: e for e in other.files}
    assert by_path["originals/astronaut.jpg"].md5 == sample.get("originals/astronaut.jpg").md5
    assert by_path["unrelated/shapes.png"].md5 != sample.get("unrelated/shapes.png").md5


def test_manifest_file_round_trips(sample: SampleManifest) -> None:
    assert SampleManifest.load(sample.root / "manifest.json") == sample


def test_manifest_covers_what_the_brief_lists(sample: SampleManifest) -> None:
    roles = {e.role for e in sample.files}
    assert roles >= {"original", "variant", "unrelated", "video", "corrupt", "archive", "member"}
    assert len(sample.select(role="original")) >= 6
    assert {e.path.rsplit(".", 1)[1] for e in sample.select(role="original")} == {"jpg", "png"}
    expected = {e.expected for e in sample.select(role="original")}
    assert expected == {"known", "ignorable", "new"}
    for original in sample.select(role="original"):
        edits = {e.transform for e in sample.files if e.derived_from == original.path}
        assert edits >= {"half", "q40", "crop", "rot90", "flip", "text", "letterbox"}


def test_records_agree_with_manifest(
    sample: SampleManifest, records: dict[str, FileRecord]
) -> None:
    for entry in sample.files:
        record = records[entry.path]
        assert record.kind == entry.kind, entry.path
        assert record.md5 == entry.md5, entry.path
        assert record.sha256 == entry.sha256, entry.path
        assert (record.error is not None) == (entry.expected == "error"), entry.path


def test_variants_match_their_original_and_no_other(
    sample: SampleManifest, records: dict[str, FileRecord]
) -> None:
    hashes = originals(sample, records)
    variants = [e for e in sample.files if e.derived_from in hashes and e.expected != "error"]
    assert len(variants) >= 6 * 7 + 2  # every edit of every original, and the archive members
    for entry in variants:
        assert entry.derived_from is not None
        record = records[entry.path]
        assert record.pdq_quality is not None and record.pdq_quality >= QUALITY_FLOOR, entry.path
        distances = {path: nearest(record, pdq) for path, pdq in hashes.items()}
        assert distances[entry.derived_from] <= THRESHOLD, (entry.path, distances)
        assert min(distances, key=lambda p: distances[p]) == entry.derived_from, entry.path


def test_plain_hashes_miss_rotations(
    sample: SampleManifest, records: dict[str, FileRecord]
) -> None:
    # Without the dihedral query a rotated copy is as far off as an unrelated photo.
    hashes = originals(sample, records)
    for entry in sample.files:
        if entry.transform == "rot90":
            assert entry.derived_from is not None
            assert hamming(records[entry.path].pdq or "", hashes[entry.derived_from]) > THRESHOLD


def test_unrelated_images_match_no_original(
    sample: SampleManifest, records: dict[str, FileRecord]
) -> None:
    hashes = originals(sample, records)
    unrelated = sample.select(role="unrelated")
    assert len(unrelated) >= 5
    for entry in unrelated:
        record = records[entry.path]
        assert entry.expected == "new"
        for path, pdq in hashes.items():
            assert nearest(record, pdq) > THRESHOLD, (entry.path, path)


def test_video_copy_matches_by_vpdq_only(
    sample: SampleManifest, records: dict[str, FileRecord]
) -> None:
    original, copy = records["video/clip.mp4"], records["video/clip-copy.mp4"]
    assert original.md5 != copy.md5
    assert original.vpdq and copy.vpdq
    good = [f for f in original.vpdq if f[1] >= QUALITY_FLOOR]
    assert len(good) == len(original.vpdq) >= 5  # a textured clip: no frame too flat to use
    matched = [
        f
        for f in copy.vpdq
        if f[1] >= QUALITY_FLOOR and min(hamming(f[2], g[2]) for g in good) <= THRESHOLD
    ]
    assert len(matched) / len(copy.vpdq) >= VIDEO_MATCH_SHARE


def test_damaged_files(sample: SampleManifest, records: dict[str, FileRecord]) -> None:
    errors = {e.path for e in sample.select(role="corrupt", expected="error")}
    assert errors == {"corrupt/truncated.jpg", "corrupt/broken-body.png", "corrupt/empty.jpg"}
    for path in errors:
        assert records[path].error and records[path].pdq is None, path
    assert records["corrupt/empty.jpg"].kind == "empty"
    assert records["corrupt/empty.jpg"].size == 0
    # Text named .jpg is typed by its bytes: "other", no signal, nothing failed.
    text = records["corrupt/not-a-photo.jpg"]
    assert (text.kind, text.error, text.pdq) == ("other", None, None)


def test_nested_archive_members(sample: SampleManifest, records: dict[str, FileRecord]) -> None:
    members = [e.path for e in sample.files if ARCHIVE_SEPARATOR in e.path]
    assert "archives/bundle.zip!/inner.tar.gz!/pictures/astronaut-flip-q70.jpg" in members
    for path in members:
        assert records[path].depth == path.count(ARCHIVE_SEPARATOR)


def test_stand_in_hash_sets(sample: SampleManifest, records: dict[str, FileRecord]) -> None:
    images = json.loads((sample.root / IMAGE_SET).read_text(encoding="utf-8"))
    videos = json.loads((sample.root / VIDEO_SET).read_text(encoding="utf-8"))
    assert images["@odata.context"] == videos["@odata.context"] == VICS_CONTEXT
    listed = {m["RelativeFilePath"]: m for m in images["value"] + videos["value"]}
    assert len({m["MediaID"] for m in listed.values()}) == len(listed)
    known = {e.path for e in sample.select(role="original") if e.expected != "new"}
    assert set(listed) == known | {"video/clip.mp4"}
    assert 0 in {m["Category"] for m in images["value"]}
    for path, media in listed.items():
        record = records[path]
        assert re.fullmatch(r"[0-9A-F]{32}", media["MD5"]) and media["MD5"] == record.md5.upper()
        assert media["SHA1"] == (record.sha1 or "").upper()
        assert isinstance(media["Category"], int) and media["Category"] == sample.get(path).category
        assert media["VictimIdentified"] in ("true", "false")
        if "PDQ" in media:
            assert media["PDQ"] == record.pdq
        else:
            assert media["VPDQ"] == record.vpdq
