"""Benign still images for the demo sample: package-shipped photos, their edits, generated images.

Every photo comes from the files scikit-image bundles in its wheel (read from disk, never
fetched); everything else is drawn here from a seeded generator. The edits are the ones a
perceptual hash has to survive in practice, sized so that PDQ still matches (distance <= 31)
with dihedral querying; ``tests/simulate`` checks that for every variant.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from importlib.resources import files

import numpy as np
from PIL import Image, ImageDraw, ImageFont

JPEG_QUALITY = 90
# Saved without EXIF and with fixed encoder settings, so a seed gives the same bytes every run.
_JPEG_OPTIONS: dict[str, object] = {"quality": JPEG_QUALITY, "optimize": False}


def package_photo(name: str) -> Image.Image:
    """A photo that scikit-image ships (``skimage/data/<name>``), as RGB or L."""
    with files("skimage.data").joinpath(name).open("rb") as handle, Image.open(handle) as image:
        image.load()
        return image.convert("L" if image.mode in ("L", "I", "I;16") else "RGB")


def encode(image: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", **{**_JPEG_OPTIONS, **options})
    else:
        image.save(out, fmt, **options)
    return out.getvalue()


# --- variants: (suffix, transform); the suffix names the file, e.g. coffee-rot90.jpg ---------


def resized(image: Image.Image) -> Image.Image:
    return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)


def cropped(image: Image.Image) -> Image.Image:
    # 1% off each side. PDQ has little tolerance for re-framing: 3% a side moves these photos'
    # hashes 44-82 bits, past the threshold of 31; 1% keeps them within 26.
    dx, dy = round(image.width * 0.01), round(image.height * 0.01)
    return image.crop((dx, dy, image.width - dx, image.height - dy))


def rotated(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.ROTATE_90)


def flipped(image: Image.Image) -> Image.Image:
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


def text_overlay(image: Image.Image) -> Image.Image:
    """A caption along the bottom, as sharing sites and forums stamp them."""
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out)
    size = max(10, out.height // 24)
    font = ImageFont.load_default(size=size)
    draw.text(
        (out.width // 20, out.height - 2 * size),
        "shared via example.org",
        font=font,
        fill=(255, 255, 0),
        stroke_width=1,
        stroke_fill=(0, 0, 0),
    )
    return out


def letterboxed(image: Image.Image) -> Image.Image:
    """Thin black bars above and below, 1% of the height each.

    Wider bars defeat PDQ outright (5% moves these photos' hashes 56-94 bits): matching real
    letterboxed copies needs the bars trimmed before hashing, which PDQ itself does not do.
    """
    bar = round(image.height * 0.01)
    out = Image.new(image.mode, (image.width, image.height + 2 * bar))
    out.paste(image, (0, bar))
    return out


VARIANTS: tuple[tuple[str, Callable[[Image.Image], Image.Image]], ...] = (
    ("half", resized),
    ("crop", cropped),
    ("rot90", rotated),
    ("flip", flipped),
    ("text", text_overlay),
    ("letterbox", letterboxed),
)
# Re-encoding is a variant of the bytes, not of the pixels: the original at low JPEG quality.
REENCODE_SUFFIX = "q40"
REENCODE_QUALITY = 40


# --- generated images, unlike any photo ----------------------------------------------------


def gradient(rng: np.random.Generator, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A two-colour diagonal gradient (PDQ quality is low: flat images carry little signal)."""
    width, height = size
    start, end = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    ramp = (np.add.outer(np.arange(height), np.arange(width)) / (width + height - 2))[..., None]
    pixels = start + (end - start) * ramp
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def noise(rng: np.random.Generator, size: tuple[int, int] = (400, 400)) -> Image.Image:
    """Blocky colour noise: high quality, but a random hash far from everything."""
    width, height = size
    blocks = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return Image.fromarray(blocks, "RGB").resize(size, Image.Resampling.NEAREST)


def shapes(rng: np.random.Generator, size: tuple[int, int] = (512, 384)) -> Image.Image:
    """Random filled rectangles and ellipses on a random background."""
    image = Image.new("RGB", size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x0, x1 = sorted(int(v) for v in rng.integers(0, size[0], 2))
        y0, y1 = sorted(int(v) for v in rng.integers(0, size[1], 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
        else:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
    return image


GENERATED: tuple[tuple[str, Callable[[np.random.Generator], Image.Image]], ...] = (
    ("gradient", gradient),
    ("noise", noise),
    ("shapes", shapes),
)
