"""The triage report from a scanned benign device: counts, series, EXIF, timeline, renderers."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import update
from triage_samples import (
    AUCKLAND,
    CAMERA,
    EVIDENCE,
    LONDON,
    SERIES_IDENTIFIED,
    SERIES_UNIDENTIFIED,
    scan_device,
)

from kaitiaki.scan.summary import IDENTIFIED, NOT_IDENTIFIED, summarise
from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance
from kaitiaki.triage.groups import build_groups
from kaitiaki.triage.render_html import render_html
from kaitiaki.triage.render_pdf import render_pdf
from kaitiaki.triage.report import build_report
from kaitiaki.triage.series_vics import sync_series_from_hash_sets


def test_report_counts_series_exif_and_indicators(store: Store, tmp_path: Path) -> None:
    device, result = scan_device(store, tmp_path)
    build_groups(store, result.evidence_id, actor="tester")
    report = build_report(store, EVIDENCE, generated_by="Examiner E")

    # Chain of custody: the evidence as recorded, the scan, the set with its file's digest.
    custody = report.custody
    assert custody.acquired_by == "DC Example"
    assert custody.manifest_sha256 == result.manifest_sha256
    assert [s.hash_sets for s in custody.scans] == [["vid-set"]]
    (used,) = custody.hash_sets
    assert used.source_sha256 == hashlib.sha256((tmp_path / "set.json").read_bytes()).hexdigest()

    # Counts under the set's profile (Project VIC US): astronaut twice + IMG_0005 are 1, coffee 2.
    by_code = {c.code: c for c in report.categories}
    assert (by_code["1"].files, by_code["1"].instances) == (2, 3)
    assert (by_code["2"].files, by_code["2"].instances) == (1, 1)
    assert report.overview.instances == len(device.files)
    assert report.duplicates.files == 1 and report.duplicates.extra_instances == 1
    assert report.duplicates.top[0].sha256 == device.sha256("Downloads/astronaut.jpg")

    # Series met: the unidentified one first, with the hash set's word for its status.
    assert [(s.name, s.victim_status, s.status_source) for s in report.series] == [
        (SERIES_UNIDENTIFIED, NOT_IDENTIFIED, "hash set"),
        (SERIES_IDENTIFIED, IDENTIFIED, "hash set"),
    ]
    assert (report.series[0].files, report.series[0].instances) == (2, 3)

    # New material with no series, one row per group, EXIF/GPS clues first.
    assert report.victim_id_with_series == 0
    first = report.victim_id[0]
    assert first.series == [] and first.gps and first.intact_exif
    bike_group = next(r for r in report.victim_id if r.group_size == 5)
    assert bike_group.camera == ""

    # Cameras, GPS and capture times from EXIF written with Pillow.
    (cam,) = report.cameras
    assert (cam.camera.make, cam.camera.model, cam.camera.serial) == CAMERA
    assert (cam.files, cam.originals, cam.new_files, cam.known_files) == (12, 12, 11, 1)
    assert cam.first_capture == datetime(2021, 3, 4, 10, 0)
    assert cam.last_capture == datetime(2021, 3, 15, 10, 0)
    positions = sorted((p.latitude, p.longitude) for p in report.gps)
    expected = sorted([AUCKLAND, LONDON])
    assert positions == [pytest.approx(e, abs=1e-4) for e in expected]
    captured = next(s for s in report.timeline.spans if s.what == "captured")
    assert captured.count == 12

    # Production indicators, each with its rule in words.
    found = {i.name: i for i in report.indicators}
    assert found["many originals from one camera"].triggered
    assert found["intact camera EXIF on new material"].count == 11
    assert found["intact camera EXIF on known material"].examples == [
        device.sha256("DCIM/100CANON/IMG_0005.JPG")
    ]
    assert found["GPS positions on new material"].count == 2
    assert all(len(i.rule) > 40 for i in report.indicators)

    # A specialist's Series record takes over the status once synced.
    sync_series_from_hash_sets(store, by="tester")
    again = build_report(store, EVIDENCE)
    assert {s.status_source for s in again.series} == {"series record"}


def test_summary_lists_series_and_new_material_without_series(store: Store, tmp_path: Path) -> None:
    scan_device(store, tmp_path)
    summary = summarise(store, EVIDENCE)
    assert [(s.name, s.victim_status) for s in summary.series] == [
        (SERIES_UNIDENTIFIED, NOT_IDENTIFIED),
        (SERIES_IDENTIFIED, IDENTIFIED),
    ]
    # 11 camera originals, 5 bike images, rocket and coins.
    assert summary.new_without_series == {"image": 18}


def test_timeline_counts_file_system_times_and_deleted_paths(
    sqlite_store: Store, tmp_path: Path
) -> None:
    device, result = scan_device(sqlite_store, tmp_path)
    with sqlite_store.session() as session:
        session.execute(
            update(FileInstance)
            .where(FileInstance.evidence_id == result.evidence_id)
            .values(
                modified_at=datetime(2019, 6, 1, 12, tzinfo=UTC),
                created_on_fs_at=datetime(2019, 5, 1, tzinfo=UTC),
            )
        )
        session.execute(
            update(FileInstance)
            .where(FileInstance.path.like("%Pictures%"))
            .values(deleted=True, modified_at=datetime(2020, 1, 2, tzinfo=UTC))
        )
    report = build_report(sqlite_store, EVIDENCE)
    spans = {s.what: s for s in report.timeline.spans}
    assert spans["modified"].count == len(device.files)
    assert spans["deleted"].count == 5
    assert spans["deleted"].latest == datetime(2020, 1, 2)
    assert report.timeline.granularity == "month"
    rows = {r.period: r for r in report.timeline.rows}
    assert rows["2019-05"].created == len(device.files)
    assert rows["2020-01"].deleted == 5
    assert rows["2021-03"].captured == 12
    assert report.overview.deleted_instances == 5
    assert sum(f.deleted for f in report.folders) == 5


def test_renderers_carry_no_images_and_escape_evidence_text(
    sqlite_store: Store, tmp_path: Path
) -> None:
    device, result = scan_device(sqlite_store, tmp_path)
    # A folder named like markup: the report must show it as text, never as an element.
    hostile = device.root / "Downloads" / "<img src=x onerror=alert(1)>"
    hostile.mkdir()
    (hostile / "a.txt").write_text("x")
    from kaitiaki.scan.runner import run_scan

    run_scan(sqlite_store, [device.root], EVIDENCE, workers=1, add_to_existing=True, actor="tester")
    build_groups(sqlite_store, result.evidence_id, actor="tester")
    report = build_report(sqlite_store, EVIDENCE, generated_by="Examiner E")

    html = render_html(report)
    assert "<img" not in html.lower() and "data:image" not in html.lower()
    assert not re.search(r"base64", html, re.IGNORECASE)
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert report.custody.manifest_sha256 and report.custody.manifest_sha256 in html
    assert SERIES_UNIDENTIFIED in html and "For victim identification" in html
    assert "this report contains no images" in html

    pdf_path = tmp_path / "report.pdf"
    render_pdf(report, pdf_path)
    data = pdf_path.read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages >= 2
    assert b"/Subtype /Image" not in data and b"/XObject" not in data
    # Uncompressed text: the manifest digest and the series name are in the page content.
    assert report.custody.manifest_sha256.encode() in data
    assert SERIES_UNIDENTIFIED.encode() in data


def _ewfacquire(raw: Path, target: Path) -> str:
    """An E01 of ``raw`` by libewf's ewfacquire; the MD5 ewfacquire states it computed."""
    import subprocess

    from disk_samples import needs

    needs("ewfacquire")
    done = subprocess.run(
        ["ewfacquire", "-u", "-t", str(target), "-d", "sha1", "-c", "none", str(raw)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"MD5 hash calculated over data:\s+([0-9a-f]{32})", done.stdout)
    assert found is not None, done.stdout
    return found.group(1)


def test_chain_of_custody_shows_each_images_verification(store: Store, tmp_path: Path) -> None:
    from kaitiaki.scan.runner import run_scan

    scan_device(store, tmp_path)
    report = build_report(store, EVIDENCE, generated_by="Examiner E")
    assert report.custody.acquisition == []
    assert "No acquisition hash was checked" in render_html(report)

    images = tmp_path / "images"
    images.mkdir()
    whole = tmp_path / "whole.raw"
    whole.write_bytes(bytes(range(256)) * 64)  # 16 KiB: 32 whole sectors
    whole_md5 = _ewfacquire(whole, images / "whole")
    odd = tmp_path / "odd.raw"
    odd.write_bytes(bytes(range(256)) * 16 + b"!")  # 4,097 bytes: libewf reads 4,096
    odd_md5 = _ewfacquire(odd, images / "odd")
    run_scan(store, [images], EVIDENCE, workers=1, add_to_existing=True, actor="cli:examiner")

    report = build_report(store, EVIDENCE, generated_by="Examiner E")
    status = {Path(a.source).name: a.status for a in report.custody.acquisition}
    assert status == {"whole.E01": "verified", "odd.E01": "mismatch"}
    read_md5 = hashlib.md5(odd.read_bytes()[:4096]).hexdigest()
    html = render_html(report)
    assert f"ACQUISITION HASH MISMATCH: {images / 'odd.E01'}" in html
    assert f"md5 expected {whole_md5}, read {whole_md5}" in html
    assert f"md5 expected {odd_md5}, read {read_md5}" in html
    assert "the chunks hold 4,097 bytes" in html
    pdf_path = tmp_path / "report.pdf"
    render_pdf(report, pdf_path)
    data = pdf_path.read_bytes()
    assert b"ACQUISITION HASH MISMATCH" in data and odd_md5.encode() in data
