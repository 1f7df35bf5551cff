"""bench_scan: files/s of `kaitiaki scan` over a generated 20,000-file tree, 1 and 2 workers,
and with 2 workers without the robust signal (`--no-robust`), today's scan before it.

Targets: >= 1.8x from 1 to 2 workers; the robust signal costs at most 1.5x (files/s without it
over files/s with it). Each scan runs as its own `python -m kaitiaki scan` process
(store on SQLite, as the embedded default); peak memory is the largest resident set of the scan
process and its workers (getrusage of the waited-for children).

    uv run python benchmarks/bench_scan.py [--files 20000] [--tree DIR]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def build_tree(root: Path, files: int, seed: int = 7) -> None:
    """Mostly JPEG photos-like images of varied sizes, some PNGs, text files and duplicates."""
    marker = root / ".complete"
    if marker.exists() and int(marker.read_text()) == files:
        return
    rng = np.random.default_rng(seed)
    palette = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(64)]
    for i in range(files):
        folder = root / f"user{i % 40:02d}" / f"album{i % 13:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        roll = i % 20
        if roll == 0:
            (folder / f"note{i}.txt").write_text(f"note {i}\n" * int(rng.integers(1, 50)))
            continue
        if roll == 1 and i > 40:
            # A duplicate of an earlier file: same content, another path.
            earlier = root / f"user{(i - 21) % 40:02d}" / f"album{(i - 21) % 13:02d}"
            source = next(earlier.glob("*.jpg"), None)
            if source is not None:
                (folder / f"copy{i}.jpg").write_bytes(source.read_bytes())
                continue
        side = int(rng.choice([320, 480, 640, 800]))
        base = Image.fromarray(palette[i % 64]).resize((side, side * 3 // 4), Image.BICUBIC)
        pixels = np.asarray(base).astype(np.int16) + rng.integers(-12, 12, (side * 3 // 4, side, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
        buffer = io.BytesIO()
        if roll == 2:
            image.save(buffer, "PNG")
            (folder / f"img{i}.png").write_bytes(buffer.getvalue())
        else:
            image.save(buffer, "JPEG", quality=85)
            (folder / f"img{i}.jpg").write_bytes(buffer.getvalue())
    marker.write_text(str(files))


def run_scan(
    tree: Path, workers: int, workdir: Path, extra: tuple[str, ...] = ()
) -> tuple[float, int]:
    """Wall seconds and peak resident memory (bytes) of one scan in a fresh store."""
    db = workdir / f"bench-{workers}{''.join(extra)}.db"
    db.unlink(missing_ok=True)
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "kaitiaki",
            "scan",
            str(tree),
            "--evidence",
            "bench",
            "--workers",
            str(workers),
            "--db",
            f"sqlite:///{db}",
            *extra,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "120"},
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument(
        "--tree", type=Path, default=Path(tempfile.gettempdir()) / "kaitiaki-bench-tree"
    )
    args = parser.parse_args()

    started = time.perf_counter()
    build_tree(args.tree, args.files)
    count = sum(1 for p in args.tree.rglob("*") if p.is_file() and p.name != ".complete")
    built = time.perf_counter() - started
    print(f"tree: {count:,} files in {args.tree} (built/checked in {built:.1f} s)")
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as work:
        results = {}
        for workers in (1, 2):
            seconds, peak = run_scan(args.tree, workers, Path(work))
            results[workers] = count / seconds
            print(
                f"workers={workers}: {seconds:7.1f} s  {results[workers]:8.1f} files/s  "
                f"peak RSS (largest process) {peak / 2**20:,.0f} MiB"
            )
        seconds, _ = run_scan(args.tree, 2, Path(work), ("--no-robust",))
        without = count / seconds
    scaling = results[2] / results[1]
    print(f"scaling 1 -> 2 workers: {scaling:.2f}x (target >= 1.8x)")
    cost = without / results[2]
    print(
        f"robust signal, 2 workers: {results[2]:.1f} files/s with it, {without:.1f} without"
        f" (today's scan): costs {cost:.2f}x (target <= 1.5x)"
    )
    print(f"files_per_s_1={results[1]:.1f} files_per_s_2={results[2]:.1f} scaling={scaling:.2f}")


if __name__ == "__main__":
    main()
