"""Query-side views: an added border is cut off so the copy matches the original's PDQ hash.

Every picture here is a benign scikit-image sample photo or a generated array. Each edited copy
goes the way a scanned file does: edited at full size, reduced by ``load_reduced``, then given
to ``query_views``; the original's hash is what a partner's hash set would hold.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable

import numpy as np
import pytest
import skimage.data
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from kaitiaki.signals.pdq import PdqHash, hamming, hash_pixels, load_reduced
from kaitiaki.signals.views import MIN_KEEP, View, content_box, query_views

THRESHOLD = 31  # PDQ's matching threshold (PdqSignal.threshold)
PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field")
# Grey photos and textures, for the cases where no view may appear.
OTHERS = ("camera", "coins", "moon", "grass", "gravel", "brick", "page", "text", "clock")
# Images on a plain black or white ground of their own: a border of that colour merges with it.
PLAIN_GROUND = ("retina", "colorwheel", "logo")

Edit = Callable[[Image.Image, float], Image.Image]


@functools.cache
def photo(name: str) -> Image.Image:
    pixels = getattr(skimage.data, name)()
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    return Image.fromarray(np.ascontiguousarray(pixels[..., :3]).astype(np.uint8))


def reduced(image: Image.Image) -> NDArray[np.uint8]:
    return np.asarray(load_reduced(image))


@functools.cache
def original_hash(name: str) -> PdqHash:
    return hash_pixels(reduced(photo(name)))


def distance(views: list[View], target: str) -> int:
    """Best distance of any view, in any of its 8 dihedral forms, to ``target``."""
    return min(hamming(h, target) for view in views for h in view.pdq.dihedral)


def pad(
    image: Image.Image, sides: tuple[int, int, int, int], colour: tuple[int, ...]
) -> Image.Image:
    left, top, right, bottom = sides
    canvas = Image.new("RGB", (image.width + left + right, image.height + top + bottom), colour)
    canvas.paste(image, (left, top))
    return canvas


def uniform(colour: tuple[int, int, int]) -> Edit:
    """AugLy's ``pad``: the same share of the width (height) added left and right (top, bottom)."""

    def edit(image: Image.Image, share: float) -> Image.Image:
        x, y = round(share * image.width), round(share * image.height)
        return pad(image, (x, y, x, y), colour)

    return edit


def letterbox(image: Image.Image, share: float) -> Image.Image:
    y = round(share * image.height)
    return pad(image, (0, y, 0, y), (0, 0, 0))


def pillarbox(image: Image.Image, share: float) -> Image.Image:
    x = round(share * image.width)
    return pad(image, (x, 0, x, 0), (0, 0, 0))


