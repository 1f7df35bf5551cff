"""Disk images scanned in slices of their files write exactly what reading them whole writes.

"Whole" is the scan before slices: ``hash_path(image)`` in one worker, its records written with
``write_batch``. The sliced scan lists the image in the main process and reads its files in the
workers; its records, manifest and resume must not differ in anything but the work's shape.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scan_samples import fat_image_of, noise_image
from sqlalchemy import select

from disk_samples import (
    debugfs,
    ext4_image,
    fat_image,
    inode_of,
    needs,
    ntfs_image,
    partitioned_image,
)
from in_process import kaitiaki
from kaitiaki.content.archives import ArchiveLimits
from kaitiaki.scan import plan as plan_module
from kaitiaki.scan.hasher import hash_path
from kaitiaki.scan.manifest import manifest_sha256
from kaitiaki.scan.plan import ScanPlan, Task
from kaitiaki.scan.runner import ensure_evidence, pending_entries, run_scan
from kaitiaki.scan.units import ImageSlice, run_unit
from kaitiaki.scan.walk import WalkEntry, walk
from kaitiaki.scan.writer import write_batch
from kaitiaki.signals.record import FileRecord
from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance

_COLUMNS = (
    "source",
    "sha256",
    "size",
    "depth",
    "error",
    "notes",
    "deleted",
    "modified_at",
    "accessed_at",
    "changed_at",
    "created_on_fs_at",
)


def _photos(count: int, start: int = 0) -> dict[str, bytes]:
    return {f"DCIM/img{i:03d}.jpg": noise_image(i, size=48) for i in range(start, start + count)}


def _evidence_images(root: Path, work: Path) -> Path:
    """A folder of disk images covering every kind of record a disk image gives."""
    root.mkdir()
    work.mkdir()
    photos = _photos(9)
    # FAT: deleted files, two of them with the same name once FAT has marked them deleted.
    twins = {"DCIM/a1.jpg": noise_image(50), "DCIM/b1.jpg": noise_image(51)}
    fat_image(
        root / "card.dd",
        {**photos, **twins},
        deleted=("DCIM/img000.jpg", "DCIM/a1.jpg", "DCIM/b1.jpg"),
    )
    # MBR: FAT, ext4 and a partition with no file system (an error record of its own).
    fat = fat_image(work / "p1.fs", _photos(3, 20))
    ext = ext4_image(work / "p2.fs", _photos(3, 30), size="4M")
    blank = work / "blank.fs"
    blank.write_bytes(bytes(1 << 20))
    partitioned_image(root / "mbr.dd", "dos", [(fat, "c"), (ext, "83"), (blank, "83")])
    # ext4: a deleted file with no blocks left, a folder loop, a file larger than the image.
    ext4 = ext4_image(work / "ext.fs", _photos(4, 40), deleted=("DCIM/img040.jpg",))
    debugfs(ext4, "link /DCIM /DCIM/again")
    debugfs(ext4, f"sif <{inode_of(ext4, 'DCIM/img041.jpg')}> size 0x10000000000")
    (root / "ext.dd").write_bytes(ext4.read_bytes())
    # NTFS with a deleted file (found among the orphans).
    ntfs_image(root / "ntfs.dd", {"a.jpg": noise_image(60), "b.jpg": noise_image(61)}, ("b.jpg",))
    # An archive inside an image; a truncated image; an ordinary file beside the images.
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("inner/x.jpg", noise_image(70))
    fat_image(root / "zipped.dd", {"DL/bundle.zip": bundle.getvalue()})
    whole = fat_image(work / "half.fs", _photos(2, 80)).read_bytes()
    (root / "half.img").write_bytes(whole[:4096])
    (root / "photo.jpg").write_bytes(noise_image(90))
    return root


def _e01(root: Path, work: Path) -> None:
    """An E01 set of a FAT image (two segments), beside the other images."""
    needs("ewfacquire")
    raw = fat_image(work / "e01.fs", _photos(6, 100), deleted=("DCIM/img100.jpg",))
    done = subprocess.run(
        ["ewfacquire", "-u", "-t", str(root / "seized"), "-c", "none", "-S", "1MiB", str(raw)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _whole(store: Store, roots: list[Path], evidence: str) -> int:
    """What the scan wrote before slices: each top-level file read whole, in one batch."""
    evidence_id = ensure_evidence(store, evidence, "", "", actor="test:setup")
    for entry in walk(roots):
        records = list(hash_path(entry.path, limits=ArchiveLimits()))
        with store.session() as session:
            write_batch(session, evidence_id, records, [[] for _ in records])
    return evidence_id


def _rows(store: Store, evidence_id: int) -> dict[str, tuple[Any, ...]]:
    with store.session() as session:
        rows = session.scalars(
            select(FileInstance).where(FileInstance.evidence_id == evidence_id)
        ).all()
        return {row.path: tuple(getattr(row, c) for c in _COLUMNS) for row in rows}


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("slices")
    root = _evidence_images(base / "exhibits", base / "work")
    _e01(root, base / "work")
    return root


def test_sliced_scan_writes_what_reading_whole_writes(
    store: Store, images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plan_module, "SLICE_FILES", 2)  # many slices, even for small images
    monkeypatch.setattr(plan_module, "LOOKUP_BLOCK", 3)
    whole_id = _whole(store, [images], "whole")
    calls: list[tuple[int, int]] = []

    sliced = run_scan(
        store,
        [images],
        "sliced",
        workers=2,
        on_progress=lambda *c: calls.append(c),
        actor="test:setup",
    )

    expected = _rows(store, whole_id)
    got = _rows(store, sliced.evidence_id)
    assert got == expected
    assert sliced.manifest_sha256 == manifest_sha256(store, whole_id)
    # The records cover what each kind of image gives, so the comparison means something.
    paths = "\n".join(got)
    for part in ("card.dd!/DCIM/_1.jpg", "mbr.dd!/p3/", "ext.dd!/DCIM/again/", "$OrphanFiles"):
        assert part in paths
    assert any(p.endswith("seized.E01!/DCIM/_mg100.jpg") for p in got)
    assert any(p.endswith("zipped.dd!/DL/bundle.zip!/inner/x.jpg") for p in got)
    assert sum(1 for row in got.values() if row[3] == 0) == sliced.sources_total
    # Progress counts the files inside the images, and ends at the total.
    assert calls[-1][0] == calls[-1][1] > sliced.sources_total
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_progress_knows_the_image_total_before_the_first_file(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "files"
    for name, payload in _photos(40).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(payload)
    image = fat_image_of(folder, tmp_path / "card.dd", kib=2048)
    monkeypatch.setattr(plan_module, "SLICE_FILES", 4)
    calls: list[tuple[int, int]] = []

    run_scan(
        sqlite_store,
        [image],
        "card",
        workers=2,
        on_progress=lambda *c: calls.append(c),
        actor="test:setup",
    )

    assert {total for _, total in calls} == {1 + 40}  # the image and its files
    assert len({done for done, _ in calls}) > 2, "the bar moves while the image is read"


def test_files_of_one_name_stay_in_one_slice(
    sqlite_store: Store, images: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two deleted FAT files both shown as ``_1.jpg``: read whole, the first listed is the one
    kept (the store keeps one record a path); in one slice, the same one is kept."""
    monkeypatch.setattr(plan_module, "SLICE_FILES", 1)
    evidence_id = ensure_evidence(sqlite_store, "twins", "", "", actor="test:setup")
    plan = ScanPlan(sqlite_store, evidence_id, ArchiveLimits(), total=1)
    slices = [
        [entry.member.name for entry in step.unit.entries]
        for step in plan.steps(iter([WalkEntry(images / "card.dd")]))
        if isinstance(step, Task) and isinstance(step.unit, ImageSlice)
    ]
    assert ["DCIM/_1.jpg", "DCIM/_1.jpg"] in slices
    assert all(len(names) == 1 for names in slices if names[0] != "DCIM/_1.jpg")


