"""The robust signal: bytes, compute cost beside PDQ's, recall, false matches, index at scale.

    uv run python benchmarks/bench_robust_index.py [--refs 10000 100000] [--pairs]

What it measures, on one core (cv2.setNumThreads(1)), with benign photos from ``skimage.data``:
1. Bytes per signature, and ms per image of ``robust.compute`` next to PDQ on the same reduced
   pixels (one run, side by side; decode and reduce are shared by both and reported apart).
2. Recall per transformation family: the signature of each transformed photo verified against
   its original, at ``MIN_INLIERS``.
3. False matches (--pairs): every transformed photo against every other photo's original and
   transformed versions (about 10^5 non-matching pairs); the histogram of their inlier counts.
4. The index: the photos' originals plus distractors, then each transformed photo queried.
   Distractors fake distinct images: each takes rows drawn at random from a pool of real
   ORB rows (the photos under random crops, rotations and scales), flips 8 random bits of
   each descriptor and puts it at a random point. Bucket loads are then those of real
   descriptors, but distractors never verify (the geometry is random), so the false-match
   figure comes from step 3, not from here.
"""

from __future__ import annotations

import argparse
import io
import time
import tracemalloc
from collections.abc import Iterator

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from kaitiaki.index.robust import RobustIndex
from kaitiaki.signals import robust
from kaitiaki.signals.pdq import hash_pixels, load_reduced
from kaitiaki.simulate.edits import crop, jpeg, meme, photo, rotate, stickers, text_banner

PHOTOS = [
    *("astronaut", "camera", "chelsea", "coffee", "coins", "rocket", "hubble_deep_field"),
    *("immunohistochemistry", "moon", "retina", "clock", "brick", "grass", "gravel", "cell"),
    *("page", "text"),
]


