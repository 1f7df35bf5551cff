"""A web scan takes the examiner's ``expected_sha256`` like ``kaitiaki scan --expected-sha256``,
and the evidence item's API shows each acquisition check, as the acting user recorded it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from web_helpers import jpeg, photo

from kaitiaki.store import Store
from kaitiaki.users import Role


def _sha256sum_listing(folder: Path) -> str:
    """The documented reproduction of a folder's digest, by the shell and GNU coreutils."""
    pipeline = (
        'cd "$1" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum | sha256sum'
    )
    done = subprocess.run(
        ["sh", "-c", pipeline, "sh", str(folder)], capture_output=True, text=True, check=True
    )
    return done.stdout.split()[0]


def test_a_web_scan_checks_the_expected_sha256(login, store: Store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from kaitiaki.jobs import DONE, FAILED, JobRunner, get_job

    root = tmp_path / "export"
    (root / "DCIM").mkdir(parents=True)
    (root / "DCIM" / "coffee.jpg").write_bytes(jpeg(photo("coffee")))
    (root / "chelsea.jpg").write_bytes(jpeg(photo("chelsea")))
    digest = _sha256sum_listing(root)
    client, csrf = login(Role.ADMIN)
    headers = {"X-CSRF-Token": csrf}
    body = {"evidence": "web-export", "roots": [str(root)], "expected_sha256": ["ab" * 31]}
    bad = client.post("/api/scans", json=body, headers=headers)
    assert bad.status_code == 422 and "not a SHA-256" in bad.text

    queued = client.post(
        "/api/scans", json={**body, "expected_sha256": [f"{root}={digest}"]}, headers=headers
    )
    assert queued.status_code == 202, queued.text
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while (job := get_job(store, queued.json()["id"])).status not in (DONE, FAILED):
            assert time.monotonic() < deadline, "the scan job did not finish"
            time.sleep(0.1)
    finally:
        assert runner.stop()
    assert job.status == DONE, job.error
    assert job.result["acquisition"] == [
        {"source": str(root), "status": "verified", "detail": "2 files listed"}
    ]
    item = client.get(f"/api/evidence/{job.result['evidence_id']}").json()
    (check,) = item["acquisition_checks"]
    assert check["status"] == "verified" and check["method"] == "SHA-256 of folder listing"
    assert check["expected"] == check["computed"] == {"sha256": digest}
    assert check["checked_by"] == job.created_by
    page = client.get(f"/evidence/{job.result['evidence_id']}")
    assert page.status_code == 200
    assert 'data-testid="acquisition-status">verified<' in page.text and digest in page.text
    assert 'data-testid="scan-expected-sha256"' in page.text  # the form takes them too
