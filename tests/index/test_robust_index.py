"""The robust index: retrieval plus verification finds transformed photos, nothing else; it
saves and loads. Benign photos from ``skimage.data`` only."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from PIL import Image, ImageDraw, ImageOps

from kaitiaki.index.robust import RobustIndex
from kaitiaki.signals import robust
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.pdq import load_reduced

INDEXED = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket")
NOT_INDEXED = ("moon", "hubble_deep_field", "immunohistochemistry")


def photo(name: str) -> Image.Image:
    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    return Image.fromarray(np.asarray(a[..., :3], np.uint8))


def sig(im: Image.Image) -> robust.RobustSignature:
    return robust.compute(np.asarray(load_reduced(im)))


def variants(im: Image.Image) -> list[Image.Image]:
    w, h = im.size
    cropped = im.crop((w // 10, h // 10, w - w // 10, h - h // 10))
    covered = im.copy()
    ImageDraw.Draw(covered).rectangle((0, 0, w // 2, h // 2), fill=(255, 0, 255))
    return [
        cropped,
        im.rotate(10, Image.Resampling.BICUBIC, expand=True),
        covered,
        ImageOps.mirror(cropped),
        im.resize((w * 3 // 10, h * 3 // 10)),
    ]


def _distractor(rng: np.random.Generator, rows: np.ndarray) -> robust.RobustSignature:
    """Real descriptor rows at random points: loads the buckets, never verifies."""
    picked = rows[rng.integers(0, len(rows), 200)]
    points = rng.uniform(0, robust.SIDE - 1, (200, 2)).astype(np.float32)
    return robust.RobustSignature(robust.SIDE, robust.SIDE, points, picked)


@pytest.fixture(scope="module")
def index() -> RobustIndex:
    built = RobustIndex()
    references = [sig(photo(name)) for name in INDEXED]
    rows = np.concatenate([r.descriptors for r in references])
    rng = np.random.default_rng(3)
    built.add([100 + i for i in range(len(INDEXED))], references)
    built.add(list(range(1000, 1300)), [_distractor(rng, rows) for _ in range(300)])
    return built


def test_transformed_photos_are_found_first(index: RobustIndex) -> None:
    for i, name in enumerate(INDEXED):
        for n, variant in enumerate(variants(photo(name))):
            found = index.query(sig(variant))
            assert found, f"{name} variant {n} not found"
            assert found[0][0] == 100 + i, f"{name} variant {n}: {found}"
            assert all(hit_id == 100 + i for hit_id, _ in found), found
            assert found[0][1] >= robust.MIN_INLIERS


def test_photos_not_indexed_find_nothing(index: RobustIndex) -> None:
    for name in NOT_INDEXED:
        im = photo(name)
        for variant in [im, *variants(im)]:
            assert index.query(sig(variant)) == []


def test_results_are_sorted_and_thresholded(index: RobustIndex) -> None:
    query = sig(photo("coffee"))
    found = index.query(query, min_inliers=1, candidates=50)
    assert found == sorted(found, key=lambda hit: (-hit[1], hit[0]))
    assert index.query(query, min_inliers=10**6) == []


def test_len_and_nbytes(index: RobustIndex) -> None:
    assert len(index) == len(INDEXED) + 300
    assert index.nbytes() > 300 * 200 * 32
    assert len(RobustIndex()) == 0
    assert RobustIndex().query(sig(photo("coins"))) == []


def test_add_refuses_mismatched_input() -> None:
    with pytest.raises(ValueError):
        RobustIndex().add([1, 2], [sig(photo("coins"))])
    bad = robust.RobustSignature(10, 10, np.zeros((3, 2), np.float32), np.zeros((2, 32), np.uint8))
    with pytest.raises(SignalError):
        RobustIndex().add([1], [bad])


def test_save_load_round_trip(index: RobustIndex, tmp_path: Path) -> None:
    index.save(tmp_path / "idx")
    loaded = RobustIndex.load(tmp_path / "idx")
    assert len(loaded) == len(index)
    for name in INDEXED:
        query = sig(variants(photo(name))[0])
        assert loaded.query(query) == index.query(query)
    # A loaded index takes more signatures and finds them.
    loaded.add([7], [sig(photo("moon"))])
    assert loaded.query(sig(variants(photo("moon"))[0]))[0][0] == 7


def test_load_refuses_foreign_or_inconsistent_folders(index: RobustIndex, tmp_path: Path) -> None:
    with pytest.raises(SignalError):
        RobustIndex.load(tmp_path / "missing")
    index.save(tmp_path / "idx")
    header = json.loads((tmp_path / "idx" / "index.json").read_text())
    (tmp_path / "idx" / "index.json").write_text(json.dumps({**header, "version": 99}))
    with pytest.raises(SignalError, match="version"):
        RobustIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "index.json").write_text(json.dumps({**header, "images": 5}))
    with pytest.raises(SignalError, match="inconsistent"):
        RobustIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "index.json").write_text(json.dumps(header))
    np.save(tmp_path / "idx" / "offsets.npy", np.arange(len(index) + 1, dtype=np.int64) * 10**6)
    with pytest.raises(SignalError, match="inconsistent"):
        RobustIndex.load(tmp_path / "idx")
    (tmp_path / "idx" / "ids.npy").write_bytes(b"garbage")
    with pytest.raises(SignalError):
        RobustIndex.load(tmp_path / "idx")


def test_adds_in_batches_equal_one_add() -> None:
    signatures = [sig(photo(name)) for name in INDEXED]
    one, many = RobustIndex(), RobustIndex()
    one.add(list(range(len(signatures))), signatures)
    for i, signature in enumerate(signatures):
        many.add([i], [signature])
    assert len(many) == len(one)
    query = sig(variants(photo("chelsea"))[1])
    assert many.query(query) == one.query(query) != []
    assert many.nbytes() == one.nbytes()
    assert one.query(query, candidates=0) == []
