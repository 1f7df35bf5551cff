"""Files join an existing evidence item only when asked for, and the addition is audited; an
interrupted scan still resumes without asking (library and ``kaitiaki scan``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scan_samples import noise_image
from sqlalchemy import func, select
from typer.testing import Result

from in_process import kaitiaki
from kaitiaki.scan import runner as scan_runner
from kaitiaki.scan.evidence import EvidenceExistsError
from kaitiaki.scan.runner import run_scan
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Evidence, FileInstance, Scan


def _folder(root: Path, count: int, seed: int = 0) -> Path:
    root.mkdir(parents=True)
    for i in range(count):
        (root / f"img{i:03d}.jpg").write_bytes(noise_image(seed + i, size=64))
    return root


def _counts(store: Store) -> tuple[int, int, int]:
    with store.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Evidence)) or 0,
            session.scalar(select(func.count()).select_from(Scan)) or 0,
            session.scalar(select(func.count()).select_from(FileInstance)) or 0,
        )


def _added(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.files_added"))
        )


def test_a_taken_name_is_refused_without_the_flag(store: Store, tmp_path: Path) -> None:
    laptop = _folder(tmp_path / "laptop", 3)
    other = _folder(tmp_path / "other", 2, seed=10)
    run_scan(store, [laptop], "laptop", workers=1, actor="test:setup")
    before = _counts(store)
    with pytest.raises(EvidenceExistsError, match="evidence item 'laptop'") as refused:
        run_scan(store, [other], "laptop", workers=1, actor="test:setup")
    assert "--add-to-existing" in str(refused.value)
    # The same roots again, once the scan has finished, is no resume either.
    with pytest.raises(EvidenceExistsError):
        run_scan(store, [laptop], "laptop", workers=1, actor="test:setup")
    assert _counts(store) == before
    assert _added(store) == []


def test_adding_is_explicit_and_audited(store: Store, tmp_path: Path) -> None:
    laptop = _folder(tmp_path / "laptop", 3)
    card = _folder(tmp_path / "card", 2, seed=10)
    first = run_scan(store, [laptop], "laptop", workers=1, actor="test:setup")
    with pytest.raises(ValueError, match="who runs it"):
        run_scan(store, [card], "laptop", workers=1, add_to_existing=True, actor=" ")
    added = run_scan(store, [card], "laptop", workers=1, add_to_existing=True, actor="alice")
    assert added.evidence_id == first.evidence_id and added.records_written == 2
    assert _counts(store) == (1, 2, 5)
    (entry,) = _added(store)
    assert entry.actor == "alice"
    assert (entry.target_type, entry.target_id) == ("evidence", str(first.evidence_id))
    assert entry.details is not None
    assert {k: entry.details[k] for k in ("evidence", "roots", "scan_id")} == {
        "evidence": "laptop",
        "roots": [str(card)],
        "scan_id": added.scan_id,
    }


def test_an_interrupted_scan_resumes_without_the_flag(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    laptop = _folder(tmp_path / "laptop", 12)
    monkeypatch.setattr(scan_runner, "BATCH_RECORDS", 1)  # every file written as it is hashed

    class Killed(Exception):  # noqa: N818 - a signal to unwind, as jobs.context
        pass

    def stop_midway(done: int, total: int) -> None:
        if done >= 4:
            raise Killed

    with pytest.raises(Killed):
        run_scan(store, [laptop], "laptop", workers=1, on_progress=stop_midway, actor="test:setup")
    _, _, recorded = _counts(store)
    assert 0 < recorded < 12
    resumed = run_scan(store, [laptop], "laptop", workers=1, actor="test:setup")
    assert resumed.sources_skipped == recorded
    assert _counts(store) == (1, 2, 12)
    assert _added(store) == []
    with pytest.raises(EvidenceExistsError):  # finished now: the resume is used up
        run_scan(store, [laptop], "laptop", workers=1, actor="test:setup")


def _in_process(*args: str, db: str) -> Result:
    return kaitiaki(*args, "--db", db, env={"KAITIAKI_USER": "examiner", "NO_COLOR": "1"})


def _kaitiaki(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kaitiaki", *args, "--db", db],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KAITIAKI_USER": "examiner", "NO_COLOR": "1", "COLUMNS": "200"},
    )


def test_the_cli_asks_for_add_to_existing(store: Store, tmp_path: Path) -> None:
    laptop = _folder(tmp_path / "laptop", 2)
    card = _folder(tmp_path / "card", 2, seed=10)
    first = _in_process("scan", str(laptop), "-e", "laptop", "-w", "1", db=store.url)
    assert first.exit_code == 0, first.output
    # The refusal in a process of its own: exit status 1 and one line, no traceback.
    refused = _kaitiaki("scan", str(card), "-e", "laptop", "-w", "1", db=store.url)
    assert refused.returncode == 1
    assert "evidence item 'laptop'" in refused.stderr and "--add-to-existing" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert _counts(store)[2] == 2
    added = _in_process(
        "scan", str(card), "-e", "laptop", "-w", "1", "--add-to-existing", db=store.url
    )
    assert added.exit_code == 0, added.output
    assert _counts(store) == (1, 2, 4)
    (entry,) = _added(store)
    assert entry.actor == "cli:examiner" and entry.details is not None
    assert entry.details["roots"] == [str(card)]
