"""bench_robust: recall of image-matching methods on re-shared edits, at a fixed false-match rate.

Re-shared material comes back cropped, bordered, rotated, captioned, stickered, framed as a meme
or photographed inside a screenshot. This measures, side by side on the same images:

  PDQ (today)      ``kaitiaki.signals.pdq``: the query's 8 dihedral hashes against the original's
  PDQ+views        ``kaitiaki.signals.views.query_views``: the same, over every trimmed view
  robust           ``kaitiaki.signals.robust``: ORB keypoints + geometric verification, retrieved
                   through ``kaitiaki.index.robust.RobustIndex`` (every pair verified when the
                   index module is absent); the score is the inlier count
  perception ...   Thorn's ``perception`` hashers, one hash each, their own distance metric
  imagehash phash  ``imagehash.phash``, one 64-bit hash

Images: benign photographs only (scikit-image's and scikit-learn's sample photos, the Debian
wallpaper packages' images; ``scripts/bench-robust-deps.sh`` installs those and libmagic).
Edits: Meta's AugLy at graded strengths (``robust_eval/transforms.py``).

Metric: every query is compared with every reference. For each method the threshold is set on
ALL non-matching pairs (N references x N-1 x T edits) so that at most ``--fmr`` of them match,
and the table gives recall per edit at it; kaitiaki's PDQ methods also at their operating
threshold (distance <= 31) and the robust signal at its own (MIN_INLIERS), with the
false-match rate each gives.

    scripts/bench-robust-deps.sh
    uv run --group bench python benchmarks/bench_robust.py [--images 500] [--quick] \
        [--tiles 2] [--jobs 2] [--out results.md]

The named packages hold ~60 distinct images once flat colours, gradients, logos and duplicate
sizes are dropped. ``--tiles 2`` replaces each large wallpaper by its 4 disjoint quarters (each
a reference; pairs between quarters of one wallpaper are not counted as non-matching), which
roughly doubles the references and quadruples the non-matching pairs.

Originals and edited images are cached under ``~/.cache/kaitiaki-bench/robust``.
"""

from __future__ import annotations

import os

# One thread per process (OpenCV, BLAS): --jobs decides the parallelism, and the per-image
# costs reported are one core's.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import io  # noqa: E402
import math  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator, Sequence  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402
from PIL import Image  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn  # noqa: E402

from kaitiaki.signals import pdq  # noqa: E402
from kaitiaki.signals.robust import MIN_INLIERS  # noqa: E402
from robust_eval import images, methods, metrics, robust_scoring  # noqa: E402
from robust_eval.transforms import Transform, apply, transforms  # noqa: E402

CACHE = Path.home() / ".cache" / "kaitiaki-bench" / "robust"
# Bump when a transformation's parameters change: cached edits are keyed by it.
EDITS_VERSION = 1
# Edited images are stored as JPEG at this quality: every re-shared image is re-encoded, and
# lossless PNGs of ~20,000 edits would take gigabytes.
EDIT_QUALITY = 92
console = Console(stderr=True)


@dataclass(frozen=True, slots=True)
class ImageResult:
    index: int
    references: dict[str, Any]  # method name -> reference signature
    queries: dict[str, list[Any]]  # method name -> one query signature per transformation
    seconds: dict[str, float]  # method name -> time spent computing its query signatures


def _edited(original: Path, transform: Transform) -> Path:
    """The cached edit of ``original``, made on first use (seeded per image and edit)."""
    safe = transform.key.replace("/", "_")
    out = CACHE / f"edits-v{EDITS_VERSION}" / original.stem / f"{safe}.jpg"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(original) as im:
        edited = apply(transform, im.convert("RGB"), f"{original.stem}/{transform.key}")
    tmp = out.with_suffix(".tmp.jpg")
    edited.save(tmp, quality=EDIT_QUALITY)
    tmp.replace(out)
    return out


def _inputs(path: Path) -> methods.Inputs:
    with Image.open(path) as im:
        reduced = np.asarray(pdq.load_reduced(im))
    return methods.Inputs(str(path), reduced)


# Set in each worker by _init: the methods hold hasher objects that are built, not pickled.
_METHODS: list[methods.Method] = []
_TRANSFORMS: list[Transform] = []


def _init(names: Sequence[str] | None) -> None:
    global _METHODS, _TRANSFORMS
    _METHODS = methods.available(names)[0]
    _TRANSFORMS = transforms()


def _one_image(index: int, original: str) -> ImageResult:
    path = Path(original)
    ref_in = _inputs(path)
    refs = {m.name: m.reference(ref_in) for m in _METHODS}
    queries: dict[str, list[Any]] = {m.name: [] for m in _METHODS}
    seconds = dict.fromkeys(queries, 0.0)
    for transform in _TRANSFORMS:
        q_in = _inputs(_edited(path, transform))
        for m in _METHODS:
            start = time.perf_counter()
            queries[m.name].append(m.query(q_in))
            seconds[m.name] += time.perf_counter() - start
    return ImageResult(index, refs, queries, seconds)


