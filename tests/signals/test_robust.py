"""The robust signal: each transformation family matches its original and no other photo;
the byte encoding refuses anything it did not write. Benign photos from ``skimage.data`` only."""

from __future__ import annotations

import contextlib
import io
import struct
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from kaitiaki.signals import robust
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.pdq import load_reduced
from kaitiaki.simulate.edits import crop, jpeg, meme, photo, rotate, stickers, text_banner

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket")


FAMILIES: dict[str, Callable[[Image.Image], Image.Image]] = {
    "crop 10% each side": lambda im: crop(im, 0.1, 0.1, 0.1, 0.1),
    "crop asymmetric": lambda im: crop(im, 0.2, 0.05, 0.0, 0.15),
    "crop top-left 80%": lambda im: crop(im, 0.0, 0.0, 0.2, 0.2),
    "rotate +10 with corners": lambda im: rotate(im, 10, True),
    "rotate -10 with corners": lambda im: rotate(im, -10, True),
    "rotate +10 cropped": lambda im: rotate(im, 10, False),
    "rotate -10 cropped": lambda im: rotate(im, -10, False),
    "text banner 25%": text_banner,
    "emoji stickers 25%": stickers,
    "meme caption band": meme,
    "jpeg q30": jpeg,
    "downscale 30%": lambda im: im.resize(
        (im.width * 3 // 10, im.height * 3 // 10), Image.Resampling.BILINEAR
    ),
    "blur": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    "brightness": lambda im: ImageEnhance.Brightness(im).enhance(1.4),
    "grayscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "horizontal flip": ImageOps.mirror,
    "flip and crop": lambda im: crop(ImageOps.mirror(im), 0.1, 0.05, 0.05, 0.1),
}


def sig(im: Image.Image) -> robust.RobustSignature:
    return robust.compute(np.asarray(load_reduced(im)))


@pytest.fixture(scope="module")
def originals() -> dict[str, Image.Image]:
    return {name: photo(name) for name in PHOTOS}


@pytest.fixture(scope="module")
def references(originals: dict[str, Image.Image]) -> dict[str, robust.RobustSignature]:
    return {name: sig(im) for name, im in originals.items()}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_family_matches_its_original_and_no_other_photo(
    family: str,
    originals: dict[str, Image.Image],
    references: dict[str, robust.RobustSignature],
) -> None:
    for name, im in originals.items():
        query = sig(FAMILIES[family](im))
        for other, reference in references.items():
            result = robust.verify(query, reference)
            if other == name:
                assert result.matched, f"{family}: {name} not matched ({result.inliers} inliers)"
            else:
                assert not result.matched, f"{family}: {name} matched {other} ({result.inliers})"


def test_signature_shape_and_size(references: dict[str, robust.RobustSignature]) -> None:
    for reference in references.values():
        assert max(reference.width, reference.height) == robust.SIDE
        assert reference.points.dtype == np.float32 and reference.points.shape[1] == 2
        assert reference.descriptors.dtype == np.uint8
        assert reference.descriptors.shape == (len(reference.points), 32)
        assert len(reference.points) <= 2 * robust.KEYPOINTS
        assert len(robust.to_bytes(reference)) <= 10 + 36 * 2 * robust.KEYPOINTS


def test_bytes_round_trip_verifies_the_same(references: dict[str, robust.RobustSignature]) -> None:
    a, b = references["astronaut"], references["coffee"]
    back = robust.from_bytes(robust.to_bytes(a))
    assert (back.width, back.height) == (a.width, a.height)
    np.testing.assert_array_equal(back.points, a.points)
    np.testing.assert_array_equal(back.descriptors, a.descriptors)
    query = sig(crop(photo("astronaut"), 0.1, 0.1, 0.1, 0.1))
    assert robust.verify(query, back) == robust.verify(query, a)
    assert robust.verify(query, robust.from_bytes(robust.to_bytes(b))) == robust.verify(query, b)


def test_compute_image_bytes_matches_compute(originals: dict[str, Image.Image]) -> None:
    buf = io.BytesIO()
    originals["rocket"].save(buf, "PNG")
    from_file = robust.compute_image_bytes(buf.getvalue())
    direct = sig(originals["rocket"])
    np.testing.assert_array_equal(from_file.descriptors, direct.descriptors)


@pytest.mark.parametrize("data", [b"", b"not an image", b"\x89PNG\r\n\x1a\n" + b"\0" * 40])
def test_compute_image_bytes_refuses_what_is_not_an_image(data: bytes) -> None:
    with pytest.raises(SignalError):
        robust.compute_image_bytes(data)


def test_truncated_image_is_a_signal_error(originals: dict[str, Image.Image]) -> None:
    buf = io.BytesIO()
    originals["coins"].save(buf, "JPEG")
    with pytest.raises(SignalError):
        robust.compute_image_bytes(buf.getvalue()[:2000])


def test_flat_image_has_an_empty_signature_that_matches_nothing(
    references: dict[str, robust.RobustSignature],
) -> None:
    flat = robust.compute(np.full((200, 300, 3), 128, np.uint8))
    assert len(flat.descriptors) == 0
    assert robust.from_bytes(robust.to_bytes(flat)).descriptors.shape == (0, 32)
    assert not robust.verify(flat, references["camera"]).matched
    assert not robust.verify(references["camera"], flat).matched


def _valid() -> bytes:
    return robust.to_bytes(robust.compute(np.asarray(load_reduced(photo("camera")))))


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda d: d[:5], "truncated"),
        (lambda d: d[:-1], "must be"),
        (lambda d: d + b"\0", "must be"),
        (lambda d: b"XYZ" + d[3:], "magic"),
        (lambda d: d[:3] + bytes([robust.VERSION + 1]) + d[4:], "version"),
        (lambda d: d[:4] + struct.pack("<H", 0) + d[6:], "size"),
        (lambda d: d[:4] + struct.pack("<H", 60000) + d[6:], "size"),
        (lambda d: d[:8] + struct.pack("<H", 65535) + d[10:], "rows"),
        (lambda d: d[:8] + struct.pack("<H", 3) + d[10:], "must be"),
        (lambda d: d[:10] + struct.pack("<H", 65535) + d[12:], "outside"),
    ],
)
def test_from_bytes_refuses_bad_data(mangle: Callable[[bytes], bytes], message: str) -> None:
    with pytest.raises(SignalError, match=message):
        robust.from_bytes(mangle(_valid()))


