"""`kaitiaki scan` on the containers examiners receive: virtual disks written by QEMU, an ISO 9660
image libarchive publishes, and a UDF image recorded as not read, with its reason."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from disk_samples import fat_image, needs
from kaitiaki.store import Store
from kaitiaki.store.models import FileInstance
from nothing_skips import external, require

KAITIAKI = [sys.executable, "-m", "kaitiaki"]


def _sha(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _qemu(raw: Path, target: Path, fmt: str, *options: str) -> Path:
    command = ["qemu-img", "convert", "-f", "raw", "-O", fmt, *options, str(raw), str(target)]
    subprocess.run(command, check=True, capture_output=True)
    return target


def _rockridge_iso(tmp_path: Path) -> Path:
    """libarchive's Rock Ridge test image (test_read_format_isorr_bz2.c states its files)."""
    compressed = external(
        "libarchive", "libarchive/test/test_read_format_iso_rockridge.iso.Z.uu", decoded=True
    )
    gzip = shutil.which("gzip")
    require(gzip is not None, "gzip (which reads compress(1) files) not installed")
    iso = tmp_path / "disc.iso"
    with iso.open("wb") as out:
        subprocess.run([str(gzip), "-dc", str(compressed)], stdout=out, check=True)
    return iso


def test_scan_reads_virtual_disks_and_iso_and_records_udf_as_not_read(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    needs("qemu-img", "mkudffs")
    files = {"DOCS/readme.txt": b"kaitiaki container scan\n" * 50, "top.bin": bytes(range(256))}
    made = tmp_path / "made"
    made.mkdir()
    fat = fat_image(made / "card.fs", files)
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    qcow = _qemu(fat, evidence / "laptop.qcow2", "qcow2", "-c")
    vmdk = _qemu(fat, evidence / "server.vmdk", "vmdk", "-o", "subformat=streamOptimized")
    vhdx = _qemu(fat, evidence / "hyperv.vhdx", "vhdx")
    iso = _rockridge_iso(evidence)
    udf = evidence / "disc.udf"
    with udf.open("wb") as out:
        out.truncate(4 * 1024 * 1024)
    subprocess.run(["mkudffs", str(udf)], check=True, capture_output=True)

    done = subprocess.run(
        [*KAITIAKI, "scan", str(evidence), "-e", "seized", "--workers", "2", "--db", store_url],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr

    with store.session() as session:
        rows = {row.path: row for row in session.scalars(select(FileInstance)).all()}
        session.expunge_all()
    for disk in (qcow, vmdk, vhdx):
        top = rows[str(disk)]
        assert top.sha256 == _sha(disk.read_bytes()) and top.error is None
        for name, payload in files.items():
            row = rows[f"{disk}!/{name}"]
            assert row.sha256 == _sha(payload) and row.size == len(payload), name
            assert row.source == str(disk) and not row.deleted
    hello = _sha(b"hello\n" + bytes(12345678))  # stated: "hello\n" and 12,345,678 zero bytes
    assert rows[f"{iso}!/FILE"].sha256 == hello and rows[f"{iso}!/HARDLINK"].sha256 == hello
    assert rows[str(udf)].sha256 == _sha(udf.read_bytes())
    unread = rows[f"{udf}!/"]
    assert unread.error is not None and "UDF file system: not read" in unread.error