def _run_all(
    originals: Sequence[Path], names: Sequence[str] | None, jobs: int
) -> Iterator[ImageResult]:
    if jobs <= 1:
        _init(names)
        for i, path in enumerate(originals):
            yield _one_image(i, str(path))
        return
    with ProcessPoolExecutor(jobs, initializer=_init, initargs=(names,)) as pool:
        yield from pool.map(_one_image, range(len(originals)), map(str, originals), chunksize=1)


def _cost(
    originals: Sequence[Path], count: int, robust_refs: Sequence[Any], rounds: int = 2
) -> list[str]:
    """ms/image on one core, from JPEG bytes to signatures, as a scan computes them: one
    reduced decode, then each signal from the same pixels."""
    import importlib

    def optional(name: str) -> Any:
        try:
            return importlib.import_module(name)
        except ImportError:
            return None

    views, robust = optional("kaitiaki.signals.views"), optional("kaitiaki.signals.robust")
    blobs: list[bytes] = []
    for path in originals[:count]:
        buf = io.BytesIO()
        with Image.open(path) as im:
            im.convert("RGB").save(buf, "JPEG", quality=90)
        blobs.append(buf.getvalue())

    def reduced(data: bytes) -> NDArray[np.uint8]:
        return np.asarray(pdq.load_reduced(Image.open(io.BytesIO(data))))

    timed: list[tuple[str, Any]] = [
        ("PDQ alone", lambda d: pdq.hash_image(Image.open(io.BytesIO(d))))
    ]
    if views is not None:
        # query_views hashes the whole image first: it replaces the PDQ hash, not adds to it.
        timed.append(("PDQ+views", lambda d: views.query_views(reduced(d))))
    if robust is not None:
        timed.append(
            ("PDQ+robust", lambda d: (pdq.hash_pixels(r := reduced(d)), robust.compute(r)))
        )
    if views is not None and robust is not None:
        timed.append(
            ("PDQ+views+robust", lambda d: (views.query_views(r := reduced(d)), robust.compute(r)))
        )
    lines = [
        f"Cost, {len(blobs)} originals re-encoded as JPEG q90 (longest side <= {images.MAX_SIDE}), "
        f"one core, best of {rounds} passes:"
    ]
    for label, fn in timed:
        fn(blobs[0])  # warm-up: first-call imports and OpenCV initialisation
        best = math.inf
        for _ in range(rounds):
            start = time.perf_counter()
            for data in blobs:
                fn(data)
            best = min(best, (time.perf_counter() - start) / len(blobs))
        lines.append(f"- {label}: {best * 1000:.1f} ms/image ({1 / best:.0f} files/s)")
    stored = "- bytes per stored signature: PDQ 32 (+ a quality byte); PDQ+views 32 (views are "
    stored += "query-side only)"
    if robust is not None and robust_refs:
        sizes = [len(robust.to_bytes(sig)) for sig in robust_refs]
        stored += (
            f"; robust {np.mean(sizes):.0f} mean, {min(sizes)} to {max(sizes)} "
            f"(robust.to_bytes over the {len(sizes)} references)"
        )
    lines.append(stored)
    lines.append(
        "- others: perception PHash, DHash and imagehash phash 8 bytes, PDQHash 32, "
        "MarrHildreth 72, PHashU8 64 bytes, ColorMoment 42 floats"
    )
    return lines


def _table(
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[str, NDArray[np.float64]],
) -> list[str]:
    out = ["| transformation | " + " | ".join(columns) + " |"]
    out.append("|---|" + "|".join("---:" for _ in columns) + "|")
    for i, row in enumerate(rows):
        out.append(f"| {row} | " + " | ".join(f"{cells[c][i] * 100:.0f}" for c in columns) + " |")
    out.append(
        "| **mean** | " + " | ".join(f"**{cells[c].mean() * 100:.1f}**" for c in columns) + " |"
    )
    return out


VIEWS = "PDQ+views"
UNION = "kaitiaki scan (views or robust)"

