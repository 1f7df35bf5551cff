"""The robust signal: each transformation family matches its original and no other photo;
the byte encoding refuses anything it did not write. Benign photos from ``skimage.data`` only."""

from __future__ import annotations

import contextlib
import io
import struct
from collections.abc import Callable

import numpy as np
import pytest
import skimage.data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from kaitiaki.signals import robust
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.pdq import load_reduced

PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "coins", "rocket")


def photo(name: str) -> Image.Image:
    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    return Image.fromarray(np.asarray(a[..., :3], np.uint8))


def crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = im.size
    return im.crop((int(w * left), int(h * top), int(w * (1 - right)), int(h * (1 - bottom))))


def rotate(im: Image.Image, degrees: float, corners: bool) -> Image.Image:
    """Rotated with the black corners kept (canvas grown), or cropped to the largest centred
    box that has none."""
    if corners:
        return im.rotate(degrees, Image.Resampling.BICUBIC, expand=True)
    w, h = im.size
    a = np.radians(abs(degrees))
    f = 1 / (np.cos(a) + np.sin(a) * max(w, h) / min(w, h))
    box = (int(w * (1 - f) / 2) + 1, int(h * (1 - f) / 2) + 1)
    return im.rotate(degrees, Image.Resampling.BICUBIC).crop((*box, w - box[0], h - box[1]))


def text_banner(im: Image.Image) -> Image.Image:
    """A black band over the bottom quarter with white text on it."""
    im = im.copy()
    w, h = im.size
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, int(h * 0.75), w, h), fill=(0, 0, 0))
    draw.text(
        (w * 0.05, h * 0.78), "LOREM IPSUM", fill="white", font=ImageFont.load_default(h // 8)
    )
    return im


def stickers(im: Image.Image) -> Image.Image:
    """Four emoji-like coloured faces of radius 0.141 * side: ~25% of a square image."""
    im = im.copy()
    w, h = im.size
    draw = ImageDraw.Draw(im)
    rng = np.random.default_rng(7)
    r = int(min(w, h) * 0.141)
    for _ in range(4):
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=colour)
        draw.ellipse((cx - r // 2, cy - r // 3, cx - r // 4, cy), fill="black")
        draw.ellipse((cx + r // 4, cy - r // 3, cx + r // 2, cy), fill="black")
        draw.arc(
            (cx - r // 2, cy - r // 4, cx + r // 2, cy + r // 2), 20, 160, fill="black", width=4
        )
    return im


def meme(im: Image.Image) -> Image.Image:
    """The picture under a white caption band a quarter of its height."""
    w, h = im.size
    band = int(h * 0.25)
    out = Image.new("RGB", (w, h + band), "white")
    out.paste(im, (0, band))
    font = ImageFont.load_default(max(12, band // 3))
    ImageDraw.Draw(out).text((w * 0.05, band * 0.3), "when it compiles", fill="black", font=font)
    return out


def jpeg(im: Image.Image, quality: int = 30) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


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
