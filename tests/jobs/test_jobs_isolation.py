"""A job that kills its worker process fails alone, with the reason, and the runner goes on
(issue 12, finding 3): each attempt runs in a process of its own when the runner isolates."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_samples import audit_actions, wait_status, wait_until
from worker_kinds import ALL

from kaitiaki.jobs import CANCELLED, DONE, FAILED, JobRunner, cancel, get_job, register, submit
from kaitiaki.jobs.kinds import unregister
from kaitiaki.store import Store

VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/US/$metadata#Media"


@pytest.fixture(autouse=True)
def kinds() -> Iterator[None]:
    for kind in ALL:
        register(kind)
    yield
    for kind in ALL:
        unregister(kind.name)


@pytest.fixture
def runner(store: Store) -> Iterator[JobRunner]:
    running = JobRunner(
        store.url, workers=1, poll_interval=0.05, isolate=True, memory_limit=3 << 30
    )
    running.start()
    yield running
    assert running.stop(60)


def test_a_job_that_crashes_its_worker_fails_and_the_next_job_runs(
    store: Store, runner: JobRunner
) -> None:
    crash = submit(store, "test_crash", {}, by="cli:tester")
    after = submit(store, "test_quick", {}, by="cli:tester")
    failed = wait_status(store, crash, FAILED, DONE)
    assert failed.status == FAILED
    assert failed.error == "the job's worker died: signal SIGSEGV"
    assert failed.done == 1  # progress reported before the crash stays
    done = wait_status(store, after, DONE, FAILED)
    assert done.status == DONE and done.result["pid"] != os.getpid()
    assert ("job_failed", "cli:tester") in audit_actions(store, crash)
    # A job that killed its worker is not tried again: recovery leaves it failed.
    runner.recover()
    time.sleep(0.3)
    view = get_job(store, crash)
    assert view is not None and view.status == FAILED


def test_a_worker_killed_from_outside_fails_its_job(
    store: Store, runner: JobRunner, tmp_path: Path
) -> None:
    pid_file = tmp_path / "worker.pid"
    waiting = submit(store, "test_wait", {"pid_file": str(pid_file)}, by="cli:tester")
    pid = int(wait_until(lambda: pid_file.exists() and pid_file.read_text(), "the worker's pid"))
    assert pid != os.getpid()
    os.kill(pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    failed = wait_status(store, waiting, FAILED, DONE)
    assert failed.error.startswith("the job's worker died: signal SIGKILL")
    after = submit(store, "test_quick", {}, by="cli:tester")
    assert wait_status(store, after, DONE, FAILED).status == DONE


def test_a_running_isolated_job_can_be_cancelled_and_its_worker_ends(
    store: Store, runner: JobRunner, tmp_path: Path
) -> None:
    pid_file = tmp_path / "worker.pid"
    waiting = submit(store, "test_wait", {"pid_file": str(pid_file)}, by="cli:tester")
    pid = int(wait_until(lambda: pid_file.exists() and pid_file.read_text(), "the worker's pid"))
    assert cancel(store, waiting, by="cli:tester")
    assert wait_status(store, waiting, CANCELLED).status == CANCELLED

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, "the cancelled job's worker to exit")
    after = submit(store, "test_quick", {}, by="cli:tester")
    assert wait_status(store, after, DONE, FAILED).status == DONE


def test_an_allocation_bomb_meets_the_memory_limit(store: Store, runner: JobRunner) -> None:
    bomb = submit(store, "test_hog", {"chunks": 1000}, by="cli:tester")  # 64 GB asked
    failed = wait_status(store, bomb, FAILED, DONE)
    assert failed.error.startswith("MemoryError")
    after = submit(store, "test_quick", {}, by="cli:tester")
    assert wait_status(store, after, DONE, FAILED).status == DONE


def test_a_hostile_vics_import_fails_with_its_position(
    store: Store, runner: JobRunner, tmp_path: Path
) -> None:
    path = tmp_path / "hostile.json"
    path.write_text(
        '{"@odata.context":"' + VICS_CONTEXT + '","value":[{"MD5":"' + "A" * 32 + '",'
        '"MediaID":' + "9" * 5001 + "}]}"
    )
    job = submit(store, "import_hash_set", {"path": str(path), "name": "hostile"}, by="cli:tester")
    failed = wait_status(store, job, FAILED, DONE)
    assert "number longer than 100 characters" in failed.error
    assert "byte offset" in failed.error
    after = submit(store, "test_quick", {}, by="cli:tester")
    assert wait_status(store, after, DONE, FAILED).status == DONE


def test_memory_limit_needs_isolation(store: Store) -> None:
    with pytest.raises(ValueError, match="isolated"):
        JobRunner(store.url, memory_limit=1 << 30)
