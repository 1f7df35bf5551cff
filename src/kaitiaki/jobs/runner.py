"""``JobRunner``: threads that claim queued jobs from the store and run them.

Restart recovery. A running job's runner refreshes its ``heartbeat_at`` every ``lease / 4``
seconds, whether or not the work reports progress. A job still "running" whose last sign of life
is older than ``lease`` therefore belongs to a runner that died (or lost its database for a whole
lease): any runner, on start and every ``lease / 2`` seconds after, re-queues it if its kind can
resume and it has been started fewer than ``max_attempts`` times, and marks it ``interrupted``
otherwise. This rule needs no registry of live servers, so it is as safe with two servers on one
PostgreSQL as with one: a live server's jobs never go stale. Each change is conditional on the
job still being stale and on its attempt number (a fencing token), so two servers recovering at
once act once, and a runner presumed dead that wakes up finds its writes refused and stops the
work. The price is that after a crash a job waits up to ``lease`` seconds before it resumes.
Clocks of servers sharing a database must agree to well within the lease.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from kaitiaki.jobs import claims
from kaitiaki.jobs.claims import Claim
from kaitiaki.jobs.context import JobCancelled, JobContext, JobStopped
from kaitiaki.jobs.isolation import run_isolated
from kaitiaki.jobs.kind import JobKind
from kaitiaki.jobs.kinds import get_kind
from kaitiaki.jobs.queue import work_arrived
from kaitiaki.jobs.view import DONE, FAILED, INTERRUPTED
from kaitiaki.store import Store, open_store

log = logging.getLogger(__name__)


class JobRunner:
    """Runs up to ``workers`` jobs at once from the store at ``store_url``."""

    def __init__(
        self,
        store_url: str,
        workers: int = 2,
        *,
        lease: float = 60.0,
        poll_interval: float = 1.0,
        max_attempts: int = 3,
        progress_interval: float = 0.5,
        isolate: bool = False,
        memory_limit: int | None = None,
        periodic: Sequence[Callable[[Store], object]] = (),
        periodic_interval: float = 30.0,
    ) -> None:
        if workers < 1:
            raise ValueError("workers: a runner needs at least one worker")
        self.store_url = store_url
        self.workers = workers
        self.lease = lease
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.progress_interval = progress_interval
        # Each attempt in a process of its own (see ``isolation``): what the server uses. In
        # this process (the default) for the CLI, tests and kinds registered at run time.
        self.isolate = isolate
        if memory_limit is not None and not isolate:
            raise ValueError("memory_limit: only an isolated runner can limit a job's memory")
        self.memory_limit = memory_limit
        # Tasks run on start and every ``periodic_interval`` seconds after, each queueing the
        # jobs that have come due (scheduled exchange fetches); each must be safe to run from
        # several runners at once.
        self.periodic = tuple(periodic)
        self.periodic_interval = periodic_interval
        self._store: Store | None = None
        self._store_lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def store(self) -> Store:
        with self._store_lock:
            if self._store is None:
                self._store = open_store(self.store_url)
            return self._store

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def start(self) -> None:
        """Recover jobs a dead runner left behind, then start the worker threads."""
        if self._threads:
            return
        self._stopping.clear()
        self.recover()
        for n in range(self.workers):
            self._threads.append(
                threading.Thread(target=self._work, name=f"kaitiaki-job-{n}", daemon=True)
            )
        self._threads.append(
            threading.Thread(target=self._watch, name="kaitiaki-job-recovery", daemon=True)
        )
        if self.periodic:
            self._threads.append(
                threading.Thread(target=self._tick, name="kaitiaki-job-schedule", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop claiming; ask running jobs to stop at their next progress report and wait.

        A stopped job that can resume goes back to the queue, any other is ``interrupted``.
        Returns False if some job did not stop within ``timeout``: its row stays "running"
        and the next runner recovers it once its heartbeat goes stale.
        """
        self._stopping.set()
        with work_arrived:
            work_arrived.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        if not alive and self._store is not None:
            self._store.close()
            self._store = None
        return not alive

    def run_once(self) -> int | None:
        """Claim one queued job and run it in this thread; its id, or None if none was queued."""
        claim = claims.claim_next(self.store)
        if claim is None:
            return None
        self._execute(claim)
        return claim.id

    def recover(self) -> list[int]:
        """Re-queue or interrupt jobs whose runner stopped showing signs of life."""
        before = claims.now() - timedelta(seconds=self.lease)
        recovered = []
        for job in claims.stale(self.store, before):
            try:
                resumable = get_kind(job.kind).resumable
            except ValueError:
                resumable = False
            again = resumable and job.attempt < self.max_attempts
            if again:
                message = f"re-queued: its server stopped while it ran (attempt {job.attempt})"
            elif resumable:
                message = f"interrupted: its server stopped while it ran, {job.attempt} times"
            else:
                message = "interrupted: its server stopped while it ran; submit it again"
            if claims.recover(self.store, job, before, requeue=again, message=message):
                log.warning("job %d (%s): %s", job.id, job.kind, message)
                recovered.append(job.id)
        if recovered:
            with work_arrived:
                work_arrived.notify_all()
        return recovered

    def _work(self) -> None:
        while not self._stopping.is_set():
            try:
                claim = claims.claim_next(self.store)
            except Exception:  # the database may be briefly unreachable; keep serving
                log.exception("claiming a job failed")
                claim = None
            if claim is not None:
                self._execute(claim)
                continue
            with work_arrived:
                if not self._stopping.is_set():
                    work_arrived.wait(self.poll_interval)

    def _watch(self) -> None:
        while not self._stopping.wait(self.lease / 2):
            try:
                self.recover()
            except Exception:
                log.exception("recovering stale jobs failed")

    def run_periodic(self) -> None:
        """Run each periodic task once; one that fails is logged and the others still run."""
        for task in self.periodic:
            try:
                task(self.store)
            except Exception:  # the database may be briefly unreachable; try next round
                log.exception("periodic task %s failed", getattr(task, "__name__", task))

    def _tick(self) -> None:
        self.run_periodic()
        while not self._stopping.wait(self.periodic_interval):
            self.run_periodic()

    def _execute(self, claim: Claim) -> None:
        """Run one claimed job to its end state; nothing it raises escapes."""
        ctx = JobContext(
            self.store, claim, stopping=self._stopping.is_set, interval=self.progress_interval
        )
        beating = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(claim, ctx, beating), name=f"kaitiaki-beat-{claim.id}"
        )
        beat.daemon = True
        beat.start()
        try:
            self._outcome(claim, ctx)
        except Exception:  # writing the outcome failed: the heartbeat stops, recovery takes over
            log.exception("job %d: recording its outcome failed", claim.id)
        finally:
            beating.set()
            beat.join()

    def _outcome(self, claim: Claim, ctx: JobContext) -> None:
        store = self.store
        try:
            kind = get_kind(claim.kind)
        except ValueError as exc:  # a kind this version of the server does not know
            claims.finish(
                store, claim, FAILED, message="failed", done=0, total=None, error=str(exc)
            )
            return
        if self.isolate:
            run_isolated(
                self.store_url,
                store,
                claim,
                kind,
                stopping=self._stopping.is_set,
                interval=self.progress_interval,
                memory_limit=self.memory_limit,
            )
        else:
            run_attempt(store, claim, kind, ctx)

    def _heartbeat(self, claim: Claim, ctx: JobContext, finished: threading.Event) -> None:
        while not finished.wait(self.lease / 4):
            try:
                if not claims.heartbeat(self.store, claim):
                    ctx.lost()
            except Exception:
                log.exception("job %d: heartbeat failed", claim.id)


def run_attempt(store: Store, claim: Claim, kind: JobKind, ctx: JobContext) -> None:
    """Run one attempt of ``claim`` and record how it ended; what the work raises is caught.

    Shared by the in-thread runner and an isolated attempt's child process.
    """
    try:
        result = kind.run(ctx, dict(claim.params))
    except JobCancelled:
        log.info("job %d: cancelled", claim.id)
    except JobStopped:
        if kind.resumable:
            claims.requeue(store, claim, "re-queued: the server stopped; it resumes on restart")
        else:
            claims.finish(
                store,
                claim,
                INTERRUPTED,
                message="interrupted: the server stopped while it ran; submit it again",
                done=ctx.done,
                total=ctx.total,
            )
    except Exception as exc:
        log.exception("job %d (%s) failed", claim.id, claim.kind)
        error = f"{type(exc).__name__}: {exc}"
        claims.finish(
            store, claim, FAILED, message="failed", done=ctx.done, total=ctx.total, error=error
        )
    else:
        total = ctx.total if ctx.total is not None else ctx.done
        done = max(ctx.done, total)
        claims.finish(store, claim, DONE, message="done", done=done, total=total, result=result)