def meme_text(im: Image.Image) -> Image.Image:
    im = im.copy()
    w, h = im.size
    draw = ImageDraw.Draw(im)
    font = ImageFont.load_default(max(12, h // 9))
    for y, line in ((0.03, "ONE DOES NOT"), (0.83, "SIMPLY MATCH")):
        draw.text(
            (w * 0.08, h * y), line, fill="white", font=font, stroke_width=3, stroke_fill="black"
        )
    return im


FAMILIES = {
    "crop 10% each side": lambda im: crop(im, 0.1, 0.1, 0.1, 0.1),
    "crop asymmetric": lambda im: crop(im, 0.25, 0.05, 0.0, 0.2),
    "crop to a corner (49%)": lambda im: crop(im, 0, 0, 0.3, 0.3),
    "rotate +10 corners": lambda im: rotate(im, 10, True),
    "rotate -10 corners": lambda im: rotate(im, -10, True),
    "rotate +10 cropped": lambda im: rotate(im, 10, False),
    "rotate -10 cropped": lambda im: rotate(im, -10, False),
    "text banner 25%": text_banner,
    "meme text top+bottom": meme_text,
    "stickers 25%": lambda im: stickers(im, seed=0),
    "meme caption band": lambda im: meme(im, "when the code works"),
    "jpeg q30": jpeg,
    "scale 30%": lambda im: im.resize(
        (im.width * 3 // 10, im.height * 3 // 10), Image.Resampling.BILINEAR
    ),
    "blur r2": lambda im: im.filter(ImageFilter.GaussianBlur(2)),
    "brightness +40%": lambda im: ImageEnhance.Brightness(im).enhance(1.4),
    "grayscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
    "hflip": ImageOps.mirror,
    "hflip + crop": lambda im: crop(ImageOps.mirror(im), 0.1, 0.05, 0.05, 0.1),
    "crop+rot5+caption": lambda im: meme(
        rotate(crop(im, 0.1, 0.1, 0.1, 0.1), 5, False), "when the code works"
    ),
}


def sig(im: Image.Image) -> robust.RobustSignature:
    return robust.compute(np.asarray(load_reduced(im)))


def cost(originals: dict[str, Image.Image]) -> None:
    reduced = {n: np.asarray(load_reduced(jpeg(im, 90))) for n, im in originals.items()}
    big = {n: jpeg(im.resize((im.width * 4, im.height * 4)), 90) for n, im in originals.items()}
    datas = {}
    for n, im in big.items():
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        datas[n] = buf.getvalue()
    rounds = 5
    t0 = time.perf_counter()
    for _ in range(rounds):
        for data in datas.values():
            load_reduced(Image.open(io.BytesIO(data)))
    t1 = time.perf_counter()
    for _ in range(rounds):
        for rgb in reduced.values():
            hash_pixels(rgb)
    t2 = time.perf_counter()
    for _ in range(rounds):
        for rgb in reduced.values():
            robust.compute(rgb)
    t3 = time.perf_counter()
    per = rounds * len(reduced)
    dec, pdq, rob = ((t1 - t0) / per * 1e3, (t2 - t1) / per * 1e3, (t3 - t2) / per * 1e3)
    print(
        f"decode+reduce of a ~2 Mpx JPEG: {dec:.1f} ms   PDQ (8 dihedral): {pdq:.1f} ms   "
        f"robust: {rob:.1f} ms   -> files/s ratio {(dec + pdq) / (dec + pdq + rob):.2f}x of today"
    )
    sizes = [len(robust.to_bytes(robust.compute(r))) for r in reduced.values()]
    print(f"bytes per signature: mean {np.mean(sizes):.0f}, max {max(sizes)}")


def recall(originals: dict[str, Image.Image]) -> dict[str, dict[str, robust.RobustSignature]]:
    refs = {n: sig(im) for n, im in originals.items()}
    queries: dict[str, dict[str, robust.RobustSignature]] = {}
    total = []
    print(f"recall at MIN_INLIERS={robust.MIN_INLIERS} ({len(originals)} photos per family):")
    for family, fn in FAMILIES.items():
        queries[family] = {n: sig(fn(im)) for n, im in originals.items()}
        inl = [robust.verify(q, refs[n]).inliers for n, q in queries[family].items()]
        hit = np.mean(np.array(inl) >= robust.MIN_INLIERS)
        total.append(hit)
        print(
            f"  {family:24s} {hit:5.2f}  inliers min {min(inl):3d} median {int(np.median(inl)):3d}"
        )
    print(f"  {'all families':24s} {np.mean(total):5.2f}")
    return queries


# Families that paint the same synthetic overlay (same text, same stickers) on every photo:
# two such images share real content, and do match each other (see the report).
OVERLAY = {
    "text banner 25%": "banner",
    "meme text top+bottom": "meme text",
    "stickers 25%": "stickers",
    "meme caption band": "caption",
    "crop+rot5+caption": "caption",
}


def false_matches(
    originals: dict[str, Image.Image], queries: dict[str, dict[str, robust.RobustSignature]]
) -> None:
    """Every pair of signatures of different photos: originals, the family variants and 8
    random crop/rotate/scale/JPEG variants a photo. Pairs that share an overlay are counted
    apart: they are not non-matching content."""
    rng = np.random.default_rng(5)
    sigs = [(n, "", sig(im)) for n, im in originals.items()]
    sigs += [(n, OVERLAY.get(f, ""), s) for f, per in queries.items() for n, s in per.items()]
    for n, im in originals.items():
        for _ in range(8):
            v = rotate(crop(im, *rng.uniform(0, 0.25, 4)), float(rng.uniform(-15, 15)), False)
            v = v.resize((int(v.width * rng.uniform(0.5, 1)), int(v.height * rng.uniform(0.5, 1))))
            sigs.append((n, "", sig(jpeg(v, int(rng.integers(40, 95))))))
    clean: list[int] = []
    shared: list[int] = []
    t = time.perf_counter()
    for i, (a, oa, sa) in enumerate(sigs):
        for b, ob, sb in sigs[i + 1 :]:
            if a != b:
                inliers = robust.verify(sa, sb, 10**6).inliers
                (shared if oa and oa == ob else clean).append(inliers)
    took = time.perf_counter() - t
    c, sh = np.array(clean), np.array(shared)
    at = robust.MIN_INLIERS
    print(
        f"non-matching pairs (different photos, no shared overlay): {len(c)} "
        f"({took / (len(c) + len(sh)) * 1e3:.2f} ms/verify); inlier histogram "
        f"{np.bincount(c).tolist()}; at >= {at}: {int((c >= at).sum())} "
        f"(rate < {1 / len(c):.1e} if none, 95% upper bound {3 / len(c):.1e})"
    )
    print(
        f"pairs of different photos under the same synthetic overlay: {len(sh)}, "
        f"at >= {at}: {int((sh >= at).sum())} (median inliers {int(np.median(sh))})"
    )


def distractors(
    originals: dict[str, Image.Image], count: int, rng: np.random.Generator, batch: int = 4096
) -> Iterator[list[robust.RobustSignature]]:
    """``count`` fake signatures, ``batch`` at a time (a million would not fit in memory twice:
    the list and the index's copy)."""
    pool = []
    for im in originals.values():
        for _ in range(12):
            v = rotate(crop(im, *rng.uniform(0, 0.3, 4)), float(rng.uniform(-30, 30)), False)
            pool.append(sig(v).descriptors)
    rows = np.concatenate(pool)
    per = 2 * robust.KEYPOINTS
    for start in range(0, count, batch):
        size = min(batch, count - start)
        d = rows[rng.integers(0, len(rows), size * per)]
        # 8 random bits of each row flipped (two draws of one bit flip it once, as near enough).
        mask = np.zeros((size * per, 256), bool)
        mask[np.arange(size * per)[:, None], rng.integers(0, 256, (size * per, 8))] = True
        d ^= np.packbits(mask, axis=1)
        pts = rng.uniform(0, robust.SIDE - 1, (size * per, 2)).astype(np.float32)
        yield [
            robust.RobustSignature(
                robust.SIDE, robust.SIDE, pts[i * per : (i + 1) * per], d[i * per : (i + 1) * per]
            )
            for i in range(size)
        ]


def index_scale(
    originals: dict[str, Image.Image], queries: dict[str, dict[str, robust.RobustSignature]], n: int
) -> None:
    rng = np.random.default_rng(n)
    names = list(originals)
    tracemalloc.start()
    t = time.perf_counter()
    index = RobustIndex()
    index.add(list(range(len(names))), [sig(originals[m]) for m in names])
    made = len(names)
    for fakes in distractors(originals, n - len(originals), rng):
        index.add(list(range(made, made + len(fakes))), fakes)
        made += len(fakes)
    generating = time.perf_counter() - t
    t = time.perf_counter()
    index.candidates(sig(originals[names[0]]), 1)  # builds the tables
    build = time.perf_counter() - t
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    hits = total = wrong = 0
    t = time.perf_counter()
    for per in queries.values():
        for name, q in per.items():
            found = index.query(q)
            hits += any(i == names.index(name) for i, _ in found)
            wrong += sum(i != names.index(name) for i, _ in found)
            total += 1
    per_query = (time.perf_counter() - t) / total * 1e3
    print(
        f"index of {n} references: made and added in {generating:.0f} s, "
        f"build {build:.1f} s, {index.nbytes() / 2**20:.0f} MiB "
        f"(peak traced {peak / 2**20:.0f} MiB); query {per_query:.1f} ms; "
        f"recall through the index {hits / total:.2f} over {total} queries, {wrong} wrong hits"
    )
    scale = 1_000_000 / n
    starts = index._starts.nbytes if index._starts is not None else 0
    postings = sum(p.nbytes for p in index._postings)
    stored = index.nbytes() - starts - postings
    print(
        f"  signatures {stored / 2**20:.0f} MiB (memory-mapped after load), postings "
        f"{postings / 2**20:.0f} MiB, bucket starts {starts / 2**20:.0f} MiB (fixed)"
    )
    print(
        f"  extrapolated to 1M references: signatures {stored * scale / 2**30:.1f} GiB on disk, "
        f"postings {postings * scale / 2**30:.1f} GiB + {starts / 2**30:.2f} GiB resident; "
        f"50k queries at {per_query:.1f} ms = {per_query * 50_000 / 3.6e6:.2f} h on one core if "
        f"query time stayed flat, {per_query * scale * 50_000 / 3.6e6:.1f} h if it grew linearly"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refs", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--pairs", action="store_true", help="run the ~10^5-pair false-match count")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    originals = {n: photo(n) for n in PHOTOS}
    cost(originals)
    queries = recall(originals)
    if args.pairs:
        false_matches(originals, queries)
    for n in args.refs:
        index_scale(originals, queries, n)


if __name__ == "__main__":
    main()
