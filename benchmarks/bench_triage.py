"""bench_triage: end-to-end triage of a generated device against a large hash set, 2 workers.

The model case: a seized device of 50,000 files checked against a 1,000,000-entry national set.
The device (generated once and cached on disk) holds benign generated photos at phone/web sizes
(JPEG and some PNG), ~10% camera originals with EXIF (a few with GPS), ~5% near-duplicate edits
(resized, re-encoded, rotated, mirrored), ~10% exact duplicates at other paths, a few videos
(a generated clip and re-encoded copies), a few ZIP archives of photos and some text files.
The hash set is VICS 2.0: synthetic MD5/PDQ entries plus ~1% of the device's originals with
categories and series (half of them victim-identified).

Stages, each timed in this process (the scan hashes in a pool of --workers processes):
import the set, sync its series, scan (hash + match + classify), near-duplicate groups, gather
the report, render HTML, render PDF. Printed: per-stage seconds and share (where the time goes),
end-to-end files/s, and peak resident memory of this process and of the hashing workers.
Reference: the scan stage alone (the hashing floor the triage stages add to).

    uv run python benchmarks/bench_triage.py [--files 50000] [--hash-set-size 1000000]
        [--workers 2] [--cache DIR]

Run it small while developing (--files 2000 --hash-set-size 100000); the full size takes
several minutes of generation the first time.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import psutil
from PIL import Image

T = TypeVar("T")
CAMERAS = (("Canon", "EOS 80D", "SN-0001"), ("Apple", "iPhone 12", ""), ("Sony", "ILCE-7M3", "X9"))
SIZES = ((320, 240), (480, 360), (640, 480), (800, 600), (1024, 768))
VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


def _photo(rng: np.random.Generator) -> Image.Image:
    """A distinct smooth image with texture: random low-resolution colour field, upsampled."""
    width, height = SIZES[int(rng.integers(0, len(SIZES)))]
    field = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
    base = np.asarray(Image.fromarray(field).resize((width, height), Image.Resampling.BICUBIC))
    grain = rng.integers(-10, 10, base.shape, dtype=np.int16)
    return Image.fromarray(np.clip(base.astype(np.int16) + grain, 0, 255).astype(np.uint8))


def _exif(rng: np.random.Generator, i: int) -> Image.Exif:
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    make, model, serial = CAMERAS[i % len(CAMERAS)]
    exif[0x010F], exif[0x0110] = make, model
    sub = exif.get_ifd(0x8769)
    if serial:
        sub[0xA431] = serial
    stamp = datetime(2020 + i % 4, 1 + i % 12, 1 + i % 28, i % 24, i % 60).strftime(
        "%Y:%m:%d %H:%M:%S"
    )
    exif[0x0132] = sub[0x9003] = stamp
    if rng.random() < 0.2:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[3] = "S", "E"
        gps[2] = (IFDRational(36, 1), IFDRational(int(rng.integers(0, 60)), 1), IFDRational(0, 1))
        gps[4] = (IFDRational(174, 1), IFDRational(int(rng.integers(0, 60)), 1), IFDRational(0, 1))
    return exif


def _jpeg(image: Image.Image, quality: int = 85, exif: Image.Exif | None = None) -> bytes:
    out = io.BytesIO()
    options: dict[str, Any] = {"quality": quality}
    if exif is not None:
        options["exif"] = exif
    image.convert("RGB").save(out, "JPEG", **options)
    return out.getvalue()


def _edit(image: Image.Image, k: int) -> Image.Image:
    if k == 0:
        return image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
    if k == 1:
        return image.transpose(Image.Transpose.ROTATE_90)
    if k == 2:
        return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image  # re-encoded below at another quality


def build_device(root: Path, files: int, seed: int = 11) -> list[tuple[str, str]]:
    """Write the device; return (MD5, PDQ) of the originals the hash set lists."""
    marker = root / ".complete.json"
    if marker.exists() and json.loads(marker.read_text()).get("files") == files:
        return [(str(m), str(p)) for m, p in json.loads(marker.read_text())["listable"]]
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(seed)
    originals: list[Path] = []
    listable: list[tuple[str, str]] = []
    videos = max(1, files // 10_000) * 2
    archives = max(1, files // 2_500)
    per_archive = 10
    written = 0

    def put(rel: str, data: bytes) -> Path:
        nonlocal written
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += 1
        return path

    from kaitiaki.signals.pdq import hash_image_bytes
    from kaitiaki.simulate.video import write_clip, write_copy

    for v in range(videos // 2):
        clip = root / "Movies" / f"clip{v}.mp4"
        clip.parent.mkdir(parents=True, exist_ok=True)
        write_clip(clip, seed=v)
        write_copy(clip, root / "Movies" / f"clip{v}-copy.mp4")
        written += 2
    for a in range(archives):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for m in range(per_archive):
                archive.writestr(f"album/{m}.jpg", _jpeg(_photo(rng)))
        put(f"Downloads/archive{a}.zip", buffer.getvalue())
    i = 0
    while written < files:
        folder = (
            f"user{i % 7}/{['DCIM', 'Pictures', 'Downloads', 'WhatsApp/Media'][i % 4]}/{i % 23}"
        )
        roll = i % 20
        if roll in (0, 1) and len(originals) > 20:  # ~10% exact duplicates
            source = originals[int(rng.integers(0, len(originals)))]
            put(f"{folder}/copy{i}{source.suffix}", source.read_bytes())
        elif roll == 2 and len(originals) > 20:  # ~5% near-duplicate edits
            source = originals[int(rng.integers(0, len(originals)))]
            with Image.open(source) as image:
                image.load()
                edited = _edit(image, i % 4)
            put(f"{folder}/edit{i}.jpg", _jpeg(edited, quality=60 if i % 4 == 3 else 85))
        elif roll == 3:  # text documents
            put(f"{folder}/note{i}.txt", (f"note {i}\n" * int(rng.integers(1, 40))).encode())
        else:
            image = _photo(rng)
            if roll == 4:
                out = io.BytesIO()
                image.save(out, "PNG")
                path = put(f"{folder}/img{i}.png", out.getvalue())
            else:
                exif = _exif(rng, i) if roll in (5, 6) else None
                path = put(f"{folder}/IMG_{i:06d}.jpg", _jpeg(image, exif=exif))
            originals.append(path)
            if rng.random() < 0.01:
                data = path.read_bytes()
                listable.append((hashlib.md5(data).hexdigest(), hash_image_bytes(data).hex))
        i += 1
    marker.write_text(json.dumps({"files": files, "listable": listable}))
    return listable


def build_set(path: Path, size: int, listable: list[tuple[str, str]], seed: int = 5) -> None:
    """A VICS 2.0 Media list: ``listable`` device originals plus synthetic entries to ``size``."""
    marker = path.with_suffix(".complete")
    if marker.exists() and marker.read_text() == f"{size} {len(listable)}":
        return
    rng = np.random.default_rng(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"@odata.context":' + json.dumps(VICS_CONTEXT) + ',"value":[')
        for n in range(size):
            record: dict[str, Any] = {"MediaID": n + 1, "Category": int(n % 3) + 1}
            if n < len(listable):
                record["MD5"], record["PDQ"] = listable[n][0].upper(), listable[n][1]
                record["Series"] = f"Series-{n % 7}"
                record["VictimIdentified"] = "true" if n % 2 else "false"
            else:
                record["MD5"] = rng.bytes(16).hex().upper()
                record["PDQ"] = rng.bytes(32).hex()
                if n % 50 == 0:
                    record["Series"] = f"Series-{n % 997}"
                    record["VictimIdentified"] = "true" if n % 3 else "false"
            out.write(("," if n else "") + "\n" + json.dumps(record, separators=(",", ":")))
        out.write("\n]}\n")
    marker.write_text(f"{size} {len(listable)}")


class PeakMemory:
    """Samples the resident memory of this process and of every descendant (the forkserver's
    hashing workers are not our direct children, so getrusage cannot see them)."""

    def __init__(self, every: float = 0.2) -> None:
        self.own = 0
        self.worker = 0
        self.together = 0
        self._every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                own = me.memory_info().rss
                kids = [c.memory_info().rss for c in me.children(recursive=True)]
            except psutil.Error:
                continue
            self.own = max(self.own, own)
            self.worker = max(self.worker, max(kids, default=0))
            self.together = max(self.together, own + sum(kids))
            self._stop.wait(self._every)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def timed(stages: dict[str, float], name: str, work: Callable[[], T]) -> T:
    started = time.perf_counter()
    result = work()
    stages[name] = time.perf_counter() - started
    print(f"  {name:<22} {stages[name]:8.1f} s", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--hash-set-size", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--cache", type=Path, default=Path(tempfile.gettempdir()) / "kaitiaki-bench-triage"
    )
    args = parser.parse_args()

    from kaitiaki.hashsets import import_hash_set
    from kaitiaki.scan.runner import run_scan
    from kaitiaki.store import open_store
    from kaitiaki.triage.groups import build_groups
    from kaitiaki.triage.render_html import render_html
    from kaitiaki.triage.render_pdf import render_pdf
    from kaitiaki.triage.report import build_report
    from kaitiaki.triage.series_vics import sync_series_from_hash_sets

    device = args.cache / f"device-{args.files}"
    started = time.perf_counter()
    listable = build_device(device, args.files)
    set_path = args.cache / f"set-{args.hash_set_size}-{args.files}.json"
    build_set(set_path, args.hash_set_size, listable)
    count = sum(1 for p in device.rglob("*") if p.is_file() and not p.name.startswith("."))
    print(
        f"device: {count:,} files in {device}; set: {args.hash_set_size:,} entries "
        f"({set_path.stat().st_size / 2**20:,.0f} MiB VICS); generated/checked in "
        f"{time.perf_counter() - started:.1f} s"
    )
    print(f"cores: {os.cpu_count()}, workers: {args.workers}")
    from kaitiaki.match import Matcher

    stages: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=args.cache) as work, PeakMemory() as memory:
        out = Path(work)
        store = open_store(f"sqlite:///{out / 'bench.db'}")
        timed(stages, "import hash set", lambda: import_hash_set(store, set_path, "national"))
        timed(stages, "sync series", lambda: sync_series_from_hash_sets(store, "national"))
        # Built once per imported set and cached on disk; the scan then maps it in.
        timed(stages, "PDQ index of the set", lambda: Matcher.load(store))
        scan = timed(
            stages,
            "scan (hash+match)",
            lambda: run_scan(store, [device], "bench-device", workers=args.workers, actor="bench"),
        )
        grouped = timed(stages, "near-dup groups", lambda: build_groups(store, scan.evidence_id))
        report = timed(
            stages, "gather report", lambda: build_report(store, "bench-device", generated_by="b")
        )
        html = timed(stages, "render HTML", lambda: render_html(report))
        (out / "r.html").write_text(html)
        timed(stages, "render PDF", lambda: render_pdf(report, out / "r.pdf"))
        pdf_size = (out / "r.pdf").stat().st_size
        store.close()
    once = ("import hash set", "sync series", "PDQ index of the set")
    triage = sum(v for k, v in stages.items() if k not in once)
    total = sum(stages.values())
    paths = report.overview.instances
    print(
        f"paths recorded: {paths:,} ({report.overview.unique_files:,} unique); "
        f"new {report.new.files:,} in {grouped.groups:,} groups ({grouped.grouped:,} grouped); "
        f"known {report.overview.files_by_verdict.get('known', 0):,}; "
        f"series met {len(report.series)}; HTML {len(html) / 1024:,.0f} KiB, "
        f"PDF {pdf_size / 1024:,.0f} KiB"
    )
    print("where the time goes:")
    for name, seconds in stages.items():
        print(f"  {name:<22} {seconds:8.1f} s  {100 * seconds / total:5.1f}%")
    scan_rate = paths / stages["scan (hash+match)"]
    print(
        f"end to end (scan -> report, set imported and indexed): {triage:.1f} s, "
        f"{paths / triage:,.1f} files/s"
    )
    print(f"end to end including the set import: {total:.1f} s, {paths / total:,.1f} files/s")
    print(
        f"reference: the scan stage alone {scan_rate:,.1f} files/s; triage after the scan adds "
        f"{triage - stages['scan (hash+match)']:.1f} s "
        f"({100 * (triage / stages['scan (hash+match)'] - 1):.1f}% of the scan)"
    )
    print(
        f"peak RSS: this process {memory.own / 2**20:,.0f} MiB, largest worker "
        f"{memory.worker / 2**20:,.0f} MiB, all together {memory.together / 2**20:,.0f} MiB"
    )
    print(
        f"files_per_s={paths / triage:.1f} total_s={total:.1f} "
        f"peak_rss_mib={memory.together / 2**20:.0f}"
    )


if __name__ == "__main__":
    main()
