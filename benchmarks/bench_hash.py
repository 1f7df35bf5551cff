"""bench_hash: photos/s of kaitiaki's PDQ image hashing against the plain reference pipeline.

Compared on the same generated >= 3-megapixel JPEGs, one core each:
  kaitiaki    ``hash_image_bytes`` on the file's bytes (the path scans take: reduced-scale decode)
  reference   Pillow full decode + ``pdqhash.compute`` on the full-size array
  perception  Thorn's ``perception`` PDQ hasher (OpenCV full decode + ``pdqhash``)
  imagehash   ``imagehash.phash`` (Pillow full decode, 64-bit pHash: a different, weaker hash)
  draft       the reduced-scale JPEG decode alone: the practical limit of this approach

Then the PDQ drift of kaitiaki's hashes against the reference pipeline's on the same photos, and
against the reference implementations' hashes in the shared conformance set (quality >= 80).

    uv run python benchmarks/bench_hash.py [--photos 24] [--megapixels 12]
"""

from __future__ import annotations

import os

# One core, set before numpy, OpenCV and friends start their thread pools.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

import argparse  # noqa: E402
import csv  # noqa: E402
import math  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable, Sequence  # noqa: E402
from importlib.resources import files  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pdqhash  # noqa: E402
from PIL import Image  # noqa: E402

from kaitiaki.signals.pdq import (  # noqa: E402
    DRAFT_SIDE,
    bits_to_hex,
    hamming,
    hash_image_bytes,
)

CONFORMANCE = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "pdq"
# Photos that scikit-image ships in its wheel: benign, and on disk without any download.
PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
    "camera.png",
    "brick.png",
    "gravel.png",
)


def make_photos(out: Path, count: int, megapixels: float, noise: float, quality: int) -> list[Path]:
    """4:3 JPEGs: an upscaled photo with other photos pasted on it, plus sensor-like noise.

    Upscaled 512-pixel photos alone are smooth and compress to under 1 MB, far below a camera's
    12-megapixel JPEG (2-4 MB); the pasted detail and the noise bring the entropy, and so the
    decode time, up to that of real photos.
    """
    width = int(math.sqrt(megapixels * 1e6 * 4 / 3)) // 16 * 16
    height = width * 3 // 4
    sources = [Image.open(files("skimage.data").joinpath(n)).convert("RGB") for n in PHOTOS]
    paths = []
    for i in range(count):
        rng = np.random.default_rng(i)
        canvas = sources[i % len(sources)].resize((width, height), Image.Resampling.BICUBIC)
        for _ in range(3):
            tile = sources[int(rng.integers(len(sources)))]
            scale = rng.uniform(1.0, 2.5) * width / 4000
            tile = tile.resize((int(tile.width * scale), int(tile.height * scale)))
            x = int(rng.integers(0, max(1, width - tile.width)))
            y = int(rng.integers(0, max(1, height - tile.height)))
            canvas.paste(tile, (x, y))
        pixels = np.asarray(canvas, dtype=np.float32)
        pixels += rng.normal(0.0, noise, (height, width, 1)).astype(np.float32)
        image = Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8))
        path = out / f"photo-{i:03d}.jpg"
        image.save(path, "JPEG", quality=quality)
        paths.append(path)
    return paths


def kaitiaki_pdq(path: Path) -> str:
    return hash_image_bytes(path.read_bytes()).hex


def reference_pdq(path: Path) -> str:
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
    bits, _quality = pdqhash.compute(rgb)
    return bits_to_hex(bits)


def draft_decode(path: Path) -> None:
    # The same reduced-scale request kaitiaki makes, then nothing else: decode cost alone.
    with Image.open(path) as image:
        image.draft("RGB", (DRAFT_SIDE, DRAFT_SIDE))
        image.load()


