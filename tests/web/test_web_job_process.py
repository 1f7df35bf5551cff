"""The server's job runner in a child process: a job queued through the API is run there (woken
at once, found by polling otherwise), and the child stops with the server."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from fastapi.testclient import TestClient
from web_helpers import add_role_user, jpeg, make_app, photo, sign_in

from kaitiaki.jobs import DONE, get_job, submit
from kaitiaki.store import Store
from kaitiaki.users import Role
from kaitiaki.web.job_process import JobProcess


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "to-scan"
    folder.mkdir()
    (folder / "coffee.jpg").write_bytes(jpeg(photo("coffee")))
    return folder


def _wait_finished(store: Store, job_id: int, limit: float = 120.0) -> str:
    deadline = time.monotonic() + limit
    while True:
        view = get_job(store, job_id)
        assert view is not None
        if view.status not in ("queued", "running"):
            return view.status
        assert time.monotonic() < deadline, f"job {job_id} still {view.status}: {view.message}"
        time.sleep(0.1)


def test_a_scan_queued_through_the_api_runs_in_the_job_process(
    store: Store, tmp_path: Path
) -> None:
    app = make_app(store, tmp_path, start_jobs=True, job_workers=1, evidence_roots=(tmp_path,))
    name = add_role_user(store, Role.INVESTIGATOR)
    with TestClient(app):  # runs the lifespan: the child process starts and, at the end, stops
        runner = app.state.wake_jobs.__self__
        assert isinstance(runner, JobProcess)
        client, csrf = sign_in(app, name)
        queued = client.post(
            "/api/scans",
            json={"evidence": "ev-child", "roots": [str(_folder(tmp_path))], "hash_sets": None},
            headers={"X-CSRF-Token": csrf},
        )
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        assert _wait_finished(store, job_id) == DONE
        process = runner._process
        assert process is not None and process.is_alive()
    assert not process.is_alive() and process.exitcode == 0
    view = get_job(store, job_id)
    assert view is not None and view.done == view.total == 1


def test_a_job_queued_without_a_wake_up_is_found_by_polling(store: Store, tmp_path: Path) -> None:
    job_id = submit(
        store,
        "scan",
        {"evidence": "ev-poll", "roots": [str(_folder(tmp_path))], "hash_sets": None},
        by="cli:test",
    )
    runner = JobProcess(store.url, workers=1)
    runner.start()
    try:
        assert _wait_finished(store, job_id) == DONE
    finally:
        assert runner.stop() is True
    runner.stop()  # twice is harmless


def test_a_job_process_that_dies_is_restarted_and_later_jobs_run(
    store: Store, tmp_path: Path
) -> None:
    """Issue 12, finding 3: the child used to stay dead, and every later job stayed queued."""
    app = make_app(store, tmp_path, start_jobs=True, job_workers=1, evidence_roots=(tmp_path,))
    name = add_role_user(store, Role.INVESTIGATOR)
    with TestClient(app):
        runner = app.state.wake_jobs.__self__
        assert isinstance(runner, JobProcess)
        first = runner._process
        assert first is not None and first.pid is not None
        os.kill(first.pid, signal.SIGKILL)  # as a segfault or the out-of-memory killer would
        deadline = time.monotonic() + 60
        while runner._process is first or runner._process is None:
            assert time.monotonic() < deadline, "the job process was not restarted"
            time.sleep(0.05)
        assert runner.restarts == 1
        client, csrf = sign_in(app, name)
        queued = client.post(
            "/api/scans",
            json={"evidence": "ev-after", "roots": [str(_folder(tmp_path))], "hash_sets": None},
            headers={"X-CSRF-Token": csrf},
        )
        assert queued.status_code == 202, queued.text
        job_id = queued.json()["id"]
        assert _wait_finished(store, job_id) == DONE
        answer = client.get(f"/api/jobs/{job_id}")  # the web server kept serving throughout
        assert answer.status_code == 200 and answer.json()["status"] == DONE
    second = runner._process
    assert second is None  # stopped with the server
