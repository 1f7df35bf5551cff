"""The caller's side of the jobs table: submit, read, list and cancel jobs."""

from __future__ import annotations

import threading
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from kaitiaki.audit import record
from kaitiaki.jobs.claims import now
from kaitiaki.jobs.kinds import get_kind
from kaitiaki.jobs.view import CANCELLED, QUEUED, RUNNING, JobView, view_of
from kaitiaki.store import Store
from kaitiaki.store.models import Job

# Runners in this process wait on this between polls, so a job submitted here starts at once
# rather than at the next poll (runners in other processes still find it by polling).
work_arrived = threading.Condition()


def submit(store: Store, kind: str, params: dict[str, Any], *, by: str) -> int:
    """Queue a job of ``kind``; returns its id.

    Raises ``ValueError`` (``JobParamsError``, naming the field) for an unknown kind or
    parameters the kind cannot run with, before anything is stored.
    """
    if not by.strip():
        raise ValueError("by: a job needs the name of who submits it")
    checked = get_kind(kind).validate(store, params)
    with store.session() as session:
        job = Job(kind=kind, params=checked, status=QUEUED, created_by=by, message="queued")
        session.add(job)
        session.flush()
        record(
            session,
            actor=by,
            action="job_submitted",
            target_type="job",
            target_id=str(job.id),
            details={"kind": kind, "params": checked},
        )
        job_id = job.id
    with work_arrived:
        work_arrived.notify_all()
    return job_id


def get_job(store: Store, job_id: int) -> JobView | None:
    with store.session() as session:
        row = session.get(Job, job_id)
        return None if row is None else view_of(row)


def list_jobs(store: Store, limit: int = 50) -> list[JobView]:
    """The newest ``limit`` jobs, newest first."""
    with store.session() as session:
        rows = session.scalars(select(Job).order_by(Job.id.desc()).limit(limit))
        return [view_of(row) for row in rows]


def cancel(store: Store, job_id: int, *, by: str) -> bool:
    """Cancel a queued or running job; False when it had already finished (or does not exist).

    A queued job never starts. A running one stops at its next progress report; if its work
    completes before that, it ends as done (its effects exist) with a message saying so.
    """
    statement = (
        update(Job)
        .where(Job.id == job_id, Job.status.in_((QUEUED, RUNNING)))
        .values(status=CANCELLED, finished_at=now(), message=f"cancelled by {by}")
        .execution_options(synchronize_session=False)
    )
    with store.session() as session:
        result = cast(CursorResult[Any], session.execute(statement))
        if result.rowcount != 1:
            return False
        kind = session.scalar(select(Job.kind).where(Job.id == job_id))
        record(
            session,
            actor=by,
            action="job_cancelled",
            target_type="job",
            target_id=str(job_id),
            details={"kind": kind},
        )
    return True
