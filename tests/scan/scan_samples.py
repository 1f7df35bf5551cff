"""Benign media and small hash sets for the scan tests (plain helpers; fixtures in conftest)."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from disk_samples import needs
from kaitiaki.signals.pdq import hash_image_bytes
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet, HashSetEntry


def jpeg(array: np.ndarray, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def noise_image(seed: int, size: int = 96) -> bytes:
    """A distinct textured image per seed (smoothed noise has a high PDQ quality)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    big = Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)
    return jpeg(np.asarray(big))


def add_hash_set(
    store: Store,
    name: str,
    entries: list[dict[str, object]],
    profile: str = "projectvic-us-2.0",
    threshold: int = 31,
) -> int:
    with store.session() as session:
        row = HashSet(
            name=name,
            source="test",
            profile=profile,
            pdq_threshold=threshold,
            source_format="test",
            entry_count=len(entries),
        )
        session.add(row)
        session.flush()
        session.add_all(HashSetEntry(hash_set_id=row.id, **e) for e in entries)  # type: ignore[arg-type]
        return row.id


def md5(data_: bytes) -> str:
    return hashlib.md5(data_).hexdigest()


def pdq(data_: bytes) -> str:
    return hash_image_bytes(data_).hex


def bomb_png(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def fat_image_of(folder: Path, image: Path, kib: int, fat_bits: int | None = None) -> Path:
    """``folder``'s files in a new FAT image, copied in one ``mcopy -s`` (fast for many files;
    ``disk_samples.fat_image`` copies one file per call). Skips, or fails under CI, without the
    tools. ``fat_bits``: 12, 16 or 32; mkfs.fat chooses by size when not given."""
    needs("mkfs.fat", "mcopy")
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}
    for args in (
        ["mkfs.fat", *(["-F", str(fat_bits)] if fat_bits else []), "-C", str(image), str(kib)],
        ["mcopy", "-s", "-m", "-i", str(image), *map(str, sorted(folder.iterdir())), "::/"],
    ):
        done = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
        assert done.returncode == 0, f"{args[0]}: {done.stderr or done.stdout}"
    return image
