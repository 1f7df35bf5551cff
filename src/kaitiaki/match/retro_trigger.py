"""Queueing a retroactive match whenever a hash set gains entries.

Every path that adds entries (an import, an exchange fetch, a curation call, a received
package, a series import) calls ``request_retro_match`` in the transaction that adds them, so
the job exists exactly when the entries do: a rolled-back import queues nothing, and a
committed one cannot be left unmatched because the process stopped before queueing.

One queued job per set is enough: the job takes every entry after the set's watermark when it
runs, so entries added while a job waits are taken by that same job. A job already running may
have read the watermark before the new entries came, so a new job is queued beside it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.store.models import HashSet, Job

KIND = "retro_match"
# ``jobs.view.QUEUED``, written out: importing the jobs package from here would import every
# job kind, and the import paths that call this are imported by those kinds.
QUEUED = "queued"


def request_retro_match(
    session: Session, hash_set: HashSet, actor: str, *, again_from: int | None = None
) -> None:
    """Queue one ``retro_match`` job for ``hash_set`` in ``session``'s transaction, unless one
    is already queued and not started. Submitted as ``actor``, who the job then acts for.

    ``again_from``: an entry id the job must take even though an earlier run passed it (an
    entry released from quarantine, which that run left out). The watermark is lowered to just
    before it; the entries after it are taken again too, which adds nothing twice.
    """
    if not actor.strip():
        raise ValueError("actor: a retroactive match needs the name of who asks for it")
    if again_from is not None and (hash_set.retro_matched_through or 0) >= again_from:
        hash_set.retro_matched_through = again_from - 1
    session.flush()
    # Locked (PostgreSQL) so two transactions adding to one set queue one job between them;
    # SQLite serialises writers anyway.
    session.execute(select(HashSet.id).where(HashSet.id == hash_set.id).with_for_update())
    waiting = session.scalars(select(Job.params).where(Job.kind == KIND, Job.status == QUEUED))
    if any((params or {}).get("hash_set") == hash_set.name for params in waiting):
        return
    params: dict[str, Any] = {"hash_set": hash_set.name}
    job = Job(kind=KIND, params=params, status=QUEUED, created_by=actor, message="queued")
    session.add(job)
    session.flush()
    record(
        session,
        actor=actor,
        action="job_submitted",
        target_type="job",
        target_id=str(job.id),
        details={"kind": KIND, "params": params, "because": "hash set gained entries"},
    )
    # Runners in this process wake when it commits (others find it by polling).
    event.listen(session, "after_commit", _wake_runners, once=True)


def _wake_runners(session: Session) -> None:
    # Imported here: the queue module imports every job kind, which imports the matcher.
    from kaitiaki.jobs.queue import work_arrived

    with work_arrived:
        work_arrived.notify_all()