@pytest.fixture
def three_images(
    sqlite_store: Store, images: Path
) -> tuple[list[Path], dict[str, tuple[Any, ...]], dict[str, FileRecord]]:
    """The three images the property below slices, read whole once for all its examples (they
    share the store): the records reading them whole writes, and each path's first record as
    reading whole gives it (what an interrupted scan had recorded). Reading them again in each
    example gave the same records and took most of the test's time."""
    roots = [images / "card.dd", images / "mbr.dd", images / "ext.dd"]
    whole = _rows(sqlite_store, _whole(sqlite_store, roots, "whole"))
    first = {r.path: r for root in roots for r in reversed(list(hash_path(root)))}
    return roots, whole, first


@given(
    slice_files=st.integers(1, 4),
    lookup=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    recorded=st.sets(st.integers(0, 40), max_size=12),
)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
def test_any_completion_order_and_any_earlier_progress_give_the_whole_records(
    sqlite_store: Store,
    three_images: tuple[list[Path], dict[str, tuple[Any, ...]], dict[str, FileRecord]],
    slice_files: int,
    lookup: int,
    seed: int,
    recorded: set[int],
) -> None:
    """Slices finish in any order, after any part of the image was recorded by an interrupted
    scan: the records are those of the whole image, and the image's own record comes last."""
    roots, whole, first = three_images
    evidence_id = ensure_evidence(
        sqlite_store, f"sliced-{next(_examples)}", "", "", actor="test:setup"
    )
    # An interrupted scan recorded some of the images' files (each with what it holds).
    inner = sorted(path for path in whole if "!/" in path)
    _write(sqlite_store, evidence_id, [first[inner[i]] for i in recorded if i < len(inner)])

    rng = random.Random(seed)
    written: list[str] = []
    plan_module.SLICE_FILES, plan_module.LOOKUP_BLOCK = slice_files, lookup
    try:
        plan = ScanPlan(sqlite_store, evidence_id, ArchiveLimits(), total=len(roots))
        running: list[tuple[Task, list[list[FileRecord]]]] = []

        def finish_one() -> None:
            task, groups = running.pop(rng.randrange(len(running)))
            written.extend(_write_groups(sqlite_store, evidence_id, plan.finished(task, groups)))

        for step in plan.steps(pending_entries(sqlite_store, evidence_id, walk(roots))):
            if isinstance(step, Task):
                running.append((step, run_unit(step.unit, ArchiveLimits())))
                while running and rng.random() < 0.5:
                    finish_one()
            else:
                written.extend(_write_groups(sqlite_store, evidence_id, step))
        while running:
            finish_one()
    finally:
        plan_module.SLICE_FILES, plan_module.LOOKUP_BLOCK = 16, 500

    assert _rows(sqlite_store, evidence_id) == whole
    assert plan.done == plan.total
    for root in map(str, roots):
        own = written.index(root)
        assert all(root + "!/" not in path for path in written[own:]), "image record last"