def blurred_fill(vertical: bool, darken: float = 1.0) -> Edit:
    """A phone video's background: the picture enlarged to cover the frame, blurred (and
    darkened), with the picture itself pasted in the middle."""

    def edit(image: Image.Image, share: float) -> Image.Image:
        width, height = image.size
        if vertical:
            frame = (width, height + 2 * round(share * height))
        else:
            frame = (width + 2 * round(share * width), height)
        scale = max(frame[0] / width, frame[1] / height)
        big = image.resize((round(width * scale) + 1, round(height * scale) + 1))
        x, y = (big.width - frame[0]) // 2, (big.height - frame[1]) // 2
        ground = big.crop((x, y, x + frame[0], y + frame[1]))
        ground = ground.filter(ImageFilter.GaussianBlur(max(frame) / 25))
        if darken != 1.0:
            ground = Image.fromarray((np.asarray(ground) * darken).astype(np.uint8))
        ground.paste(image, ((frame[0] - width) // 2, (frame[1] - height) // 2))
        return ground

    return edit


def caption(image: Image.Image, share: float) -> Image.Image:
    """A meme: a white band on top, black text centred in it, in PIL's default font."""
    band = max(8, round(share * image.height))
    canvas = pad(image, (0, band, 0, 0), (255, 255, 255))
    font = ImageFont.load_default(size=max(8, band // 3))
    ImageDraw.Draw(canvas).multiline_text(
        (image.width / 2, band / 2),
        "WHEN THE TESTS\nFINALLY PASS",
        fill=(0, 0, 0),
        font=font,
        anchor="mm",
        align="center",
    )
    return canvas


def jpeg(image: Image.Image, quality: int = 85) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue()))


FAMILIES: dict[str, tuple[Edit, set[str]]] = {
    "black": (uniform((0, 0, 0)), {"border"}),
    "white": (uniform((255, 255, 255)), {"border"}),
    "teal": (uniform((30, 140, 130)), {"border"}),
    "letterbox": (letterbox, {"letterbox"}),
    "pillarbox": (pillarbox, {"pillarbox"}),
    "blurred_bars_top_bottom": (blurred_fill(vertical=True), {"blurred_fill", "letterbox"}),
    "blurred_bars_sides": (blurred_fill(vertical=False), {"blurred_fill", "pillarbox"}),
    "dark_blurred_bars": (blurred_fill(vertical=False, darken=0.6), {"blurred_fill", "pillarbox"}),
    "caption": (caption, {"caption"}),
}


@pytest.mark.parametrize("share", [0.06, 0.12, 0.2])
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("name", PHOTOS[:4])
def test_trimmed_view_matches_the_original(name: str, family: str, share: float) -> None:
    edit, kinds = FAMILIES[family]
    views = query_views(reduced(edit(photo(name), share)))
    target = original_hash(name).hex
    # The problem: the edited copy's own hash is far from the original's. (A 6% caption band
    # only shifts the picture down by 6%: on some photos the original view still matches.)
    assert views[0].name == "original" and views[0].box is None
    if family != "caption" or share > 0.1:
        assert distance(views[:1], target) > THRESHOLD
    trimmed = views[1:]
    assert trimmed, f"{family} {share} on {name}: no trimmed view"
    assert distance(trimmed, target) <= THRESHOLD
    assert trimmed[0].name in kinds


@pytest.mark.parametrize("family", ["black", "white", "letterbox", "caption", "blurred_bars_sides"])
def test_trimmed_view_survives_jpeg(family: str) -> None:
    edit, _ = FAMILIES[family]
    for name in ("astronaut", "coffee"):
        views = query_views(reduced(jpeg(edit(photo(name), 0.12))))
        assert distance(views, original_hash(name).hex) <= THRESHOLD, name


def test_small_arbitrary_colour_border_on_one_side() -> None:
    image = photo("chelsea")
    padded = pad(image, (0, 0, 0, round(0.1 * image.height)), (200, 40, 90))
    found = content_box(reduced(padded))
    assert found is not None
    kind, (left, top, right, bottom) = found
    rgb = reduced(padded)
    # The cut is on the picture's edge, to within the pixel blended by resampling.
    assert (left, top, right) == (0, 0, rgb.shape[1])
    assert abs(bottom - round(rgb.shape[0] / 1.1)) <= 2
    assert kind == "letterbox"


def test_padded_meme_is_peeled_layer_by_layer() -> None:
    image = photo("astronaut")
    meme = uniform((0, 0, 0))(caption(image, 0.2), 0.08)
    views = query_views(reduced(meme))
    assert [view.name for view in views] == ["original", "border", "caption"]
    assert distance(views[-1:], original_hash("astronaut").hex) <= THRESHOLD
    # Boxes are in the reduced image's pixels and nest.
    outer, inner = views[1].box, views[2].box
    assert outer is not None and inner is not None
    assert outer[0] <= inner[0] and outer[1] <= inner[1]
    assert inner[2] <= outer[2] and inner[3] <= outer[3]


@pytest.mark.parametrize("name", PHOTOS + OTHERS + PLAIN_GROUND)
def test_photos_without_borders_give_only_the_original(name: str) -> None:
    rgb = reduced(photo(name))
    assert content_box(rgb) is None
    views = query_views(rgb)
    assert [view.name for view in views] == ["original"]
    assert views[0].pdq == hash_pixels(rgb)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(PHOTOS + OTHERS),
    corner=st.tuples(st.floats(0, 0.6), st.floats(0, 0.6)),
    size=st.tuples(st.floats(0.4, 1), st.floats(0.4, 1)),
    compress=st.booleans(),
)
def test_crops_give_no_view_that_matches_another_photo(
    name: str, corner: tuple[float, float], size: tuple[float, float], compress: bool
) -> None:
    image = photo(name)
    left, top = int(corner[0] * image.width), int(corner[1] * image.height)
    right = min(image.width, left + max(16, int(size[0] * image.width)))
    bottom = min(image.height, top + max(16, int(size[1] * image.height)))
    crop = image.crop((left, top, right, bottom))
    views = query_views(reduced(jpeg(crop) if compress else crop))
    assert len(views) <= 1 + 3
    others = [other for other in PHOTOS + OTHERS if other != name]
    for view in views[1:]:
        for other in others:
            if original_hash(other).quality >= 50:
                assert distance([view], original_hash(other).hex) > THRESHOLD, (view, other)


@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 300), (300, 1), (2, 2), (8, 8), (15, 40), (16, 16), (17, 512)]
)
def test_tiny_and_thin_images(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    rgb = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    views = query_views(rgb)
    assert views[0].name == "original"
    check_views(rgb, views)


@pytest.mark.parametrize("colour", [(0, 0, 0), (255, 255, 255), (30, 140, 130)])
@pytest.mark.parametrize("shape", [(1, 1), (16, 16), (200, 300), (512, 512)])
def test_one_colour_image(colour: tuple[int, int, int], shape: tuple[int, int]) -> None:
    rgb = np.empty((*shape, 3), dtype=np.uint8)
    rgb[...] = colour
    assert content_box(rgb) is None
    assert [view.name for view in query_views(rgb)] == ["original"]


@pytest.mark.parametrize("rows", [40, 120])
def test_clear_sky_is_not_a_border(rows: int) -> None:
    # Each row of a clear sky is one colour, and its gradient down the rows runs out of any
    # tolerance of the top row all across a row at once: that must not read as a border's edge.
    ground = np.asarray(photo("coffee").resize((512, 300)))
    top = np.linspace((60, 110, 200), (175, 205, 245), rows)
    sky = np.repeat(top[:, None, :], 512, axis=1).round().astype(np.uint8)
    rgb = np.concatenate((sky, ground))
    assert content_box(rgb) is None


def test_blurred_fill_is_cut_at_the_picture() -> None:
    image = photo("coffee")
    rgb = reduced(FAMILIES["blurred_bars_sides"][0](image, 0.15))
    found = content_box(rgb)
    assert found is not None and found[0] == "blurred_fill"
    left, top, right, bottom = found[1]
    scale = rgb.shape[0] / image.height
    bar = round(0.15 * image.width) * scale
    assert abs(left - bar) <= 4 and abs((rgb.shape[1] - right) - bar) <= 4
    assert (top, bottom) == (0, rgb.shape[0])


def test_half_black_half_white_is_not_a_border() -> None:
    rgb = np.zeros((300, 400, 3), dtype=np.uint8)
    rgb[:, 200:] = 255
    check_views(rgb, query_views(rgb))
    assert content_box(rgb) is None


def test_small_picture_in_a_huge_border_is_not_cut_below_the_minimum() -> None:
    # A picture a fifth of the frame: cutting to it would keep less than MIN_KEEP of a side.
    image = photo("coffee").resize((100, 70))
    framed = pad(image, (200, 140, 200, 140), (0, 0, 0))
    rgb = reduced(framed)
    assert content_box(rgb) is None
    check_views(rgb, query_views(rgb))


@settings(max_examples=80, deadline=None)
@given(
    height=st.integers(1, 64),
    width=st.integers(1, 64),
    seed=st.integers(0, 2**32 - 1),
    border=st.integers(0, 12),
    smooth=st.booleans(),
)
def test_generated_images_never_crash(
    height: int, width: int, seed: int, border: int, smooth: bool
) -> None:
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    if smooth:
        rgb = np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(4)))
    rgb = np.pad(rgb, ((border, border), (border, border), (0, 0)), constant_values=7)
    views = query_views(np.ascontiguousarray(rgb))
    check_views(rgb, views)


def check_views(rgb: NDArray[np.uint8], views: list[View]) -> None:
    """Invariants of any answer: original first, boxes inside the image and large enough,
    no two views with the same hash."""
    height, width = rgb.shape[:2]
    assert views[0].name == "original" and views[0].box is None
    assert len({view.pdq.hex for view in views}) == len(views)
    for view in views[1:]:
        assert view.box is not None
        left, top, right, bottom = view.box
        assert 0 <= left < right <= width and 0 <= top < bottom <= height
        assert right - left >= MIN_KEEP * width and bottom - top >= MIN_KEEP * height
        assert len(view.pdq.dihedral) == 8 and view.pdq.quality >= 50


def test_strided_input_gives_the_same_views() -> None:
    padded = reduced(uniform((0, 0, 0))(photo("rocket"), 0.1))
    wide = np.zeros((padded.shape[0], padded.shape[1] * 2, 3), dtype=np.uint8)
    wide[:, ::2] = padded
    strided = wide[:, ::2]
    assert not strided.flags.c_contiguous
    assert query_views(strided) == query_views(np.ascontiguousarray(strided))