def time_each(
    methods: dict[str, Callable[[Path], Any]], paths: Sequence[Path], rounds: int
) -> tuple[dict[str, float], dict[str, list[Any]]]:
    """Seconds per photo of each method, and each method's results.

    Methods take turns photo by photo, so that load from elsewhere on the machine falls on all
    of them alike; each photo counts with its best time over ``rounds``.
    """
    for fn in methods.values():
        fn(paths[0])  # warm-up: imports, caches, first-call costs
    best = {name: [math.inf] * len(paths) for name in methods}
    results: dict[str, list[Any]] = {name: [None] * len(paths) for name in methods}
    for _ in range(rounds):
        for i, path in enumerate(paths):
            for name, fn in methods.items():
                start = time.perf_counter()
                results[name][i] = fn(path)
                best[name][i] = min(best[name][i], time.perf_counter() - start)
    return {name: sum(times) / len(times) for name, times in best.items()}, results


def conformance_drift() -> tuple[int, int] | None:
    """Max drift of kaitiaki's PDQ against the reference column (C++, else Python) and count."""
    expected = CONFORMANCE / "expected.csv"
    if not expected.is_file():
        return None
    drifts = []
    with expected.open(newline="") as handle:
        for row in csv.DictReader(handle):
            reference = row["reference_cpp"] or row["reference_python"]
            result = hash_image_bytes((CONFORMANCE / row["path"]).read_bytes())
            if reference and result.quality >= 80:
                drifts.append(hamming(result.hex, reference))
    return max(drifts), len(drifts)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--photos", type=int, default=24)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--noise", type=float, default=4.0, help="sensor-like noise, sigma")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality of the photos")
    parser.add_argument("--rounds", type=int, default=2, help="best of this many, per photo")
    args = parser.parse_args(argv)

    # Imported here: both are dev dependencies, and perception pulls in OpenCV.
    import cv2
    import imagehash
    from perception.hashers import PDQHash

    cv2.setNumThreads(1)
    perception_pdq = PDQHash()

    with tempfile.TemporaryDirectory(prefix="bench_hash-") as tmp:
        paths = make_photos(Path(tmp), args.photos, args.megapixels, args.noise, args.quality)
        with Image.open(paths[0]) as first:
            width, height = first.size
        mean_mb = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        print(
            f"{len(paths)} JPEGs of {width}x{height} ({width * height / 1e6:.1f} Mpx, "
            f"mean {mean_mb:.2f} MB), one core"
        )
        seconds, results = time_each(
            {
                "ours": kaitiaki_pdq,
                "reference": reference_pdq,
                "perception": lambda p: perception_pdq.compute(str(p)),
                "imagehash": lambda p: imagehash.phash(Image.open(p)),
                "draft": draft_decode,
            },
            paths,
            args.rounds,
        )
    t_ours, t_ref, t_draft = seconds["ours"], seconds["reference"], seconds["draft"]
    t_perc, t_phash = seconds["perception"], seconds["imagehash"]
    ours, refs = results["ours"], results["reference"]

    rows = (
        ("kaitiaki PDQ (reduced-scale decode)", t_ours),
        ("reference: Pillow full decode + pdqhash", t_ref),
        ("perception PDQHash (OpenCV decode)", t_perc),
        ("imagehash phash (Pillow decode)", t_phash),
        ("practical limit: reduced-scale decode alone", t_draft),
    )
    for name, seconds in rows:
        print(f"{name:46s} {seconds * 1000:8.1f} ms/photo {1 / seconds:8.1f} photos/s")
    speedup = t_ref / t_ours
    print(f"speedup of kaitiaki over the reference pipeline: {speedup:.1f}x (target >= 10x)")

    bench_drift = max(hamming(a, b) for a, b in zip(ours, refs, strict=True))
    print(f"PDQ drift vs the reference pipeline on these photos: max {bench_drift} bits")
    conformance = conformance_drift()
    if conformance is None:
        print(f"conformance set not found at {CONFORMANCE}; drift there not measured")
        max_drift = bench_drift
    else:
        max_drift, count = conformance
        print(
            f"PDQ drift vs expected.csv on the conformance set ({count} images of quality >= 80): "
            f"max {max_drift} bits (target <= 10)"
        )
    print(
        f"speedup_vs_reference={speedup:.1f} photos_per_s={1 / t_ours:.1f} "
        f"max_drift_bits={max_drift}"
    )


if __name__ == "__main__":
    main()
