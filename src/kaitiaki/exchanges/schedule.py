"""Scheduled fetches: which exchanges are due, and taking each due fetch exactly once.

An exchange with ``fetch_every_s`` is due when it is enabled and its last fetch started that
long ago (or it was never fetched). Several job runners (server processes, machines sharing
PostgreSQL) and ``exchange fetch --due`` from cron may all look at once; each takes a due fetch
with one conditional UPDATE that moves ``last_fetch_started`` to now only if the exchange is
still due, so one of them wins and the others update nothing. The winner queues the job in the
same transaction: a fetch is never taken without its job, nor queued twice.

An exchange whose fetch job is still queued or running is not due whatever the clock says, so a
fetch slower than its schedule never has a second one piled behind it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, event, or_, select, update
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.exchanges.manage import FETCH_KIND, ExchangeView, _view, fetch_jobs, find
from kaitiaki.exchanges.timing import check_every, describe
from kaitiaki.store import Store
from kaitiaki.store.models import Exchange, Job, utcnow

# Who queues a scheduled fetch: the schedule itself, set (and audited) by a person earlier.
SCHEDULER = "kaitiaki:scheduler"


@dataclass(frozen=True)
class Taken:
    """A due fetch this caller won; ``job_id`` when it was queued as a job."""

    name: str
    job_id: int | None


def set_schedule(store: Store, name: str, every: int | None, *, actor: str) -> ExchangeView:
    """Fetch the exchange every ``every`` seconds, or by hand only (None); audited when that
    changes something."""
    if every is not None:
        check_every(every)
    with store.session() as session:
        row = find(session, name)
        if row.fetch_every_s != every:
            record(
                session,
                actor=actor,
                action="exchange.scheduled",
                target_type="exchange",
                target_id=str(row.id),
                details={"name": name, "fetch_every_s": every, "was": row.fetch_every_s},
            )
            row.fetch_every_s = every
        return _view(session, row)


def take_due(
    store: Store,
    *,
    now: datetime | None = None,
    queue_as: str | None = None,
) -> list[Taken]:
    """Take every due fetch not taken by someone else. With ``queue_as``, each is queued as a
    ``fetch_exchange`` job submitted by that actor in the taking transaction; without, the
    caller runs the fetches itself (``exchange fetch --due``)."""
    at = now or utcnow()
    with store.session() as session:
        busy = set(fetch_jobs(session))
        candidates = list(
            session.execute(
                select(Exchange.id, Exchange.name, Exchange.fetch_every_s)
                .where(Exchange.enabled.is_(True), Exchange.fetch_every_s.is_not(None))
                .order_by(Exchange.name)
            )
        )
    taken = []
    for exchange_id, name, every in candidates:
        if name in busy or every is None:
            continue
        with store.session() as session:
            if not _take(session, exchange_id, every, at):
                continue
            job_id = None if queue_as is None else _queue(session, name, every, queue_as)
        taken.append(Taken(name, job_id))
    return taken


def _take(session: Session, exchange_id: int, every: int, at: datetime) -> bool:
    """Move the exchange's last start to ``at`` if it is still due; True if this call did."""
    cutoff = at - timedelta(seconds=every)
    statement = (
        update(Exchange)
        .where(
            Exchange.id == exchange_id,
            Exchange.enabled.is_(True),
            # The schedule as read: one changed meanwhile is judged again next round.
            Exchange.fetch_every_s == every,
            or_(Exchange.last_fetch_started.is_(None), Exchange.last_fetch_started <= cutoff),
        )
        .values(last_fetch_started=at)
        .execution_options(synchronize_session=False)
    )
    result = cast(CursorResult[Any], session.execute(statement))
    return result.rowcount == 1


def _queue(session: Session, name: str, every: int, actor: str) -> int:
    params = {"exchange": name}
    job = Job(kind=FETCH_KIND, params=params, status="queued", created_by=actor, message="queued")
    session.add(job)
    session.flush()
    record(
        session,
        actor=actor,
        action="job_submitted",
        target_type="job",
        target_id=str(job.id),
        details={
            "kind": FETCH_KIND,
            "params": params,
            "because": f"scheduled every {describe(every)}",
        },
    )
    # Runners in this process start it when it commits (others find it by polling).
    event.listen(session, "after_commit", _wake_runners, once=True)
    return job.id


def _wake_runners(session: Session) -> None:
    from kaitiaki.jobs.queue import work_arrived

    with work_arrived:
        work_arrived.notify_all()


def queue_due(store: Store) -> list[Taken]:
    """The job runner's periodic task: queue a fetch job for every exchange that is due."""
    return take_due(store, queue_as=SCHEDULER)
