"""The runner's side of the jobs table: claim, report, heartbeat, finish, recover.

Every write after the claim is conditional on the job's ``attempts`` as the claim left it, used as
a fencing token: if a runner was presumed dead and its job handed to another, the first runner's
late writes match no row and it learns it no longer owns the job. Each write is one UPDATE run
first in its own short transaction, so on SQLite it takes the write lock at once (no read-to-write
upgrade that could fail under concurrency) and holds it for milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Update, func, select, update
from sqlalchemy.orm import aliased

from kaitiaki.audit import record
from kaitiaki.jobs.view import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING
from kaitiaki.store import Store
from kaitiaki.store.models import Job

_ACTIONS = {DONE: "job_done", FAILED: "job_failed", INTERRUPTED: "job_interrupted"}


@dataclass(frozen=True)
class Claim:
    """A job this runner has started: what to run, for whom, and its fencing token."""

    id: int
    kind: str
    params: dict[str, Any]
    created_by: str
    attempt: int


def now() -> datetime:
    return datetime.now(UTC)


def _run(store: Store, statement: Update) -> int:
    with store.session() as session:
        result = cast(
            CursorResult[Any],
            session.execute(statement.execution_options(synchronize_session=False)),
        )
        return result.rowcount


def _transition(
    store: Store, statement: Update, job: Claim, action: str, reason: str, **details: Any
) -> bool:
    """Apply ``statement`` and, if it changed the job, its audit entry in the same transaction."""
    with store.session() as session:
        changed = cast(
            CursorResult[Any],
            session.execute(statement.execution_options(synchronize_session=False)),
        ).rowcount
        if changed != 1:
            return False
        record(
            session,
            actor=job.created_by,
            action=action,
            target_type="job",
            target_id=str(job.id),
            reason=reason,
            details={"kind": job.kind, "attempt": job.attempt, **details},
        )
    return True


def _mine(claim: Claim, *statuses: str) -> Update:
    return update(Job).where(
        Job.id == claim.id, Job.attempts == claim.attempt, Job.status.in_(statuses or (RUNNING,))
    )


def claim_next(store: Store) -> Claim | None:
    """Start the next queued job, or None; atomic across threads, processes and servers.

    Jobs of people with nothing running go first, so one person's long queue does not keep
    another person waiting; otherwise oldest first. On PostgreSQL the candidate row is taken
    with ``FOR UPDATE SKIP LOCKED``, so concurrent runners pick different jobs without waiting;
    SQLite (which ignores that clause) has one writer at a time, and the ``status = 'queued'``
    condition makes a second claimant of the same row update nothing.
    """
    running = aliased(Job)
    busy = select(running.created_by).where(running.status == RUNNING)
    pick = (
        select(Job.id)
        .where(Job.status == QUEUED)
        .order_by(Job.created_by.in_(busy), Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    at = now()
    statement = (
        update(Job)
        .where(Job.id == pick, Job.status == QUEUED)
        .values(
            status=RUNNING,
            started_at=at,
            heartbeat_at=at,
            finished_at=None,
            attempts=Job.attempts + 1,
            message="started",
            error=None,
        )
        .returning(Job.id, Job.kind, Job.params, Job.created_by, Job.attempts)
        .execution_options(synchronize_session=False)
    )
    with store.session() as session:
        row = session.execute(statement).first()
        if row is None:
            return None
        claim = Claim(row.id, row.kind, dict(row.params), row.created_by, row.attempts)
        record(
            session,
            actor=claim.created_by,
            action="job_start",
            target_type="job",
            target_id=str(claim.id),
            details={"kind": claim.kind, "attempt": claim.attempt},
        )
    return claim


def report(store: Store, claim: Claim, done: int, total: int | None, message: str) -> bool:
    """Persist progress and refresh the heartbeat; False when the job is no longer ours to run."""
    statement = _mine(claim).values(done=done, total=total, message=message, heartbeat_at=now())
    return _run(store, statement) == 1


def heartbeat(store: Store, claim: Claim) -> bool:
    return _run(store, _mine(claim).values(heartbeat_at=now())) == 1


def finish(
    store: Store,
    claim: Claim,
    status: str,
    *,
    message: str,
    done: int,
    total: int | None,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> bool:
    """End the job as ``status`` with its audit entry; False when it was not ours any more.

    Work that completed although a cancel request came too late to stop it is recorded as done,
    with a message saying so: its effects exist, and the record must say so.
    """
    values: dict[str, Any] = {
        "status": status,
        "message": message,
        "done": done,
        "total": total,
        "result": result,
        "error": error,
        "finished_at": now(),
        "heartbeat_at": None,
    }
    action, reason = _ACTIONS[status], error or ""
    if _transition(store, _mine(claim).values(**values), claim, action, reason, message=message):
        return True
    if status != DONE:
        return False
    values["message"] = f"{message}: the work finished before the cancel request could stop it"
    late = _mine(claim, CANCELLED).values(**values)
    return _transition(store, late, claim, action, reason, message=values["message"])


def worker_died(store: Store, claim: Claim, error: str) -> bool:
    """Fail a job whose worker process died under it; progress stays as last reported.

    Never re-queued: a job that killed its worker once (a crash in a parser, memory run out)
    would kill the next one too.
    """
    values: dict[str, Any] = {
        "status": FAILED,
        "message": "failed: its worker died",
        "error": error,
        "finished_at": now(),
        "heartbeat_at": None,
    }
    return _transition(store, _mine(claim).values(**values), claim, _ACTIONS[FAILED], error)


def requeue(store: Store, claim: Claim, message: str) -> bool:
    """Put a resumable job back in the queue (the runner is stopping); it resumes later."""
    statement = _mine(claim).values(status=QUEUED, message=message, heartbeat_at=None)
    return _transition(store, statement, claim, "job_requeued", message)


def _last_sign_of_life() -> Any:
    return func.coalesce(Job.heartbeat_at, Job.started_at, Job.created_at)


def stale(store: Store, before: datetime) -> list[Claim]:
    """Running jobs whose runner has shown no sign of life since ``before``."""
    query = (
        select(Job.id, Job.kind, Job.params, Job.created_by, Job.attempts)
        .where(Job.status == RUNNING, _last_sign_of_life() < before)
        .order_by(Job.id)
    )
    with store.session() as session:
        return [
            Claim(r.id, r.kind, dict(r.params), r.created_by, r.attempts)
            for r in session.execute(query)
        ]


def recover(store: Store, job: Claim, before: datetime, *, requeue: bool, message: str) -> bool:
    """Re-queue or interrupt one stale job, unless it showed life (or moved on) meanwhile."""
    values: dict[str, Any] = {"message": message, "heartbeat_at": None}
    if requeue:
        values["status"] = QUEUED
    else:
        values.update(status=INTERRUPTED, finished_at=now())
    statement = _mine(job).where(_last_sign_of_life() < before).values(**values)
    action = "job_requeued" if requeue else "job_interrupted"
    return _transition(store, statement, job, action, message)
