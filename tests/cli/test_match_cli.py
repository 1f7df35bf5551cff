"""`kaitiaki match` and `kaitiaki export` as a user runs them, on real files: one real process
per test (its exit status and output as a shell sees them), the other calls in-process."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from in_process import kaitiaki
from kaitiaki.signals.pdq import hash_image_bytes

KAITIAKI = [sys.executable, "-m", "kaitiaki"]


def _run(*args: str, db: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KAITIAKI, *args, "--db", db], input=stdin, capture_output=True, text=True, timeout=120
    )


def _jpeg(array: np.ndarray, path: Path) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "JPEG", quality=90)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def test_match_files_hashes_and_stdin(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    original = _jpeg(data.chelsea(), tmp_path / "chelsea.jpg")
    mirrored = _jpeg(np.ascontiguousarray(data.chelsea()[:, ::-1]), tmp_path / "mirrored.jpg")
    _jpeg(data.coins(), tmp_path / "coins.jpg")
    known = hash_image_bytes(original).hex
    listing = tmp_path / "pdq.txt"
    listing.write_text(f"pdq:{known}\n")
    imported = kaitiaki(
        "hashset", "import", str(listing), "--name", "own", "--format", "list", "--db", db
    )
    assert imported.exit_code == 0, imported.output

    result = _run(
        "match", str(tmp_path / "mirrored.jpg"), str(tmp_path / "coins.jpg"), known, db=db
    )
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(h["query"].rsplit("/", 1)[-1], h["signal"]) for h in hits] == [
        ("mirrored.jpg", "pdq"),
        (known, "pdq"),
    ]
    assert hits[1]["distance"] == 0
    assert hits[0]["hash_set"] == "own" and 0 < hits[0]["distance"] <= 31
    assert {"query", "hash_set", "entry_id", "signal", "distance", "category"} <= set(hits[0])
    assert hash_image_bytes(mirrored).hex != known

    piped = kaitiaki("match", "-", "--db", db, input=f"{tmp_path / 'chelsea.jpg'}\n{known}\n")
    assert piped.exit_code == 0, piped.output
    assert len(piped.stdout.splitlines()) == 2


def test_match_refuses_unknown_sets_and_queries(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    missing = _run("match", "f" * 64, "--hash-set", "nope", db=db)
    assert missing.returncode == 1
    assert "no hash set named 'nope'" in missing.stderr
    bad = kaitiaki("match", "not-a-file-nor-hash", "--db", db)
    assert bad.exit_code == 1
    assert "neither a file nor a 64-hex PDQ hash" in bad.stderr


def test_scan_then_export_every_format(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    evidence = tmp_path / "device"
    evidence.mkdir()
    _jpeg(data.astronaut(), evidence / "a.jpg")
    (evidence / "b.txt").write_text("hello")
    scanned = _run("scan", str(evidence), "--evidence", "dev", "--workers", "1", db=db)
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    assert "file instances" in scanned.stdout and "manifest SHA-256" in scanned.stdout
    for fmt in ("csv", "jsonl", "vics", "manifest"):
        out = tmp_path / f"out.{fmt}"
        exported = kaitiaki(
            "export", "--evidence", "dev", "--format", fmt, "-o", str(out), "--db", db
        )
        assert exported.exit_code == 0, exported.output
        assert out.stat().st_size > 0
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert sorted(r["classification"] for r in rows) == ["new", "new"]
    header = (tmp_path / "out.csv").read_text().splitlines()[0].split(",")
    assert header[:3] == ["path", "sha256", "md5"]
    missing = kaitiaki(
        *("export", "--evidence", "nope", "--format", "csv", "-o", str(tmp_path / "x.csv")),
        *("--db", db),
    )
    assert missing.exit_code == 1 and "no evidence item named 'nope'" in missing.stderr
