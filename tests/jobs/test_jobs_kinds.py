"""Real kinds end to end: scans of generated benign images, and a simulated operation."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from jobs_samples import audit_actions, wait_status, wait_until
from sqlalchemy import func, select, update

from kaitiaki.jobs import DONE, FAILED, QUEUED, JobRunner, claims, get_job, submit
from kaitiaki.refer.signing import generate_key, verify_package
from kaitiaki.scan import runner as scan_runner
from kaitiaki.scan.runner import run_scan
from kaitiaki.simulate.images import encode, noise
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store
from kaitiaki.store.models import Evidence, FileInstance, Job, Match, Referral, Scan, Subject

IMAGES = 48


def _device(root: Path, count: int = IMAGES) -> list[Path]:
    """Generated noise images (benign) in a few folders."""
    rng = np.random.default_rng(7)
    paths = []
    for i in range(count):
        path = root / f"d{i % 3}" / f"img{i:03d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(noise(rng, (96, 96))))
        paths.append(path)
    return paths


def _instances(store: Store, evidence: str) -> list[str]:
    with store.session() as session:
        return list(
            session.scalars(
                select(FileInstance.path)
                .join(Evidence, Evidence.id == FileInstance.evidence_id)
                .where(Evidence.name == evidence)
            )
        )


def _manifest(store: Store, evidence: str) -> str | None:
    with store.session() as session:
        return session.scalar(select(Evidence.manifest_sha256).where(Evidence.name == evidence))


def _reference_scan(store: Store, root: Path) -> str:
    """The manifest of an uninterrupted scan of ``root``: what a resumed job must reproduce."""
    run_scan(store, [root], "reference", workers=1, actor="test:setup")
    digest = _manifest(store, "reference")
    assert digest is not None
    return digest


def test_scan_job_runs_to_done_with_progress_and_matches(store: Store, tmp_path: Path) -> None:
    paths = _device(tmp_path / "device")
    listing = tmp_path / "known.txt"
    listing.write_text("".join(hashlib.md5(p.read_bytes()).hexdigest() + "\n" for p in paths[:2]))
    runner = JobRunner(store.url, workers=2, poll_interval=0.05)
    runner.start()
    try:
        imported = submit(
            store, "import_hash_set", {"path": str(listing), "name": "known"}, by="alice"
        )
        assert wait_status(store, imported, DONE, FAILED).status == DONE
        job_id = submit(
            store,
            "scan",
            {"evidence": "device", "roots": [str(tmp_path / "device")], "hash_sets": ["known"]},
            by="alice",
        )
        job = wait_status(store, job_id, DONE, FAILED)
    finally:
        assert runner.stop()
    assert job.status == DONE, job.error
    assert job.done == job.total == IMAGES
    assert job.result["sources_total"] == IMAGES and job.result["manifest_sha256"]
    assert sorted(_instances(store, "device")) == sorted(str(p) for p in paths)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Match)) == 2
        evidence = session.scalar(select(Evidence).where(Evidence.name == "device"))
        assert evidence is not None and evidence.acquired_by == "alice"
    assert audit_actions(store, job_id) == [
        ("job_submitted", "alice"),
        ("job_start", "alice"),
        ("job_done", "alice"),
    ]


def test_a_scan_stopped_mid_job_resumes_and_records_every_file_once(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "device"
    paths = _device(root)
    reached, release = threading.Event(), threading.Event()

    def held_scan(*args: Any, on_progress: Any, **kwargs: Any) -> Any:
        """The real scan, held once a third of the files are hashed until the test lets go."""

        def progress(done: int, total: int) -> None:
            if done >= IMAGES // 3 and not release.is_set():
                reached.set()
                assert release.wait(120)
            on_progress(done, total)

        return run_scan(*args, on_progress=progress, **kwargs)

    monkeypatch.setattr(scan_runner, "run_scan", held_scan)
    job_id = submit(
        store, "scan", {"evidence": "device", "roots": [str(root)], "workers": 1}, by="alice"
    )
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    assert reached.wait(120)
    stopper = threading.Thread(target=runner.stop, kwargs={"timeout": 120})
    stopper.start()
    wait_until(lambda: runner.stopping, "the runner to begin stopping")
    release.set()
    stopper.join(120)
    stopped = get_job(store, job_id)
    assert stopped is not None and stopped.status == QUEUED and stopped.done < IMAGES

    restarted = JobRunner(store.url, workers=1)
    assert restarted.run_once() == job_id
    restarted.stop()
    job = get_job(store, job_id)
    assert job is not None and job.status == DONE and job.attempts == 2, job.error
    assert job.done == job.total == IMAGES
    recorded = _instances(store, "device")
    assert len(recorded) == len(set(recorded)) == IMAGES
    assert set(recorded) == {str(p) for p in paths}
    assert _manifest(store, "device") == _reference_scan(store, root)


def test_a_scan_left_running_by_a_dead_server_is_requeued_and_completes(
    store: Store, tmp_path: Path
) -> None:
    root = tmp_path / "device"
    paths = _device(root)
    job_id = submit(
        store, "scan", {"evidence": "device", "roots": [str(root)], "workers": 1}, by="alice"
    )
    # The dead server had claimed the job and recorded one folder before it died: its scan
    # of ``root`` left unfinished.
    assert claims.claim_next(store) is not None
    run_scan(store, [root / "d0"], "device", workers=1, actor="test:setup")
    with store.session() as session:
        session.execute(update(Scan).values(roots=[str(root)], finished_at=None))
    already = len(_instances(store, "device"))
    assert 0 < already < IMAGES
    with store.session() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(heartbeat_at=claims.now() - timedelta(minutes=5))
        )

    runner = JobRunner(store.url, workers=1, lease=60, poll_interval=0.05)
    runner.start()
    try:
        job = wait_status(store, job_id, DONE, FAILED)
    finally:
        assert runner.stop()
    assert job.status == DONE and job.attempts == 2, job.error
    assert job.result["sources_skipped"] == already
    recorded = _instances(store, "device")
    assert len(recorded) == len(set(recorded)) == IMAGES
    assert set(recorded) == {str(p) for p in paths}
    assert _manifest(store, "device") == _reference_scan(store, root)
    actions = [a for a, _ in audit_actions(store, job_id)]
    assert actions == ["job_submitted", "job_start", "job_requeued", "job_start", "job_done"]


def test_a_scan_of_a_vanished_folder_fails_with_its_reason(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "gone"
    root.mkdir()
    job_id = submit(store, "scan", {"evidence": "e", "roots": [str(root)]}, by="alice")
    root.rmdir()
    assert JobRunner(store.url).run_once() == job_id
    job = get_job(store, job_id)
    assert job is not None and job.status == FAILED
    assert (
        job.error is not None
        and job.error.startswith("FileNotFoundError")
        and str(root) in job.error
    )


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("operation")
    simulate_operation(out, accounts=400, flagged_accounts=40, events=6_000, seed=5)
    return out


def test_import_analyse_and_refer_jobs_complete(
    store: Store, operation: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    generate_key()
    runner = JobRunner(store.url, workers=2, poll_interval=0.05)
    runner.start()
    try:
        imported = submit(
            store,
            "import_hash_set",
            {"path": str(operation / "hashset.json"), "name": "operation-set", "format": "vics"},
            by="alice",
        )
        assert wait_status(store, imported, DONE, FAILED).status == DONE
        analysis = tmp_path / "analysis"
        params = {
            "records": str(operation / "records.csv"),
            "accounts": str(operation / "accounts.csv"),
            "catalog": str(operation / "catalog.csv"),
            "out": str(analysis),
        }
        analysed = wait_status(store, submit(store, "analyse", params, by="alice"), DONE, FAILED)
        assert analysed.status == DONE, analysed.error
        refer = {"analysis": str(analysis), "out": str(tmp_path / "packages")}
        referred = wait_status(store, submit(store, "refer", refer, by="bob"), DONE, FAILED)
    finally:
        assert runner.stop()
    assert analysed.done == analysed.total == 6
    assert analysed.result["flagged_accounts"] > 0 and analysed.result["subjects"] > 0
    assert (analysis / "subjects.csv").is_file()
    with store.session() as session:
        assert (
            session.scalar(select(func.count()).select_from(Subject)) == analysed.result["subjects"]
        )
        referrals = list(session.scalars(select(Referral)))
    assert referred.status == DONE, referred.error
    packages = referred.result["packages"]
    assert len(packages) == len(referrals) > 0 and referred.done == referred.total == len(packages)
    assert {r.created_by for r in referrals} == {"bob"}
    assert all(verify_package(Path(p["folder"])).ok for p in packages)