_examples = itertools.count()


def _write(store: Store, evidence_id: int, records: list[FileRecord]) -> list[str]:
    with store.session() as session:
        write_batch(session, evidence_id, records, [[] for _ in records])
    return [r.path for r in records]


def _write_groups(store: Store, evidence_id: int, groups: list[list[FileRecord]]) -> list[str]:
    return _write(store, evidence_id, [r for group in groups for r in group])


# --- kill -9 inside an image, then resume -------------------------------------------------

FILES = 1500


def _count(db: Path, where: str = "1") -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            query = f"SELECT count(*) FROM file_instances WHERE {where}"
            return int(conn.execute(query).fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


def _scan(db: Path, image: Path, evidence: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "kaitiaki", "scan", str(image)),
            *("--evidence", evidence, "--workers", "2", "--db", f"sqlite:///{db}"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env={**os.environ, "COLUMNS": "200"},
    )


def _in_process_scan(db: Path, image: Path, evidence: str) -> str:
    args = ("scan", str(image), "--evidence", evidence, "--workers", "2")
    done = kaitiaki(*args, "--db", f"sqlite:///{db}")
    assert done.exit_code == 0, done.output
    return done.stdout


def test_kill_9_inside_an_image_then_resume(tmp_path: Path) -> None:
    folder = tmp_path / "files"
    for i in range(FILES):
        target = folder / f"d{i % 7}" / f"img{i:04d}.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(noise_image(i, size=160))
    image = fat_image_of(folder, tmp_path / "seized.dd", kib=32768)
    expected = FILES + 1
    db = tmp_path / "kaitiaki.db"

    victim = _scan(db, image, "device")
    deadline = time.monotonic() + 180
    while _count(db) == 0 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "scan finished before it could be killed; make it bigger"
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait()
    before_kill = _count(db)
    assert 0 < before_kill < expected
    # Files inside the image were recorded, the image itself not yet: it is written last.
    assert _count(db, f"path = '{image}'") == 0  # tmp_path: no quotes in it

    # Resumed and fresh scans in-process: a process start costs seconds, and what is tested
    # is what the killed process left.
    output = _in_process_scan(db, image, "device")
    written = re.search(r"([\d,]+) records written", output)
    assert written is not None, output
    assert int(written.group(1).replace(",", "")) == expected - before_kill, "resumed inside"

    with sqlite3.connect(db) as conn:
        total, distinct, own = conn.execute(
            "SELECT count(*), count(DISTINCT path), sum(path = ?) FROM file_instances",
            (str(image),),
        ).fetchone()
    assert total == distinct == expected and own == 1

    fresh_db = tmp_path / "fresh.db"
    _in_process_scan(fresh_db, image, "device")
    with sqlite3.connect(db) as a, sqlite3.connect(fresh_db) as b:
        query = (
            "SELECT path, sha256, size, deleted, modified_at, error FROM file_instances "
            "ORDER BY path"
        )
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        manifest = "SELECT manifest_sha256 FROM evidence"
        assert a.execute(manifest).fetchall() == b.execute(manifest).fetchall()
