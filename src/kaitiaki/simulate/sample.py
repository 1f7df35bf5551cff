"""The benign demo sample: photos that packages ship, their variants, video, damage, archives.

``build_sample(out_dir)`` writes, deterministically for a seed::

    originals/    six scikit-image photos (five JPEG, one PNG)
    variants/     per original: half size, JPEG quality 40, cropped 1% a side, rotated 90°,
                  mirrored, captioned, letterboxed (thin bars): <name>-<edit>.jpg
    unrelated/    other package photos and generated images that match no original
    video/        clip.mp4 (generated, H.264) and clip-copy.mp4 (re-encoded: other codec, size
                  and bit rate; MD5 differs, vPDQ matches)
    corrupt/      a truncated JPEG, a zero-byte file, text named .jpg, a PNG with a broken body
    archives/     bundle.zip holding a variant, a text file and inner.tar.gz (another variant)
    hashsets/     standin-vics.json (images: VICS 2.0 plus a PDQ field) and standin-video.json
                  (the clip: VICS 2.0 plus a VPDQ field)
    manifest.json what each file is and what a scan should conclude about it

Crops and letterbox bars are small on purpose: PDQ tolerates little re-framing. Measured on
the scikit-image photos tried, 3% off each side moves the hash 44-82 bits and bars of 5% 56-94
bits, well past the match threshold of 31; at 1% every variant here stays within 26.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from kaitiaki.signals.vpdq import hash_video
from kaitiaki.simulate import containers, images, video
from kaitiaki.simulate.manifest import ARCHIVE_SEPARATOR, SampleFile, SampleManifest
from kaitiaki.simulate.vics import VICS_CONTEXT, Listed, Listing, write_vics

__all__ = [
    "ARCHIVE_SEPARATOR",
    "IMAGE_SET",
    "VICS_CONTEXT",
    "VIDEO_SET",
    "SampleFile",
    "SampleManifest",
    "build_sample",
]

IMAGE_SET = "hashsets/standin-vics.json"
VIDEO_SET = "hashsets/standin-video.json"

# Originals by file name in skimage/data; those with a listing are in the stand-in set, the rest
# stay "new". Chosen for margin: every variant of these lands within 26 bits of its original
# (rocket, retina and phantom, tried too, have edits at 30-44 bits).
ORIGINALS: dict[str, Listing | None] = {
    "astronaut.png": Listing(1, "Standin-A", True),
    "coffee.png": Listing(0, "", False),
    "chelsea.png": Listing(2, "Standin-B", False),
    "camera.png": Listing(1, "Standin-A", False),
    "motorcycle_left.png": None,
    "hubble_deep_field.jpg": None,
}
PNG_ORIGINAL = "camera.png"
UNRELATED_PHOTOS = ("rocket.jpg", "retina.jpg", "coins.png")
VIDEO_LISTING = Listing(2, "Standin-C", False)


class _Writer:
    """Writes files under the root and keeps their manifest entries, in order."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.entries: list[SampleFile] = []

    def add(self, path: str, data: bytes, **fields: Any) -> SampleFile:
        if ARCHIVE_SEPARATOR not in path:
            target = self.root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        md5 = hashlib.md5(data, usedforsecurity=False).hexdigest()
        entry = SampleFile(path=path, md5=md5, sha256=hashlib.sha256(data).hexdigest(), **fields)
        self.entries.append(entry)
        return entry


def _outcome(listing: Listing | None, signal: str) -> dict[str, Any]:
    if listing is None:
        return {"expected": "new"}
    return {"expected": listing.label, "match": signal, "category": listing.category}


def _stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def _photos(out: _Writer, listed: list[Listed]) -> dict[str, Image.Image]:
    """Originals and their variants; ``listed`` collects the originals for the hash set."""
    photos: dict[str, Image.Image] = {}
    for name, listing in ORIGINALS.items():
        photo = images.package_photo(name)
        stem = _stem(name)
        photos[stem] = photo
        is_png = name == PNG_ORIGINAL
        data = images.encode(photo, "PNG") if is_png else images.encode(photo)
        path = f"originals/{stem}.{'png' if is_png else 'jpg'}"
        out.add(path, data, role="original", kind="image", **_outcome(listing, "exact"))
        if listing is not None:
            listed.append(Listed(path, data, listing))
        edits = [(s, images.encode(fn(photo))) for s, fn in images.VARIANTS]
        requality = images.encode(photo, quality=images.REENCODE_QUALITY)
        edits.insert(1, (images.REENCODE_SUFFIX, requality))
        for suffix, variant in edits:
            out.add(
                f"variants/{stem}-{suffix}.jpg",
                variant,
                role="variant",
                kind="image",
                derived_from=path,
                transform=suffix,
                **_outcome(listing, "pdq"),
            )
    return photos


