"""The re-sharing edits, as Meta's AugLy image augmentations at graded strengths.

AugLy 1.0.0 (its latest release, 2022) predates NumPy 2 and Pillow 10, and two of the functions
used here call APIs those removed: ``np.float`` (perspective) and ``FreeTypeFont.getsize_multiline``
(meme). ``_patch_augly`` puts back equivalents before AugLy is imported; nothing else of it needed
changing. Everything AugLy draws with (fonts, emoji, screenshot templates) ships in its wheel.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont


def _getsize_multiline(
    self: ImageFont.FreeTypeFont, text: str, *_: Any, **__: Any
) -> tuple[int, int]:
    # Pillow 10 removed getsize_multiline; the bottom-right of the text's box from (0, 0) is what
    # it returned.
    box = ImageDraw.Draw(Image.new("L", (1, 1))).multiline_textbbox((0, 0), text, font=self)
    return int(box[2]), int(box[3])


def _patch_augly() -> Any:
    if "float" not in np.__dict__:
        # NumPy 2 dropped the alias; AugLy only uses it as a dtype, where float means float64.
        setattr(np, "float", float)  # noqa: B010 - a plain assignment fails type checking
    if not hasattr(ImageFont.FreeTypeFont, "getsize_multiline"):
        setattr(ImageFont.FreeTypeFont, "getsize_multiline", _getsize_multiline)  # noqa: B010
    import augly.image as imaugs

    return imaugs


@dataclass(frozen=True, slots=True)
class Transform:
    """One edit at one strength. ``key`` names it in the table and in the cache."""

    family: str
    strength: str
    apply: Callable[[Image.Image, random.Random], Image.Image]

    @property
    def key(self) -> str:
        return f"{self.family}@{self.strength}" if self.strength else self.family


def _text_lines(rng: random.Random, lines: int, length: int) -> list[list[int]]:
    # Indices into AugLy's font character table; its first ~60 entries are letters and digits.
    return [[rng.randrange(60) for _ in range(length)] for _ in range(lines)]


def transforms() -> list[Transform]:
    """All edits, mildest first within a family. Sizes are relative to the image where AugLy
    allows it (the originals are at most 1024 px a side, see ``images.MAX_SIDE``)."""
    aug = _patch_augly()
    out: list[Transform] = []

    def add(family: str, strength: str, fn: Callable[..., Any]) -> None:
        out.append(Transform(family, strength, fn))

    for keep in (0.9, 0.75, 0.6):
        # An off-centre crop (more off the top-left than the bottom-right), as a re-poster does.
        m = 1 - keep
        add(
            "crop",
            f"keep{keep:.0%}",
            lambda im, _, m=m: aug.crop(im, x1=m * 0.7, y1=m * 0.6, x2=1 - m * 0.3, y2=1 - m * 0.4),
        )
    # The target: 10% off every side (80% of each length kept, centred).
    add("crop", "10%/side", lambda im, _: aug.crop(im, x1=0.1, y1=0.1, x2=0.9, y2=0.9))
    for f in (0.1, 0.2, 0.25, 0.5):
        add(
            "pad",
            f"{f:.0%}",
            lambda im, _, f=f: aug.pad(im, w_factor=f, h_factor=f * 0.6, color=(0, 0, 0)),
        )
    add(
        "pad",
        "white-asym",
        lambda im, _: aug.pad(im, w_factor=0.05, h_factor=0.4, color=(255, 255, 255)),
    )
    for deg in (5, 10, -10, 15, 45):
        # AugLy crops a rotated image to the largest upright rectangle inside it.
        add("rotate", f"{deg}deg", lambda im, _, d=deg: aug.rotate(im, degrees=d))
    for sigma in (0.02, 0.06):
        add(
            "perspective",
            f"sigma{sigma}",
            lambda im, r, s=sigma: aug.perspective_transform(
                im, sigma=s * max(im.size), seed=r.randrange(1 << 30)
            ),
        )
    for size, lines in ((0.08, 1), (0.15, 2), (0.25, 3)):
        add(
            "text",
            f"size{size}x{lines}",
            lambda im, r, s=size, n=lines: aug.overlay_text(
                im,
                text=_text_lines(r, n, 12),
                font_size=s,
                x_pos=r.uniform(0, 0.3),
                y_pos=r.uniform(0.1, 0.4),
                color=(255, 255, 0),
            ),
        )
    for size in (0.15, 0.3, 0.5):
        add(
            "emoji",
            f"size{size}",
            lambda im, r, s=size: aug.overlay_emoji(
                im, emoji_size=s, x_pos=r.uniform(0, 1 - s), y_pos=r.uniform(0, 1 - s)
            ),
        )
    for frac in (0.15, 0.4):
        add(
            "meme",
            f"caption{frac}",
            lambda im, _, f=frac: aug.meme_format(im, caption_height=max(20, int(f * im.height))),
        )
    for template in ("web", "mobile"):
        add(
            "screenshot",
            template,
            lambda im, _, t=template: aug.overlay_onto_screenshot(
                im, template_filepath=_template(t)
            ),
        )
    for radius in (1, 3, 6):
        add("blur", f"r{radius}", lambda im, _, rad=radius: aug.blur(im, radius=rad))
    for factor in (0.5, 1.5, 2.0):
        add("brightness", f"x{factor}", lambda im, _, f=factor: aug.brightness(im, factor=f))
    for quality in (50, 20, 5):
        add("jpeg", f"q{quality}", lambda im, _, q=quality: aug.encoding_quality(im, quality=q))
    for factor in (0.5, 0.25, 0.1):
        add("scale", f"x{factor}", lambda im, _, f=factor: aug.scale(im, factor=f))
    add("grayscale", "", lambda im, _: aug.grayscale(im))
    add("hflip", "", lambda im, _: aug.hflip(im))
    add("vflip", "", lambda im, _: aug.vflip(im))
    return out


def _template(name: str) -> str:
    from pathlib import Path

    import augly

    return str(Path(augly.__file__).parent / "assets" / "screenshot_templates" / f"{name}.png")


def apply(transform: Transform, image: Image.Image, seed: str) -> Image.Image:
    """``transform`` of ``image``, random choices (positions, text) seeded by ``seed``."""
    rng = random.Random(seed)
    return transform.apply(image, rng).convert("RGB")
