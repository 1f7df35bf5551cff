"""Runners: real threads on a real database, concurrent claims, failures, stops and restarts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from jobs_samples import Counting, audit_actions, registered, wait_status, wait_until
from sqlalchemy import func, select, update

from kaitiaki.audit import verify_log
from kaitiaki.jobs import (
    CANCELLED,
    DONE,
    FAILED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    JobRunner,
    cancel,
    claims,
    get_job,
    submit,
)
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Job


@pytest.fixture
def counting() -> Iterator[Counting]:
    with registered(Counting()) as kind:
        yield kind


@pytest.fixture
def stubborn() -> Iterator[Counting]:
    """A kind that cannot resume."""
    with registered(Counting(name="test_stubborn", resumable=False)) as kind:
        yield kind


def _age(store: Store, job_id: int, minutes: float, **values: object) -> None:
    """Make a job look as a dead server left it: running, last heartbeat ``minutes`` ago."""
    with store.session() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(heartbeat_at=claims.now() - timedelta(minutes=minutes), **values)
        )


def test_two_runners_never_run_a_job_twice(store: Store, counting: Counting) -> None:
    jobs = [submit(store, "test_count", {"n": 5}, by=f"user{i % 3}") for i in range(24)]
    runners = [JobRunner(store.url, workers=2, poll_interval=0.05) for _ in range(2)]
    for runner in runners:
        runner.start()
    try:
        for job_id in jobs:
            job = wait_status(store, job_id, DONE, FAILED)
            assert job.status == DONE and job.done == job.total == 5
            assert job.result == {"counted": 5, "by": job.created_by}
    finally:
        assert all(runner.stop(timeout=30) for runner in runners)
    assert counting.runs == dict.fromkeys(jobs, 1)
    with store.session() as session:
        starts = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "job_start")
        )
    assert starts == len(jobs)
    assert verify_log(store).ok, "concurrent jobs keep the audit chain intact"


def test_a_failing_job_is_failed_and_the_runner_goes_on(store: Store, counting: Counting) -> None:
    bad = submit(store, "test_count", {"n": 4, "fail": "row 3: unreadable"}, by="alice")
    good = submit(store, "test_count", {"n": 2}, by="alice")
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        failed = wait_status(store, bad, DONE, FAILED)
        assert wait_status(store, good, DONE, FAILED).status == DONE
    finally:
        assert runner.stop()
    assert failed.status == FAILED and failed.error == "RuntimeError: row 3: unreadable"
    assert failed.finished_at is not None and failed.result is None
    assert audit_actions(store, bad)[-1] == ("job_failed", "alice")


def test_progress_is_live_and_a_running_job_can_be_cancelled(
    store: Store, counting: Counting
) -> None:
    counting.hold_at = 3
    job_id = submit(store, "test_count", {"n": 10}, by="alice")
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    runner.start()
    try:
        assert counting.reached.wait(60)
        held = get_job(store, job_id)
        assert held is not None and held.status == RUNNING
        assert (held.done, held.total, held.message) == (3, 10, "held at 3")
        assert cancel(store, job_id, by="bob")
        counting.release.set()
        assert counting.ended.wait(60)
    finally:
        assert runner.stop()
    job = get_job(store, job_id)
    assert job is not None and job.status == CANCELLED and job.done < 10
    assert [a for a, _ in audit_actions(store, job_id)] == [
        "job_submitted",
        "job_start",
        "job_cancelled",
    ]


def test_work_that_ends_before_a_late_cancel_is_done(store: Store, counting: Counting) -> None:
    """A cancel that comes after the last progress report cannot stop the work; it is done."""
    job_id = submit(store, "test_count", {"n": 1}, by="alice")
    claim = claims.claim_next(store)
    assert claim is not None
    assert cancel(store, job_id, by="bob")
    assert claims.finish(store, claim, DONE, message="done", done=1, total=1, result={})
    job = get_job(store, job_id)
    assert job is not None and job.status == DONE and "before the cancel" in job.message
    assert [a for a, _ in audit_actions(store, job_id)][-2:] == ["job_cancelled", "job_done"]


def test_stopping_requeues_a_resumable_job_and_interrupts_others(
    store: Store, counting: Counting, stubborn: Counting
) -> None:
    counting.hold_at = stubborn.hold_at = 2
    resumable = submit(store, "test_count", {"n": 5}, by="alice")
    other = submit(store, "test_stubborn", {"n": 5}, by="bob")
    runner = JobRunner(store.url, workers=2, poll_interval=0.05)
    runner.start()
    assert counting.reached.wait(60) and stubborn.reached.wait(60)
    stopper = threading.Thread(target=runner.stop, kwargs={"timeout": 60})
    stopper.start()
    wait_until(lambda: runner.stopping, "the runner to begin stopping")
    counting.release.set()
    stubborn.release.set()
    stopper.join(60)
    assert not stopper.is_alive()

    again = get_job(store, resumable)
    assert again is not None and again.status == QUEUED and "re-queued" in again.message
    stopped = get_job(store, other)
    assert stopped is not None and stopped.status == INTERRUPTED
    assert stopped.finished_at is not None and "submit it again" in stopped.message
    assert audit_actions(store, other)[-1] == ("job_interrupted", "bob")

    restarted = JobRunner(store.url)
    assert restarted.run_once() == resumable
    assert restarted.run_once() is None
    done = get_job(store, resumable)
    assert done is not None and done.status == DONE and done.attempts == 2
    assert counting.runs[resumable] == 2
    restarted.stop()


def test_restart_recovers_only_jobs_with_a_stale_heartbeat(
    store: Store, counting: Counting, stubborn: Counting
) -> None:
    dead = submit(store, "test_count", {"n": 2}, by="alice")
    dead_stubborn = submit(store, "test_stubborn", {"n": 2}, by="alice")
    alive = submit(store, "test_count", {"n": 2}, by="bob")
    worn = submit(store, "test_count", {"n": 2}, by="carol")
    for _ in range(4):
        assert claims.claim_next(store) is not None
    _age(store, dead, 5)
    _age(store, dead_stubborn, 5)
    _age(store, alive, 0.1)  # another server's live job: heartbeat well inside the lease
    _age(store, worn, 5, attempts=3)

    runner = JobRunner(store.url, lease=60, max_attempts=3, poll_interval=0.05)
    runner.start()
    try:
        assert wait_status(store, dead, DONE).attempts == 2
    finally:
        assert runner.stop()
    assert get_job(store, alive).status == RUNNING  # type: ignore[union-attr]
    for job_id, hint in ((dead_stubborn, "submit it again"), (worn, "3 times")):
        job = get_job(store, job_id)
        assert job is not None and job.status == INTERRUPTED and hint in job.message
    assert ("job_requeued", "alice") in audit_actions(store, dead)
    assert counting.runs[alive] == counting.runs[worn] == 0
