"""bench_disk_scan: files/s of a scan over a FAT32 disk image, 1 and 2 workers, against the same
files in a folder and against the image read whole (one unit of work, as before slicing).

Target: the image scales from 1 to 2 workers like the folder does, and reads at the folder's rate
within the cost of listing it. Every scan is ``run_scan`` in this process on a fresh SQLite store
(the same runner, pool and writes for every mode); files/s counts the files, not the image.
Needs mkfs.fat and mcopy (dosfstools, mtools).

    uv run python benchmarks/bench_disk_scan.py [--files 2000] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from kaitiaki.scan import plan
from kaitiaki.scan.runner import run_scan
from kaitiaki.simulate.images import encode, shapes
from kaitiaki.store import open_store


def build_folder(root: Path, files: int, seed: int = 11) -> None:
    """Small benign JPEGs (generated shapes), 40 to a folder, like a phone's camera roll."""
    marker = root / ".complete"
    if marker.exists() and int(marker.read_text()) == files:
        return
    rng = np.random.default_rng(seed)
    for i in range(files):
        folder = root / "DCIM" / f"{100 + i // 40:03d}PHOTO"
        folder.mkdir(parents=True, exist_ok=True)
        image = shapes(rng, size=(320, 240))
        (folder / f"IMG_{i:05d}.JPG").write_bytes(encode(image, "JPEG", quality=85))
    marker.write_text(str(files))


def build_image(folder: Path, image: Path) -> None:
    """A FAT32 file system holding ``folder``'s files (mkfs.fat, then one mcopy)."""
    if image.exists():
        return
    payload = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    kib = max(64 << 10, payload * 2 // 1024)  # FAT32 wants 65,525 clusters at least
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}
    partial = image.with_suffix(".part")
    partial.unlink(missing_ok=True)
    subprocess.run(["mkfs.fat", "-F", "32", "-C", str(partial), str(kib)], check=True, env=env)
    subprocess.run(
        ["mcopy", "-s", "-m", "-i", str(partial), str(folder / "DCIM"), "::/"], check=True, env=env
    )
    partial.rename(image)


def timed_scan(target: Path, workers: int, work: Path, label: str) -> float:
    """Wall seconds of one scan of ``target`` into a fresh store."""
    db = work / f"{label}-{workers}.db"
    db.unlink(missing_ok=True)
    store = open_store(f"sqlite:///{db}")
    try:
        started = time.perf_counter()
        run_scan(store, [target], label, workers=workers, actor="bench")
        return time.perf_counter() - started
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "kaitiaki-bench-disk"
    )
    args = parser.parse_args()
    folder = args.work / f"files-{args.files}"
    image = args.work / f"card-{args.files}.dd"
    started = time.perf_counter()
    build_folder(folder, args.files)
    build_image(folder, image)
    print(
        f"{args.files:,} JPEGs: folder {folder}, FAT32 image {image} "
        f"({image.stat().st_size / 2**20:,.0f} MiB); built/checked in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f} (shared machine)")

    rates: dict[tuple[str, int], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for label, target in (("folder", folder), ("image", image)):
            for workers in (1, 2):
                seconds = timed_scan(target, workers, work, label)
                rates[label, workers] = args.files / seconds
                print(
                    f"{label:>6} workers={workers}: {seconds:6.1f} s "
                    f"{rates[label, workers]:7.1f} files/s"
                )
        # The reference: the image as one unit of work, as the scan read images before slices.
        whole = plan.ScanPlan._sliced_image
        plan.ScanPlan._sliced_image = lambda self, path: None  # type: ignore[method-assign]
        try:
            seconds = timed_scan(image, 2, work, "whole")
        finally:
            plan.ScanPlan._sliced_image = whole  # type: ignore[method-assign]
        rates["whole", 2] = args.files / seconds
        print(f" whole workers=2: {seconds:6.1f} s {rates['whole', 2]:7.1f} files/s (one unit)")

    folder_scaling = rates["folder", 2] / rates["folder", 1]
    image_scaling = rates["image", 2] / rates["image", 1]
    print(f"scaling 1 -> 2 workers: image {image_scaling:.2f}x, folder {folder_scaling:.2f}x")
    print(
        f"image vs folder at 2 workers: {rates['image', 2] / rates['folder', 2]:.2f}x; "
        f"sliced vs whole image at 2 workers: {rates['image', 2] / rates['whole', 2]:.2f}x"
    )
    print(
        f"image_files_per_s_1={rates['image', 1]:.1f} image_files_per_s_2={rates['image', 2]:.1f} "
        f"folder_files_per_s_2={rates['folder', 2]:.1f} whole_files_per_s={rates['whole', 2]:.1f}"
    )


if __name__ == "__main__":
    main()