def test_from_bytes_refuses_oversized_input_before_reading_it() -> None:
    with pytest.raises(SignalError, match="too large"):
        robust.from_bytes(_VALID + b"\0" * 10**6)


def test_to_bytes_refuses_what_it_cannot_encode() -> None:
    points, descriptors = np.zeros((3, 2), np.float32), np.zeros((3, 32), np.uint8)
    with pytest.raises(SignalError):
        robust.to_bytes(robust.RobustSignature(70000, 10, points, descriptors))
    with pytest.raises(SignalError):
        robust.to_bytes(robust.RobustSignature(10, 10, points[:2], descriptors))


def test_from_bytes_refuses_non_bytes() -> None:
    with pytest.raises(SignalError):
        robust.from_bytes("KRS")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_from_bytes_fuzz_random(data: bytes) -> None:
    with contextlib.suppress(SignalError):
        robust.from_bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_from_bytes_fuzz_mutated(data: st.DataObject) -> None:
    valid = bytearray(_VALID)
    for _ in range(data.draw(st.integers(1, 6))):
        where = data.draw(st.integers(0, len(valid) - 1))
        valid[where] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(valid)))
    try:
        sig_ = robust.from_bytes(bytes(valid[:cut]) if cut % 7 == 0 else bytes(valid))
    except SignalError:
        return
    # Whatever is accepted is well formed and safe to verify.
    assert sig_.points.shape == (len(sig_.descriptors), 2)
    assert (sig_.points[:, 0] <= sig_.width).all() and (sig_.points[:, 1] <= sig_.height).all()
    robust.verify(sig_, sig_)


_VALID = _valid()