# The targets at kaitiaki's operating points: (column, edits, least recall). Pads up to
# 20% against hash-only sets with the trimmed views; crops to 10% a side, rotations to 10
# degrees either way, text and emoji overlays up to a quarter of the picture and meme frames
# with the robust signal.
_ROBUST_EDITS = (
    ("crop@keep90%", "crop@10%/side", "rotate@5deg", "rotate@10deg", "rotate@-10deg"),
    ("text@size0.08x1", "text@size0.15x2", "emoji@size0.15", "emoji@size0.3", "emoji@size0.5"),
    ("meme@caption0.15", "meme@caption0.4"),
)
_PADS = ("pad@10%", "pad@20%", "pad@white-asym")
TARGETS = (
    (f"{VIEWS} @31", _PADS, 0.95),
    *((f"robust @{MIN_INLIERS}", edits, 0.9) for edits in _ROBUST_EDITS),
    *((UNION, edits, 0.9) for edits in _ROBUST_EDITS),
    # The same at the threshold set for --fmr on all non-matching pairs (the measure).
    (VIEWS, _PADS, 0.95),
    *(("robust", edits, 0.9) for edits in _ROBUST_EDITS),
)


def _targets(rows: Sequence[str], cells: dict[str, NDArray[np.float64]]) -> list[str]:
    out = ["Targets (the least recall over the edits named, in the column named):"]
    for column, edits, least in TARGETS:
        if column not in cells:
            out.append(f"- {column}: not measured in this run")
            continue
        got = {e: cells[column][rows.index(e)] for e in edits if e in rows}
        worst = min(got, key=got.__getitem__)
        verdict = "met" if got[worst] >= least else "NOT met"
        out.append(
            f"- {column} on {', '.join(got)}: least {got[worst] * 100:.1f}% ({worst}); "
            f"target >= {least:.0%}: {verdict}"
        )
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=500, help="at most this many originals")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 12 images")
    parser.add_argument(
        "--tiles",
        type=int,
        default=1,
        help="also split originals of >= TILES x 800 px a side into a TILES x TILES grid of "
        "disjoint parts, each a reference of its own (more references when packages are few)",
    )
    parser.add_argument("--worst", type=int, default=5, help="closest non-matches listed")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--fmr", type=float, default=1e-5, help="target false-match rate")
    parser.add_argument("--methods", nargs="*", help="only these (e.g. PHash 'PDQ (today)')")
    parser.add_argument(
        "--inliers",
        type=int,
        nargs="*",
        default=[],
        help="also report the robust signal at these inlier counts, beside MIN_INLIERS",
    )
    parser.add_argument("--cost-images", type=int, default=40, help="originals timed for cost")
    parser.add_argument("--out", type=Path, help="also write the report (Markdown) here")
    args = parser.parse_args(argv)
    limit = 12 if args.quick else args.images

    console.print("collecting images ...")
    found = images.collect(limit, CACHE, args.tiles)
    names = [n for n, _ in found]
    originals = [p for _, p in found]
    all_methods, skipped = methods.available(args.methods)
    edits = transforms()
    n, t = len(originals), len(edits)
    for line in skipped:
        console.print(f"[yellow]skipped[/] {line}")
    console.print(f"{n} images x {t} edits, methods: {', '.join(m.name for m in all_methods)}")

    refs: dict[str, list[Any]] = {m.name: [None] * n for m in all_methods}
    # Query order is edit-major: query q = edit q // n applied to image q % n.
    queries: dict[str, list[Any]] = {m.name: [None] * (n * t) for m in all_methods}
    seconds = {m.name: 0.0 for m in all_methods}
    started = last = time.perf_counter()
    done = 0
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("editing + hashing", total=n)
        for result in _run_all(originals, args.methods, args.jobs):
            for name, sig in result.references.items():
                refs[name][result.index] = sig
            for name, spent in result.seconds.items():
                seconds[name] += spent
            for name, sigs in result.queries.items():
                for j, sig in enumerate(sigs):
                    queries[name][j * n + result.index] = sig
            progress.advance(task)
            done += 1
            # Redirected to a file, Rich draws the bar only at the end: log a line instead.
            if not console.is_terminal and time.perf_counter() - last >= 30:
                last = time.perf_counter()
                console.print(f"{done}/{n} images hashed, {last - started:.0f} s")
    console.print(f"hashed in {time.perf_counter() - started:.0f} s")

    original = np.tile(np.arange(n), t)
    edit_of = np.repeat(np.arange(t), n)
    # Parts of one wallpaper (--tiles) form a group; without tiles every image is its own.
    whole = [name.split("#", 1)[0] for name in names]
    group = np.array([whole.index(w) for w in whole])
    mask = metrics.impostor_mask(original, group)
    worst_lines: list[str] = []
    report: list[str] = []
    columns: list[str] = []
    cells: dict[str, NDArray[np.float64]] = {}
    fmr_lines: list[str] = []
    # Each method's (genuine, impostor) scores at its kaitiaki operating cut, for the union below.
    matched_at_op: dict[str, tuple[NDArray[np.bool_], NDArray[np.bool_]]] = {}
    for m in all_methods:
        if m.metric == "robust":
            dist, how = robust_scoring.scores(queries[m.name], refs[m.name], console)
        else:
            dist, how = methods.distances(queries[m.name], refs[m.name], m.metric), ""
        genuine, impostor = metrics.split(dist, original, mask)
        if m.op_threshold is not None or m.metric == "robust":
            for q, r, d in metrics.worst(dist, mask, args.worst):
                score = f"{-d:g} inliers" if m.metric == "robust" else f"distance {d:g}"
                worst_lines.append(
                    f"- {m.name}: {names[original[q]]} [{edits[edit_of[q]].key}] vs "
                    f"{names[r]}: {score}"
                )
        op = metrics.at_fmr(impostor, args.fmr)
        cells[m.name] = np.array([metrics.recall(genuine[edit_of == e], op.cut) for e in range(t)])
        columns.append(m.name)
        shown = f"inliers > {-op.cut:g}" if m.metric == "robust" else f"distance < {op.cut:g}"
        fmr_lines.append(f"- {m.name}: {shown}; false matches {metrics.fmt_fmr(op)}{how}")
        # kaitiaki's own operating points beside the calibrated one: PDQ's distance <= 31, the
        # robust signal's MIN_INLIERS (scores are negated inliers, so lower is closer).
        operating: list[tuple[str, float, str]] = []
        if m.op_threshold is not None:
            operating.append(
                (f"{m.name} @{m.op_threshold}", m.op_threshold + 1, f"distance <= {m.op_threshold}")
            )
        if m.metric == "robust":
            for inliers in sorted({MIN_INLIERS, *args.inliers}, reverse=True):
                named = " (robust.MIN_INLIERS)" if inliers == MIN_INLIERS else ""
                operating.append(
                    (f"robust @{inliers}", -inliers + 1, f"inliers >= {inliers}{named}")
                )
        for label, cut, described in operating:
            if label in (f"{VIEWS} @31", f"robust @{MIN_INLIERS}"):
                matched_at_op[label] = (genuine < cut, impostor < cut)
            at = metrics.at_cut(impostor, cut)
            cells[label] = np.array(
                [metrics.recall(genuine[edit_of == e], at.cut) for e in range(t)]
            )
            columns.append(label)
            fmr_lines.append(f"- {label}: {described}; false matches {metrics.fmt_fmr(at)}")

    if len(matched_at_op) == 2:
        # What a scan against a set made with --from-evidence reports: its entries carry PDQ and
        # the robust signature, and a file matches when either signal does. A non-matching
        # pair counts as a false match when either does.
        views_g, views_i = matched_at_op[f"{VIEWS} @31"]
        robust_g, robust_i = matched_at_op[f"robust @{MIN_INLIERS}"]
        hit, false = views_g | robust_g, views_i | robust_i
        cells[UNION] = np.array([hit[edit_of == e].mean() for e in range(t)])
        columns.append(UNION)
        union_op = metrics.Operating(0.5, int(false.sum()), false.size)
        fmr_lines.append(
            f"- {UNION}: PDQ+views <= 31 or robust >= {MIN_INLIERS} inliers; false matches "
            f"{metrics.fmt_fmr(union_op)}"
        )

    pairs = int(mask.sum())
    sources = sorted({name.split("/", 1)[0] for name in names})
    report.append(
        f"## Recall (%) at false-match rate <= {args.fmr:g} ({n} images x {t} edits = {n * t:,} "
        f"queries; {pairs:,} non-matching pairs)"
    )
    if pairs != n * (n - 1) * t:
        report.append("")
        report.append(
            f"Non-matching pairs: {n} x {n - 1} x {t} = {n * (n - 1) * t:,}, less "
            f"{n * (n - 1) * t - pairs:,} between parts of the same wallpaper (--tiles)."
        )
    report.append("")
    counts = {s: sum(x.startswith(s + "/") for x in names) for s in sources}
    report.append("Images from: " + ", ".join(f"{s} ({c})" for s, c in counts.items()) + ".")
    report.append("")
    report.extend(_table([e.key for e in edits], columns, cells))
    report.append("")
    report.extend(_targets([e.key for e in edits], cells))
    report.append("")
    report.append("Thresholds (set on all non-matching pairs, all edits together):")
    report.extend(fmr_lines)
    for line in skipped:
        report.append(f"- not measured: {line}")
    if worst_lines:
        report.append("")
        report.append(
            f"Closest non-matching pairs, {args.worst} a method (query's original [edit] vs "
            "reference):"
        )
        report.extend(worst_lines)
    report.append("")
    report.append(
        "Query signature time in this run, ms per edited image (the reduced decode that "
        "PDQ+views and robust share is not counted; perception reads the file itself): "
        + ", ".join(f"{name} {spent / (n * t) * 1000:.1f}" for name, spent in seconds.items())
    )
    if args.cost_images > 0:
        report.append("")
        report.extend(_cost(originals, args.cost_images, refs.get("robust", [])))
    text = "\n".join(report)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
