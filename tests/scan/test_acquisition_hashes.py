"""Acquisition hashes: E01s written by libewf's own ewfacquire (Debian ewf-tools), checked
against the MD5/SHA-1 ewfacquire states on its output; examiner-given SHA-256s of files and
folders, checked against what sha256sum (GNU coreutils) gives for them.

E01 cases: verified (MD5 and SHA-1 stored, ``-d sha1``); a byte flipped in a chunk after
acquisition; no stored hash (the digest and hash sections unlinked from the section chain, as a
writer that never wrote them leaves it: ewfacquire itself always stores an MD5, in every format
it writes); a 4,097-byte source, which ewfacquire hashes whole but stores as 8 sectors of 512
(libewf reads 4,096); a damaged chunk that stops the read.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import struct
import subprocess
import zipfile
import zlib
from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from disk_samples import fat_image, needs
from kaitiaki.cli import scan as scan_cli
from kaitiaki.content.acquisition import MISMATCH, NO_STORED_HASH, VERIFIED, verify_ewf
from kaitiaki.scan.acquisition import ExpectedHashError, parse_expected
from kaitiaki.scan.runner import run_scan
from kaitiaki.store import Store
from kaitiaki.store.models import AcquisitionCheck, AuditEvent

HOSTILE = Path(__file__).resolve().parents[1] / "hostile" / "files"


def _acquire(raw: Path, target: Path, *extra: str) -> dict[str, str]:
    """ewfacquire ``raw`` into ``target``.E01; the digests ewfacquire states it computed."""
    needs("ewfacquire")
    done = subprocess.run(
        ["ewfacquire", "-u", "-t", str(target), "-d", "sha1", "-S", "1MiB", *extra, str(raw)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    stated = dict(re.findall(r"(MD5|SHA1) hash calculated over data:\s+([0-9a-f]+)", done.stdout))
    assert set(stated) == {"MD5", "SHA1"}, done.stdout
    return {"md5": stated["MD5"], "sha1": stated["SHA1"]}


def _sections(data: bytes | bytearray) -> list[tuple[int, bytes]]:
    """(offset, type) of each section of an EWF version 1 segment, following the chain."""
    out, offset = [], 13
    while True:
        kind = bytes(data[offset : offset + 16]).rstrip(b"\0")
        following = struct.unpack_from("<Q", data, offset + 16)[0]
        out.append((offset, kind))
        if kind in (b"done", b"next") or following <= offset:
            return out
        offset = following


def _unlink_hashes(segment: Path) -> None:
    """Drop the digest and hash sections from the chain (each descriptor's next offset and its
    Adler-32 rewritten), leaving what a writer that stores no hash writes."""
    data = bytearray(segment.read_bytes())
    kept = [s for s in _sections(data) if s[1] not in (b"digest", b"hash")]
    for (offset, _), (following, _) in itertools.pairwise(kept):
        struct.pack_into("<Q", data, offset + 16, following)
        struct.pack_into("<I", data, offset + 72, zlib.adler32(bytes(data[offset : offset + 72])))
    segment.write_bytes(bytes(data))


@pytest.fixture
def fat_raw(tmp_path: Path, photos: dict[str, bytes]) -> Path:
    files = {f"DCIM/{name}.jpg": body for name, body in photos.items()}
    return fat_image(tmp_path / "card.dd", files, kib=2048)


def test_e01_with_md5_and_sha1_is_verified(fat_raw: Path, tmp_path: Path) -> None:
    stated = _acquire(fat_raw, tmp_path / "card", "-c", "deflate:fast")
    raw = fat_raw.read_bytes()
    # ewfacquire's own statement, and an independent digest of the source, agree.
    assert stated == {"md5": hashlib.md5(raw).hexdigest(), "sha1": hashlib.sha1(raw).hexdigest()}
    seen: list[tuple[int, int]] = []
    check = verify_ewf(tmp_path / "card.E01", lambda done, total: seen.append((done, total)))
    assert check.status == VERIFIED, check
    assert check.expected == stated and check.computed == stated
    assert check.media_size == len(raw) and check.detail == ""
    assert seen[-1] == (len(raw), len(raw))


def test_a_byte_flipped_in_a_chunk_is_a_mismatch(fat_raw: Path, tmp_path: Path) -> None:
    stated = _acquire(fat_raw, tmp_path / "card", "-c", "none")
    segment = tmp_path / "card.E01"
    data = bytearray(segment.read_bytes())
    sectors = next(offset for offset, kind in _sections(data) if kind == b"sectors")
    data[sectors + 76 + 1000] ^= 0xFF  # inside the first chunk's (uncompressed) data
    segment.write_bytes(bytes(data))
    check = verify_ewf(segment)
    assert check.status == MISMATCH
    assert check.expected == stated
    assert check.computed is not None and check.computed["md5"] != stated["md5"]
    assert "differs from the media acquired" in check.detail


def test_an_e01_without_hash_sections_has_no_stored_hash(fat_raw: Path, tmp_path: Path) -> None:
    _acquire(fat_raw, tmp_path / "card", "-c", "deflate:fast")
    segment = tmp_path / "card.E01"
    _unlink_hashes(segment)
    info = subprocess.run(["ewfinfo", str(segment)], capture_output=True, text=True, check=False)
    assert info.returncode == 0 and "MD5" not in info.stdout, info.stdout  # libewf's own tool
    check = verify_ewf(segment)
    assert check.status == NO_STORED_HASH
    assert check.expected is None
    assert check.computed == {
        "md5": hashlib.md5(fat_raw.read_bytes()).hexdigest(),
        "sha1": hashlib.sha1(fat_raw.read_bytes()).hexdigest(),
    }
    assert "stores no MD5" in check.detail


def test_a_4097_byte_source_is_not_verified(tmp_path: Path) -> None:
    raw = tmp_path / "odd.raw"
    raw.write_bytes(bytes(range(256)) * 16 + b"!")
    stated = _acquire(raw, tmp_path / "odd", "-c", "none")
    # ewfacquire hashed all 4,097 bytes ...
    assert stated["md5"] == hashlib.md5(raw.read_bytes()).hexdigest()
    info = subprocess.run(["ewfinfo", str(tmp_path / "odd.E01")], capture_output=True, text=True)
    assert "(4096 bytes)" in info.stdout  # ... and libewf's ewfinfo gives 4,096
    check = verify_ewf(tmp_path / "odd.E01")
    assert check.status == MISMATCH and check.media_size == 4096
    assert check.computed is not None
    assert check.computed["md5"] == hashlib.md5(raw.read_bytes()[:4096]).hexdigest()
    assert "the chunks hold 4,097 bytes" in check.detail
    assert "declares 4,096 (8 sectors of 512 bytes)" in check.detail
    assert "cover all 4,097 bytes acquired" in check.detail


def test_a_damaged_chunk_that_stops_the_read_is_never_verified() -> None:
    check = verify_ewf(HOSTILE / "e01-damaged-chunk.E01")
    assert check.status != VERIFIED
    assert check.computed is None
    assert "read stopped at byte 0 of 2,097,152" in check.detail


def test_expected_values_name_a_root_or_stand_alone(tmp_path: Path) -> None:
    one, two = tmp_path / "a.zip", tmp_path / "b"
    digest = "AB" * 32
    assert parse_expected([digest], [one]) == {str(one): digest.lower()}
    assert parse_expected([f"{two}={digest}"], [one, two]) == {str(two): digest.lower()}
    with pytest.raises(ExpectedHashError, match="say which one"):
        parse_expected([digest], [one, two])
    with pytest.raises(ExpectedHashError, match="not a SHA-256"):
        parse_expected([f"{one}=abc"], [one, two])
    with pytest.raises(ExpectedHashError, match="not one of the paths scanned"):
        parse_expected([f"{tmp_path / 'c'}={digest}"], [one, two])


def test_scan_records_each_e01_check_and_audits_it(
    store: Store, fat_raw: Path, tmp_path: Path
) -> None:
    seized = tmp_path / "seized"
    seized.mkdir()
    stated = _acquire(fat_raw, seized / "card", "-c", "deflate:fast")
    odd = tmp_path / "odd.raw"
    odd.write_bytes(b"\x5a" * 4097)
    _acquire(odd, seized / "odd", "-c", "none")
    result = run_scan(store, [seized], "device", workers=1, actor="cli:examiner")
    assert {(c.source, c.check.status) for c in result.acquisition} == {
        (str(seized / "card.E01"), VERIFIED),
        (str(seized / "odd.E01"), MISMATCH),
    }
    with store.session() as session:
        rows = {r.source: r for r in session.scalars(select(AcquisitionCheck))}
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "evidence.acquisition_checked")
        ).all()
    card = rows[str(seized / "card.E01")]
    assert card.expected == stated and card.computed == stated
    assert card.checked_by == "cli:examiner" and card.method == "E01 stored hash"
    assert len(audited) == 2 and {a.actor for a in audited} == {"cli:examiner"}
    # The scan still read the image's files.
    assert result.records_written > 2
    # Run again (a resumed or repeated scan): the same checks are not recorded twice.
    run_scan(store, [seized], "device", workers=1, actor="cli:examiner", add_to_existing=True)
    with store.session() as session:
        assert len(session.scalars(select(AcquisitionCheck)).all()) == 2


def _folder(root: Path) -> Path:
    (root / "a").mkdir(parents=True)
    (root / "a" / "b.txt").write_bytes(b"inside a folder\n")
    (root / "a.txt").write_bytes(b"sorted after a/ by path? no: '.' < '/'\n")
    (root / "back\\slash.txt").write_bytes(b"a name sha256sum escapes\n")
    (root / "empty").write_bytes(b"")
    return root


def _sha256sum_listing(folder: Path) -> str:
    """The documented reproduction, run by the shell and GNU coreutils."""
    pipeline = (
        'cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum'
    )
    done = subprocess.run(
        ["sh", "-c", pipeline, "sh", str(folder)], capture_output=True, text=True, check=True
    )
    return done.stdout.split()[0]


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    scan_cli.register(app)
    return app


def test_cli_checks_expected_sha256_of_a_folder_and_an_archive(
    cli: typer.Typer, sqlite_store: Store, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "export")
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("x.txt", b"zipped")
    folder_digest = _sha256sum_listing(folder)
    wrong = "0" * 64
    result = CliRunner().invoke(
        cli,
        [
            "scan",
            str(folder),
            str(archive),
            "-e",
            "provider",
            "-w",
            "1",
            "--expected-sha256",
            f"{folder}={folder_digest}",
            "--expected-sha256",
            f"{archive}={wrong}",
            "--db",
            sqlite_store.url,
        ],
        env={"COLUMNS": "400"},
    )
    assert result.exit_code == 0, result.output
    real = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert f"acquisition hash verified: {folder} (SHA-256 of folder listing)" in result.output
    assert (
        f"MISMATCH: {archive} (SHA-256 of file): sha256 expected {wrong}, read {real}"
        in result.output
    )
    assert "WARNING: 1 acquisition hash mismatch(es)" in result.output
    with sqlite_store.session() as session:
        rows = {r.source: r for r in session.scalars(select(AcquisitionCheck))}
    assert rows[str(folder)].computed == {"sha256": folder_digest}
    assert rows[str(folder)].detail == "4 files listed"
    assert rows[str(archive)].status == MISMATCH


def test_cli_refuses_an_expected_sha256_that_names_no_path(
    cli: typer.Typer, sqlite_store: Store, tmp_path: Path
) -> None:
    folder = _folder(tmp_path / "export")
    result = CliRunner().invoke(
        cli,
        ["scan", str(folder), str(tmp_path), "-e", "x", "--expected-sha256", "ab" * 32],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code != 0
    assert "say which one it is for as PATH=HEX" in result.output
