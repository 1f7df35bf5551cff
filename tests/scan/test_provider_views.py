"""A provider export's "viewed by the provider" list: ``kaitiaki scan --viewed-by-provider``.

Listed files (by hash or relative path) are marked viewed, every other file of the evidence
item not viewed, an unlisted scan leaves the field unknown; a bad list fails before the scan,
naming the line.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scan_samples import noise_image
from sqlalchemy import select

from kaitiaki.scan.provider_views import ViewedListError, check_list, read_entries
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Evidence, File, FileInstance

KAITIAKI = [sys.executable, "-m", "kaitiaki"]


def _kaitiaki(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KAITIAKI, *args, "--db", db],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KAITIAKI_USER": "ana"},
    )


def _export(root: Path) -> dict[str, bytes]:
    """A provider's export: three images on disk and one inside a zip."""
    root.mkdir()
    files = {name: noise_image(seed) for seed, name in enumerate(("a", "b", "c", "d"))}
    for name in ("a", "b", "c"):
        (root / f"{name}.jpg").write_bytes(files[name])
    with zipfile.ZipFile(root / "box.zip", "w") as archive:
        archive.writestr("inner/d.jpg", files["d"])
    return files


def _viewed(store: Store, evidence: str, root: Path) -> dict[str, bool | None]:
    """Each instance's viewed_by_provider, by its path relative to ``root``."""
    with store.session() as session:
        eid = session.scalar(select(Evidence.id).where(Evidence.name == evidence))
        rows = session.execute(
            select(FileInstance.path, FileInstance.viewed_by_provider).where(
                FileInstance.evidence_id == eid
            )
        ).all()
    return {path.removeprefix(f"{root}/"): viewed for path, viewed in rows}


def test_a_provider_scan_marks_what_the_provider_viewed(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    files = _export(root)
    md5_of_b = hashlib.md5(files["b"]).hexdigest()
    listing = tmp_path / "viewed.txt"
    listing.write_text(
        "# files a moderator opened\n"
        f"{hashlib.sha256(files['a']).hexdigest().upper()}\n"
        "\n"
        f"  {md5_of_b}  \r\n"
        "box.zip!/inner/d.jpg\n",
        encoding="utf-8",
    )
    done = _kaitiaki(
        "scan",
        str(root),
        "-e",
        "tip-1",
        "--viewed-by-provider",
        str(listing),
        "--workers",
        "1",
        db=store_url,
    )
    assert done.returncode == 0, done.stderr
    assert "3 file instance(s) viewed" in done.stdout
    assert _viewed(store, "tip-1", root) == {
        "a.jpg": True,
        "b.jpg": True,
        "c.jpg": False,
        "box.zip": False,
        "box.zip!/inner/d.jpg": True,
    }
    with store.session() as session:
        entry = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "evidence.viewed_by_provider")
        ).one()
    assert entry.actor == "cli:ana"
    assert entry.details is not None and entry.details["entries"] == 3
    assert entry.details["list_sha256"] == hashlib.sha256(listing.read_bytes()).hexdigest()

    # Without a list nothing is known: the field stays empty.
    other = tmp_path / "seized"
    _export(other)
    plain = _kaitiaki("scan", str(other), "-e", "seized", "--workers", "1", db=store_url)
    assert plain.returncode == 0, plain.stderr
    assert set(_viewed(store, "seized", other).values()) == {None}


def test_a_bad_list_fails_before_the_scan_naming_the_line(
    store_url: str, store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "export"
    files = _export(root)
    listing = tmp_path / "viewed.txt"
    listing.write_text(f"{hashlib.sha256(files['a']).hexdigest()}\n\n{'ab' * 31}1\n")
    done = _kaitiaki(
        "scan", str(root), "-e", "tip-2", "--viewed-by-provider", str(listing), db=store_url
    )
    assert done.returncode == 1
    message = " ".join(done.stderr.split())  # Rich wraps long lines
    assert f"{listing}: line 3: 63 hex digits" in message
    with store.session() as session:
        assert session.scalars(select(File)).first() is None  # nothing was scanned


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("0" * 31, "31 hex digits"),
        ("/etc/shadow", "an absolute path"),
        ("C:\\export\\a.jpg", "an absolute path"),
        ("photos/../../etc/shadow", "'..' in the path"),
        ("a\u200b.jpg", "control or invisible characters"),
        ("a\x00.jpg", "control or invisible characters"),
        ("x" * 5000, "longer than 4096 characters"),
    ],
)
def test_each_bad_line_is_named(tmp_path: Path, line: str, problem: str) -> None:
    listing = tmp_path / "viewed.txt"
    listing.write_text(f"# header\n{line}\n", encoding="utf-8")
    with pytest.raises(ViewedListError, match=f"line 2: {problem}"):
        check_list(listing)


def test_bytes_that_are_not_utf8_and_missing_files(tmp_path: Path) -> None:
    listing = tmp_path / "viewed.txt"
    listing.write_bytes(b"a.jpg\nb\xff.jpg\n")
    with pytest.raises(ViewedListError, match="line 2: not UTF-8"):
        check_list(listing)
    with pytest.raises(ViewedListError, match="cannot read"):
        check_list(tmp_path / "missing.txt")
    # One long line without any break is refused without reading it whole.
    listing.write_bytes(b"a" * 10_000_000)
    with pytest.raises(ViewedListError, match="line 1: longer than"):
        check_list(listing)


@given(st.sampled_from([32, 40, 64]), st.data())
def test_hashes_of_any_case_are_read_as_hashes(length: int, data: st.DataObject) -> None:
    digest = data.draw(st.text("0123456789abcdefABCDEF", min_size=length, max_size=length))
    with tempfile.TemporaryDirectory() as folder:
        listing = Path(folder) / "viewed.txt"
        listing.write_text(f"  {digest}\n./{digest[:8]}\n")
        entries = list(read_entries(listing))
    kind = {32: "md5", 40: "sha1", 64: "sha256"}[length]
    assert [(e.kind, e.value) for e in entries] == [(kind, digest.lower()), ("path", digest[:8])]
