"""Scanning evidence end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import zipfile
from pathlib import Path

from PIL import Image
from scan_samples import add_hash_set, bomb_png, md5, noise_image, pdq
from sqlalchemy import func, select

from kaitiaki.scan.export import export, result_rows
from kaitiaki.scan.runner import run_scan
from kaitiaki.scan.summary import summarise
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, FileInstance


def _evidence_tree(root: Path, photos: dict[str, bytes]) -> dict[str, bytes]:
    """A small seized-device-like tree; returns the bytes of every regular file by path."""
    files: dict[str, bytes] = {
        "DCIM/astronaut.jpg": photos["astronaut"],
        "DCIM/coffee-copy.jpg": photos["coffee"],
        "Downloads/unrelated-1.jpg": noise_image(1),
        "Downloads/unrelated-2.jpg": noise_image(2),
        "empty.bin": b"",
        "notes.txt": b"shopping list\n",
        "broken.jpg": photos["chelsea"][: len(photos["chelsea"]) // 3],
        "text-named.jpg": b"not an image at all",
    }
    rotated = Image.open(io.BytesIO(photos["rocket"])).transpose(Image.Transpose.ROTATE_90)
    buffer = io.BytesIO()
    rotated.save(buffer, "JPEG", quality=85)
    files["DCIM/rocket-rotated.jpg"] = buffer.getvalue()
    for name, payload in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(payload)
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tar:
        info = tarfile.TarInfo("deep/coffee.jpg")
        info.size = len(photos["coffee"])
        tar.addfile(info, io.BytesIO(photos["coffee"]))
    with zipfile.ZipFile(root / "Downloads" / "bundle.zip", "w") as archive:
        archive.writestr("inner.tar.gz", inner.getvalue())
        archive.writestr("readme.txt", "hello")
    return files


def test_scan_classifies_records_and_summarises(
    store: Store, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    root = tmp_path / "device"
    files = _evidence_tree(root, photos)
    add_hash_set(
        store,
        "vics",
        [
            # Exact MD5 (uppercase as in distributions is normalised by importers; stored lower).
            {
                "md5": md5(photos["astronaut"]),
                "category": "1",
                "series": "S-1",
                "victim_identified": True,
                "media_id": "m-astronaut",
            },
            # Perceptual only: the coffee photo and the rocket photo (rotated on the device).
            {
                "md5": "0" * 32,
                "pdq": pdq(photos["coffee"]),
                "category": "2",
                "media_id": "m-coffee",
            },
            {
                "md5": "1" * 32,
                "pdq": pdq(photos["rocket"]),
                "category": "1",
                "media_id": "m-rocket",
            },
            # Non-pertinent (category 0) makes the first unrelated image ignorable.
            {"md5": md5(noise_image(1)), "category": "0", "media_id": "m-ignorable"},
        ],
    )
    before = {
        p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in root.rglob("*")
        if p.is_file()
    }

    result = run_scan(store, [root], "device-1", ["vics"], workers=2, actor="test:setup")

    after = {
        p: (p.stat().st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        for p in root.rglob("*")
        if p.is_file()
    }
    assert before == after, "evidence must never be modified"
    rows = {
        Path(r["path"]).relative_to(root).as_posix()
        if "!/" not in r["path"]
        else r["path"].split(str(root) + "/")[1]: r
        for r in result_rows(store, "device-1")
    }

    assert rows["DCIM/astronaut.jpg"]["classification"] == "known"
    assert rows["DCIM/astronaut.jpg"]["signal"] == "md5"
    assert rows["DCIM/astronaut.jpg"]["series"] == "S-1"
    assert rows["DCIM/coffee-copy.jpg"]["classification"] == "known"
    assert rows["DCIM/coffee-copy.jpg"]["signal"] == "pdq"
    assert rows["DCIM/rocket-rotated.jpg"]["classification"] == "known", "dihedral query"
    assert rows["Downloads/unrelated-1.jpg"]["classification"] == "ignorable"
    assert rows["Downloads/unrelated-2.jpg"]["classification"] == "new"
    assert rows["broken.jpg"]["classification"] == "error"
    assert "pdq" in rows["broken.jpg"]["error"]
    assert rows["broken.jpg"]["md5"] == md5(files["broken.jpg"]), "a corrupt file is still hashed"
    assert rows["empty.bin"]["type"] == "empty"
    assert rows["empty.bin"]["classification"] == "error"
    assert "zero-byte" in rows["empty.bin"]["error"]
    assert rows["text-named.jpg"]["type"] == "other"
    member = "Downloads/bundle.zip!/inner.tar.gz!/deep/coffee.jpg"
    assert rows[member]["classification"] == "known"
    assert rows[member]["sha256"] == hashlib.sha256(photos["coffee"]).hexdigest()

    for name, payload in files.items():
        assert rows[name]["sha256"] == hashlib.sha256(payload).hexdigest()
        assert rows[name]["size"] == len(payload)

    summary = summarise(store, "device-1")
    assert summary.instances == len(rows) == result.records_written
    assert summary.by_label["known"] == 4
    assert summary.by_label["ignorable"] == 1
    assert summary.by_label["error"] == 2  # the truncated JPEG and the zero-byte file
    assert summary.known_by_category[("vics", "1")] == 2
    assert summary.manifest_sha256 == result.manifest_sha256 is not None

    out = tmp_path / "out.jsonl"
    assert export(store, "device-1", "jsonl", out) == len(rows)
    first = json.loads(out.read_text().splitlines()[0])
    for column in (
        "path",
        "sha256",
        "md5",
        "classification",
        "category",
        "hash_set",
        "distance",
        "error",
    ):
        assert column in first


def test_rescan_records_every_file_exactly_once(
    store: Store, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    root = tmp_path / "device"
    _evidence_tree(root, photos)
    first = run_scan(store, [root], "device-1", workers=1, actor="test:setup")
    # A finished item is scanned again only when asked for (``test_scan_evidence``).
    second = run_scan(store, [root], "device-1", workers=2, add_to_existing=True, actor="tester")
    assert second.sources_skipped == first.sources_total
    assert second.records_written == 0
    assert second.manifest_sha256 == first.manifest_sha256
    with store.session() as session:
        count = session.scalar(select(func.count()).select_from(FileInstance))
        distinct = session.scalar(select(func.count(func.distinct(FileInstance.path))))
        evidence = session.scalar(select(func.count()).select_from(Evidence))
    assert count == distinct == first.records_written
    assert evidence == 1


def test_non_utf8_names_and_unreadable_entries_are_recorded(
    sqlite_store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "device"
    root.mkdir()
    (root / os.fsdecode(b"caf\xe9.jpg")).write_bytes(noise_image(5))
    (root / "loop").symlink_to(root / "loop")
    os.mkfifo(root / "pipe")
    run_scan(sqlite_store, [root], "odd", workers=1, actor="test:setup")
    rows = {r["path"].rsplit("/", 1)[1]: r for r in result_rows(sqlite_store, "odd")}
    assert rows["caf\\xe9.jpg"]["classification"] == "new"
    assert "not valid UTF-8" in rows["caf\\xe9.jpg"]["notes"]
    assert rows["loop"]["error"] == "symlink loop"
    assert "not a regular file" in rows["pipe"]["error"]
    assert rows["pipe"]["classification"] == rows["loop"]["classification"] == "error"


def test_decompression_bomb_image_is_an_error_not_a_crash(
    sqlite_store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "device"
    root.mkdir()
    (root / "bomb.png").write_bytes(bomb_png(30000, 30000))
    (root / "fine.jpg").write_bytes(noise_image(3))
    run_scan(sqlite_store, [root], "bombs", workers=1, actor="test:setup")
    rows = {Path(r["path"]).name: r for r in result_rows(sqlite_store, "bombs")}
    assert rows["bomb.png"]["classification"] == "error"
    assert "pixel" in rows["bomb.png"]["error"] or "bomb" in rows["bomb.png"]["error"]
    assert rows["fine.jpg"]["classification"] == "new"


def test_vics_export_reads_back_identically(
    store: Store, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    from kaitiaki.hashsets import import_hash_set, iter_entries
    from kaitiaki.scan.vics_export import result_entries

    root = tmp_path / "device"
    _evidence_tree(root, photos)
    add_hash_set(
        store,
        "vics",
        [
            {
                "md5": md5(photos["astronaut"]),
                "category": "1",
                "series": "S-1",
                "victim_identified": True,
                "media_id": "m-astronaut",
            },
            {"md5": md5(noise_image(1)), "category": "0"},
        ],
    )
    run_scan(store, [root], "device-1", ["vics"], workers=1, actor="test:setup")
    out = tmp_path / "results.json"
    written = export(store, "device-1", "vics", out)
    assert written > 0
    assert '"@odata.context"' in out.read_text() and "/US/" in out.read_text()

    import_hash_set(store, out, "roundtrip", "vics", actor="cli:tester")
    exported = list(result_entries(store, 1))
    assert list(iter_entries(store, "roundtrip")) == exported
    by_md5 = {e.md5: e for e in exported}
    assert by_md5[md5(photos["astronaut"])].category == "1"
    assert by_md5[md5(photos["astronaut"])].series == "S-1"
    assert by_md5[md5(noise_image(1))].category == "0"
