"""`kaitiaki scan IMAGE.dd` as a user runs it: disk images scanned like folders, on both engines."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from scan_samples import add_hash_set, md5, pdq
from sqlalchemy import select

from disk_samples import MTIME, ext4_image, fat_image, partitioned_image
from kaitiaki.content.disk import NOT_RECOVERABLE
from kaitiaki.store import Store
from kaitiaki.store.models import Classification, Evidence, FileInstance

WHEN = datetime.fromtimestamp(MTIME, UTC)
KAITIAKI = [sys.executable, "-m", "kaitiaki"]


def _scan(
    db: str, *paths: Path, evidence: str = "seized", extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KAITIAKI, "scan", *map(str, paths), "-e", evidence, "--workers", "2", "--db", db, *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _instances(store: Store) -> dict[str, FileInstance]:
    with store.session() as session:
        rows = session.scalars(select(FileInstance)).all()
        session.expunge_all()
    return {row.path: row for row in rows}


def _utc(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were stored as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def test_scan_disk_image_records_deleted_files_times_and_matches(
    store: Store, store_url: str, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    files = {"DCIM/astro.jpg": photos["astronaut"], "DCIM/coffee.jpg": photos["coffee"]}
    fat = fat_image(tmp_path / "card.fs", files, deleted=("DCIM/coffee.jpg",))
    ext = ext4_image(tmp_path / "home.fs", {"me/rocket.jpg": photos["rocket"]}, size="4M")
    ext4_deleted = ext4_image(tmp_path / "gone.fs", files, deleted=("DCIM/coffee.jpg",))
    disk = partitioned_image(tmp_path / "seized.dd", "dos", [(fat, "c"), (ext, "83")])
    add_hash_set(
        store,
        "vics",
        [{"md5": "0" * 32, "pdq": pdq(photos["coffee"]), "category": "1", "media_id": "m-1"}],
    )
    image_sha = _sha(disk.read_bytes())

    done = _scan(store_url, disk, ext4_deleted)
    assert done.returncode == 0, done.stdout + done.stderr

    rows = _instances(store)
    top = rows[str(disk)]
    assert top.sha256 == image_sha and top.depth == 0 and not top.deleted
    assert _sha(disk.read_bytes()) == image_sha  # opened read-only, never written
    astro = rows[f"{disk}!/p1/DCIM/astro.jpg"]
    assert astro.sha256 == _sha(photos["astronaut"]) and astro.source == str(disk)
    assert astro.size == len(photos["astronaut"]) and not astro.deleted
    assert _utc(astro.modified_at) == WHEN and astro.changed_at is None
    deleted = rows[f"{disk}!/p1/DCIM/_offee.jpg"]
    assert deleted.deleted and deleted.sha256 == _sha(photos["coffee"])
    assert _utc(deleted.modified_at) == WHEN and deleted.depth == 1
    rocket = rows[f"{disk}!/p2/me/rocket.jpg"]
    assert rocket.sha256 == _sha(photos["rocket"])
    assert None not in (rocket.accessed_at, rocket.changed_at, rocket.created_on_fs_at)
    lost = rows[f"{ext4_deleted}!/DCIM/coffee.jpg"]
    assert lost.deleted and lost.sha256 is None and lost.error == NOT_RECOVERABLE
    assert lost.size == len(photos["coffee"])
    with store.session() as session:
        label = session.scalar(
            select(Classification.label).where(Classification.sha256 == deleted.sha256)
        )
        evidence = session.scalar(select(Evidence).where(Evidence.name == "seized"))
        assert evidence is not None
        manifest = evidence.manifest_sha256
    assert label == "known"  # the deleted photo matched by PDQ
    assert manifest and md5(photos["coffee"])  # a manifest over every instance

    # Scanning the same image into the item again (an explicit addition) adds nothing twice.
    again = _scan(store_url, disk, ext4_deleted, extra=("--add-to-existing",))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "resumed: 2 files were already recorded" in again.stdout
    assert _instances(store).keys() == rows.keys()
    with store.session() as session:
        evidence = session.scalar(select(Evidence).where(Evidence.name == "seized"))
        assert evidence is not None and evidence.manifest_sha256 == manifest


def test_scan_truncated_image_is_a_recorded_error(
    store: Store, store_url: str, tmp_path: Path, photos: dict[str, bytes]
) -> None:
    whole = fat_image(tmp_path / "card.fs", {"a.jpg": photos["astronaut"]}).read_bytes()
    folder = tmp_path / "exhibits"
    folder.mkdir()
    (folder / "half.img").write_bytes(whole[:4096])
    (folder / "photo.jpg").write_bytes(photos["chelsea"])

    done = _scan(store_url, folder)
    assert done.returncode == 0, done.stdout + done.stderr

    rows = _instances(store)
    image = rows[str(folder / "half.img")]
    assert image.sha256 == _sha(whole[:4096])
    failed = rows[f"{folder / 'half.img'}!/"]
    assert failed.sha256 is None and "root folder unreadable" in (failed.error or "")
    assert rows[str(folder / "photo.jpg")].sha256 == _sha(photos["chelsea"])


def test_scan_records_exfat_metadata_apart_from_the_users_files(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    from kaitiaki.scan.summary import summarise
    from nothing_skips import external

    image = tmp_path / "exfat.bin"  # dissect.fat's tests/data/exfat.bin, copied: scans record paths
    image.write_bytes(external("dissect-fat", "tests/data/exfat.bin").read_bytes())
    done = _scan(store_url, image)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _instances(store)
    inside = {path.split("!/", 1)[1]: row for path, row in rows.items() if "!/" in path}
    metadata = {name for name, row in inside.items() if row.fs_metadata}
    assert metadata == {"$ALLOC_BITMAP", "$UPCASE_TABLE", "THESIS (Volume Label Entry)"}
    upcase = inside["$UPCASE_TABLE"]
    assert upcase.sha256 and upcase.error is None  # hashed; never decoded as a picture
    with store.session() as session:
        labelled = set(session.scalars(select(Classification.sha256)))
    assert upcase.sha256 not in labelled and inside["cat.jpg"].sha256 in labelled
    summary = summarise(store, "seized")
    assert summary.fs_metadata == 3
    assert summary.instances == len(rows) - 3  # the image and its user files only
    from kaitiaki.triage.report import build_report
    from kaitiaki.triage.sections import counts_section

    report = build_report(store, "seized", "projectvic-us-2.0")
    assert report.overview.fs_metadata_instances == 3
    assert report.overview.instances == len(rows) - 3
    assert any("3 file-system metadata files" in n for n in counts_section(report).notes)
