"""Edited copies of benign photos, as people re-share material: borders, crops, rotations,
captions, overlays. Made with Pillow here so each test says exactly what was done."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter
from skimage import data

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket")


def photo(name: str) -> Image.Image:
    return Image.fromarray(getattr(data, name)()).convert("RGB")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def border(image: Image.Image, share: float, colour: tuple[int, int, int]) -> Image.Image:
    """A uniform border of ``share`` of each side added all round."""
    w, h = image.size
    dx, dy = round(w * share), round(h * share)
    out = Image.new("RGB", (w + 2 * dx, h + 2 * dy), colour)
    out.paste(image, (dx, dy))
    return out


def letterbox(image: Image.Image, share: float) -> Image.Image:
    """Black bars above and below, each ``share`` of the height."""
    w, h = image.size
    d = round(h * share)
    out = Image.new("RGB", (w, h + 2 * d), (0, 0, 0))
    out.paste(image, (0, d))
    return out


def blurred_fill(image: Image.Image, share: float) -> Image.Image:
    """The picture over a blurred, stretched copy of itself, as phone apps pad to a frame."""
    w, h = image.size
    d = round(w * share)
    back = image.resize((w + 2 * d, h)).filter(ImageFilter.GaussianBlur(24))
    back.paste(image, (d, 0))
    return back


def crop(image: Image.Image, share: float) -> Image.Image:
    """``share`` of each side cut away."""
    w, h = image.size
    return image.crop(
        (round(w * share), round(h * share), round(w * (1 - share)), round(h * (1 - share)))
    )


def rotate(image: Image.Image, degrees: float) -> Image.Image:
    """Turned by ``degrees``, the black corners cut off (the largest centred crop without them)."""
    w, h = image.size
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC)
    a = np.radians(abs(degrees))
    scale = 1 / (np.cos(a) + np.sin(a) * max(w, h) / min(w, h))
    cw, ch = round(w * scale), round(h * scale)
    left, top = (w - cw) // 2, (h - ch) // 2
    return turned.crop((left, top, left + cw, top + ch))


def caption(image: Image.Image, share: float = 0.25) -> Image.Image:
    """A meme frame: a white band on top, ``share`` of the height, with black text in it."""
    w, h = image.size
    band = round(h * share)
    out = Image.new("RGB", (w, h + band), (255, 255, 255))
    out.paste(image, (0, band))
    draw = ImageDraw.Draw(out)
    draw.text(
        (w // 10, band // 3),
        "WHEN THE BENCHMARK FINALLY PASSES",
        fill=(0, 0, 0),
        font_size=max(12, band // 4),
    )
    return out


def overlay(image: Image.Image, share: float = 0.25) -> Image.Image:
    """Opaque coloured shapes and text covering about ``share`` of the picture."""
    out = image.copy()
    w, h = out.size
    draw = ImageDraw.Draw(out)
    side = round((w * h * share / 2) ** 0.5)
    draw.ellipse((w // 12, h // 12, w // 12 + side, h // 12 + side), fill=(250, 200, 0))
    draw.rectangle(
        (w - side - w // 12, h - side - h // 12, w - w // 12, h - h // 12), fill=(200, 30, 90)
    )
    draw.text((w // 3, h // 2), "so true", fill=(255, 255, 255), font_size=max(12, h // 10))
    return out