def _unrelated(out: _Writer, rng: np.random.Generator) -> None:
    for name in UNRELATED_PHOTOS:
        data = images.encode(images.package_photo(name))
        out.add(
            f"unrelated/{_stem(name)}.jpg", data, role="unrelated", kind="image", expected="new"
        )
    for name, make in images.GENERATED:
        data = images.encode(make(rng), "PNG")
        note = "PDQ quality < 50: too flat to match" if name == "gradient" else None
        out.add(
            f"unrelated/{name}.png", data, role="unrelated", kind="image", expected="new", note=note
        )


def _video(out: _Writer, seed: int) -> Listed:
    folder = out.root / "video"
    folder.mkdir(parents=True, exist_ok=True)
    clip, copy = folder / "clip.mp4", folder / "clip-copy.mp4"
    video.write_clip(clip, seed)
    video.write_copy(clip, copy)
    outcome = _outcome(VIDEO_LISTING, "exact")
    out.add("video/clip.mp4", clip.read_bytes(), role="video", kind="video", **outcome)
    out.add(
        "video/clip-copy.mp4",
        copy.read_bytes(),
        role="video",
        kind="video",
        derived_from="video/clip.mp4",
        transform="reencode",
        **_outcome(VIDEO_LISTING, "vpdq"),
    )
    frames = [f.as_list() for f in hash_video(str(clip))]
    return Listed("video/clip.mp4", clip.read_bytes(), VIDEO_LISTING, frames)


def _corrupt(out: _Writer, photos: dict[str, Image.Image]) -> None:
    jpeg = images.encode(photos["chelsea"])
    png = images.encode(images.package_photo("coins.png"), "PNG")
    damaged = "corrupt"
    out.add(
        f"{damaged}/truncated.jpg",
        containers.truncated(jpeg),
        role="corrupt",
        kind="image",
        expected="error",
        derived_from="originals/chelsea.jpg",
    )
    out.add(
        f"{damaged}/broken-body.png",
        containers.png_with_broken_body(png),
        role="corrupt",
        kind="image",
        expected="error",
    )
    # The hasher records a zero-byte file with an error (there is nothing to match). Text under
    # an image extension is typed by its bytes, "other": no signal applies, so no error, and
    # with no hit it classifies as new.
    out.add(f"{damaged}/empty.jpg", b"", role="corrupt", kind="empty", expected="error")
    out.add(
        f"{damaged}/not-a-photo.jpg",
        b"This is a text file, not a JPEG.\n",
        role="corrupt",
        kind="other",
        expected="new",
        note="text under an image extension",
    )


def _archives(out: _Writer, photos: dict[str, Image.Image]) -> None:
    """bundle.zip: a re-encoded chelsea, a text file, and inner.tar.gz with a mirrored astronaut."""
    chelsea = images.encode(photos["chelsea"], quality=60)
    astronaut = images.encode(images.flipped(photos["astronaut"]), quality=70)
    notes = b"holiday photos\n"
    inner = containers.tar_gz_bytes([("pictures/astronaut-flip-q70.jpg", astronaut)])
    bundle = containers.zip_bytes(
        [("chelsea-q60.jpg", chelsea), ("notes.txt", notes), ("inner.tar.gz", inner)]
    )
    top = "archives/bundle.zip"
    sep = ARCHIVE_SEPARATOR
    container_note = "an archive; its members are classified on their own"
    out.add(top, bundle, role="archive", kind="archive", expected="new", note=container_note)
    out.add(
        f"{top}{sep}chelsea-q60.jpg",
        chelsea,
        role="member",
        kind="image",
        derived_from="originals/chelsea.jpg",
        transform="q60",
        **_outcome(ORIGINALS["chelsea.png"], "pdq"),
    )
    out.add(f"{top}{sep}notes.txt", notes, role="member", kind="other", expected="new")
    out.add(
        f"{top}{sep}inner.tar.gz",
        inner,
        role="archive",
        kind="archive",
        expected="new",
        note=container_note,
    )
    out.add(
        f"{top}{sep}inner.tar.gz{sep}pictures/astronaut-flip-q70.jpg",
        astronaut,
        role="member",
        kind="image",
        derived_from="originals/astronaut.jpg",
        transform="flip+q70",
        **_outcome(ORIGINALS["astronaut.png"], "pdq"),
    )


def build_sample(out_dir: Path, *, seed: int = 0) -> SampleManifest:
    """Write the sample under ``out_dir`` (created if needed; same-named files are replaced).

    The package photos and their edits do not depend on ``seed``; the generated images and the
    video do. The same seed gives the same image bytes on the same library versions.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = _Writer(out_dir)
    listed: list[Listed] = []
    photos = _photos(out, listed)
    _unrelated(out, rng)
    clip = _video(out, seed)
    _corrupt(out, photos)
    _archives(out, photos)
    write_vics(out_dir / IMAGE_SET, listed, first_id=1)
    write_vics(out_dir / VIDEO_SET, [clip], first_id=101)
    manifest = SampleManifest(out_dir, seed, (IMAGE_SET, VIDEO_SET), tuple(out.entries))
    manifest.write()
    return manifest
