"""The hasher's own paths: large blobs re-read from disk or a spool, records per archive member."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import pytest
from scan_samples import noise_image

from kaitiaki.scan import hasher


@pytest.mark.parametrize("keep_in_memory", [64 << 20, 1000])
def test_large_blobs_hash_the_same_from_memory_spool_or_disk(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pdq_testdata: Path, keep_in_memory: int
) -> None:
    """Above the in-memory limit a top-level file is reopened and a member is spooled to disk."""
    monkeypatch.setattr(hasher, "KEEP_IN_MEMORY", keep_in_memory)
    video = pdq_testdata / "videos" / "test-padded-dimensions.mp4"
    picture = noise_image(11, size=400)
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("clip.mp4", video.read_bytes())
        out.writestr("picture.jpg", picture)

    (direct,) = hasher.hash_path(video)
    records = {r.path.rsplit("!/", 1)[-1]: r for r in hasher.hash_path(archive)}
    member = records["clip.mp4"]
    assert direct.vpdq and member.vpdq == direct.vpdq
    assert member.sha256 == direct.sha256 == hashlib.sha256(video.read_bytes()).hexdigest()
    assert records["picture.jpg"].pdq is not None
    assert records["picture.jpg"].sha256 == hashlib.sha256(picture).hexdigest()
    assert records[str(archive)].kind == "archive"


def test_hash_json_view_uses_the_documented_names(pdq_testdata: Path) -> None:
    (image,) = hasher.hash_path(pdq_testdata / "images" / "misc-images" / "wee.jpg")
    view = image.as_json()
    assert view["type"] == "image"
    assert len(view["pdq"]) == 64 and len(view["pdq_dihedral"]) == 8
    assert {"path", "size", "md5", "sha1", "sha256", "pdq_quality"} <= set(view)
    (clip,) = hasher.hash_path(pdq_testdata / "videos" / "test-padded-dimensions.mp4")
    first = clip.as_json()["vpdq"][0]
    assert set(first) == {"frame", "quality", "hex", "seconds"}
    assert first["frame"] == 0 and first["seconds"] == 0.0


def test_unreadable_path_is_one_error_record(tmp_path: Path) -> None:
    (record,) = hasher.hash_path(tmp_path / "missing.jpg")
    assert record.sha256 is None
    assert record.error is not None and "unreadable" in record.error
