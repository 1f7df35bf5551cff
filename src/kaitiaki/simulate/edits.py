"""Edits people make when they re-share a picture, applied to benign photos: crops, rotations,
a text banner, emoji-like stickers, a meme caption band, heavy JPEG. Shared by the robust
signal's tests and its benchmark so both measure the same edits."""

from __future__ import annotations

import io

import numpy as np
import skimage.data
from PIL import Image, ImageDraw, ImageFont


def photo(name: str) -> Image.Image:
    """One of scikit-image's sample pictures as RGB."""
    a = getattr(skimage.data, name)()
    if a.ndim == 2:
        a = np.stack([a] * 3, -1)
    return Image.fromarray(np.asarray(a[..., :3], np.uint8))


def crop(im: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    """``im`` with these shares of its width and height cut off each side."""
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


def stickers(im: Image.Image, seed: int = 7) -> Image.Image:
    """Four emoji-like coloured faces of radius 0.141 * side: ~25% of a square image."""
    im = im.copy()
    w, h = im.size
    draw = ImageDraw.Draw(im)
    rng = np.random.default_rng(seed)
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


def meme(im: Image.Image, text: str = "when it compiles") -> Image.Image:
    """The picture under a white caption band a quarter of its height."""
    w, h = im.size
    band = int(h * 0.25)
    out = Image.new("RGB", (w, h + band), "white")
    out.paste(im, (0, band))
    font = ImageFont.load_default(max(12, band // 3))
    ImageDraw.Draw(out).text((w * 0.05, band * 0.3), text, fill="black", font=font)
    return out


def jpeg(im: Image.Image, quality: int = 30) -> Image.Image:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
