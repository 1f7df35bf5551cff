"""The benign photographs: scikit-image's and scikit-learn's sample photos and the Debian
wallpaper packages' images (``scripts/bench-robust-deps.sh`` installs those).

Each is decoded once, reduced to at most ``MAX_SIDE`` pixels a side and cached as a PNG: the
wallpapers are up to 8K, and decoding them for every run would dominate it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from kaitiaki.signals.pdq import hash_pixels

MAX_SIDE = 1024
MIN_SIDE = 300  # icons and thumbnails are not what gets re-shared
WALLPAPER_DIRS = (
    Path("/usr/share/backgrounds"),
    Path("/usr/share/wallpapers"),
    Path("/usr/share/desktop-base"),
    Path("/usr/share/images/desktop-base"),
)
SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}
# scikit-image's colour photographs (its other images are grayscale, synthetic or microscopy
# textures); motorcycle_right is left out, being the other half of a stereo pair.
SKIMAGE_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "hubble_deep_field.jpg",
    "ihc.png",
    "motorcycle_left.png",
    "retina.jpg",
    "rocket.jpg",
)
# Two images closer than this (PDQ, any of the 8 dihedral) are one photo twice: a wallpaper in
# several resolutions, or light and dark variants. Keeping both would count true matches as
# false ones.
DUPLICATE_BITS = 70


# --tiles: a large original also yields a grid of disjoint parts, each its own reference, when
# each part still has at least this many pixels a side.
MIN_TILE = 800


@dataclass(frozen=True, slots=True)
class Source:
    name: str  # "<origin>/<file>", stable across machines with the same packages
    path: Path
    tile: tuple[int, int, int] | None = None  # (grid, row, column) of a disjoint part


def _candidates() -> Iterator[Source]:
    import skimage
    import sklearn.datasets

    skdir = Path(skimage.__file__).parent / "data"
    for name in SKIMAGE_PHOTOS:
        if (skdir / name).is_file():
            yield Source(f"skimage/{name}", skdir / name)
    sldir = Path(sklearn.datasets.__file__).parent / "images"
    for path in sorted(sldir.glob("*.jpg")):
        yield Source(f"sklearn/{path.name}", path)
    seen: set[Path] = set()
    for root in WALLPAPER_DIRS:
        if not root.is_dir():
            continue
        files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        # Plasma ships each wallpaper at many sizes (and a dark variant): keep the largest file.
        by_dir: dict[Path, Path] = {}
        for path in files:
            real = path.resolve()
            if real in seen:
                continue  # desktop-base links the same files under several names
            seen.add(real)
            if path.stem.endswith("-d") and path.with_stem(path.stem[:-2] + "-l").exists():
                continue  # GNOME's dark variant of a light wallpaper: the same picture
            # A Plasma wallpaper's folder (images/ and images_dark/ alike) is one picture.
            parts = path.parts
            if "contents" in parts:
                key = Path(*parts[: parts.index("contents")])
            else:
                # MATE ships "Elephants.jpg" and "Elephants_3840x2160.jpg": one picture.
                key = path.with_name(re.sub(r"[_-]\d+x\d+$", "", path.stem))
            if key not in by_dir or real.stat().st_size > by_dir[key].resolve().stat().st_size:
                by_dir[key] = path
        for path in sorted(by_dir.values()):
            yield Source(f"{root.name}/{path.relative_to(root)}", path)


def _is_photo_like(rgb: np.ndarray) -> bool:
    """Rejects what is not a photograph: flat colours and smooth gradients (few distinct
    colours, little texture). Abstract renders with texture still pass: say so in reports."""
    small = np.asarray(Image.fromarray(rgb).resize((128, 128), Image.Resampling.BOX))
    quantised = (small >> 3).astype(np.int32)
    colours = np.unique(quantised[..., 0] << 10 | quantised[..., 1] << 5 | quantised[..., 2]).size
    gray = small.mean(axis=2)
    texture = float(np.abs(np.diff(gray, axis=0)).mean() + np.abs(np.diff(gray, axis=1)).mean())
    return colours >= 400 and texture >= 2.0


def _cache_name(source: Source) -> str:
    stat = source.path.stat()
    key = f"{source.name}|{stat.st_size}|{int(stat.st_mtime)}|{MAX_SIDE}|{source.tile}"
    return hashlib.sha256(key.encode()).hexdigest()[:20] + ".png"


def _reduced(source: Source, cache: Path) -> Path | None:
    """The cached PNG of ``source`` (at most ``MAX_SIDE`` a side), or None if rejected."""
    out = cache / "originals" / _cache_name(source)
    reject = out.with_suffix(".rejected")
    if out.exists():
        return out
    if reject.exists():
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with Image.open(source.path) as im:
            if source.tile is None:
                im.draft("RGB", (MAX_SIDE, MAX_SIDE))
            rgb_im = im.convert("RGB")
        if source.tile is not None:
            grid, row, col = source.tile
            w, h = rgb_im.size
            box = (col * w // grid, row * h // grid, (col + 1) * w // grid, (row + 1) * h // grid)
            rgb_im = rgb_im.crop(box)
    except (OSError, ValueError, Image.DecompressionBombError):
        reject.touch()
        return None
    if min(rgb_im.size) < MIN_SIDE or not _is_photo_like(np.asarray(rgb_im)):
        reject.touch()
        return None
    rgb_im.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    tmp = out.with_suffix(".tmp.png")
    rgb_im.save(tmp, optimize=False, compress_level=1)
    tmp.replace(out)
    return out


def _with_tiles(grid: int) -> Iterator[Source]:
    """Every image; with ``grid`` > 1 a large one is replaced by its disjoint parts. Never both
    a whole image and its parts: a crop of the whole would contain a part, a true match that
    would be counted as a false one."""
    for source in _candidates():
        try:
            with Image.open(source.path) as im:
                small = min(im.size) < grid * MIN_TILE
        except (OSError, ValueError):
            small = True
        if grid <= 1 or small:
            yield source
            continue
        for row in range(grid):
            for col in range(grid):
                name = f"{source.name}#{grid}x{grid}-{row}{col}"
                yield Source(name, source.path, (grid, row, col))


def collect(limit: int, cache: Path, tiles: int = 1) -> list[tuple[str, Path]]:
    """Up to ``limit`` distinct photographs as (name, cached PNG), in a stable order."""
    kept: list[tuple[str, Path]] = []
    hashes: list[np.ndarray] = []
    for source in _with_tiles(tiles):
        if len(kept) >= limit:
            break
        path = _reduced(source, cache)
        if path is None:
            continue
        with Image.open(path) as im:
            pdq = hash_pixels(np.asarray(im.convert("RGB")))
        mine = np.array([np.frombuffer(bytes.fromhex(h), np.uint8) for h in pdq.dihedral])
        if hashes:
            others = np.stack(hashes)  # (K, 32)
            dist = np.bitwise_count(mine[:, None, :] ^ others[None, :, :]).sum(axis=2)
            if int(dist.min()) <= DUPLICATE_BITS:
                continue
        hashes.append(mine[0])
        kept.append((source.name, path))
    return kept
