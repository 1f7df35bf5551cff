"""The scan job (the web's scans) takes the provider's viewed list like ``kaitiaki scan``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from jobs_samples import wait_status
from sqlalchemy import select

from kaitiaki.jobs import DONE, FAILED, JobParamsError, JobRunner, submit
from kaitiaki.simulate.images import encode, noise
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, FileInstance


def _export(root: Path) -> list[Path]:
    rng = np.random.default_rng(11)
    root.mkdir()
    paths = [root / f"object-{i}.jpg" for i in range(4)]
    for path in paths:
        path.write_bytes(encode(noise(rng, (64, 64))))
    return paths


def test_a_scan_job_marks_what_the_provider_viewed(store: Store, tmp_path: Path) -> None:
    paths = _export(tmp_path / "export")
    listing = tmp_path / "viewed.txt"
    listing.write_text(f"{hashlib.sha256(paths[0].read_bytes()).hexdigest()}\nobject-2.jpg\n")
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        job_id = submit(
            store,
            "scan",
            {
                "evidence": "tip",
                "roots": [str(tmp_path / "export")],
                "viewed_by_provider": str(listing),
            },
            by="alice",
        )
        job = wait_status(store, job_id, DONE, FAILED)
    finally:
        assert runner.stop()
    assert job.status == DONE, job.error
    assert job.result["viewed_by_provider"] == {
        "entries": 2,
        "viewed": 2,
        "not_viewed": 2,
        "unmatched": 0,
    }
    with store.session() as session:
        rows = session.execute(select(FileInstance.path, FileInstance.viewed_by_provider))
        viewed = {path: value for path, value in rows}
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "evidence.viewed_by_provider")
        ).all()
    assert viewed == {str(p): i in (0, 2) for i, p in enumerate(paths)}
    assert actors == ["alice"]


def test_a_bad_list_is_refused_at_submit_naming_the_line(store: Store, tmp_path: Path) -> None:
    _export(tmp_path / "export")
    listing = tmp_path / "viewed.txt"
    listing.write_text("object-0.jpg\n../../etc/shadow\n")
    with pytest.raises(JobParamsError, match=r"line 2: '\.\.' in the path"):
        submit(
            store,
            "scan",
            {
                "evidence": "tip",
                "roots": [str(tmp_path / "export")],
                "viewed_by_provider": str(listing),
            },
            by="alice",
        )
