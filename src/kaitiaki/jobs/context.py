"""What a running job sees: its store, who asked for it, and a throttled progress reporter."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from kaitiaki.jobs import claims
from kaitiaki.jobs.claims import Claim
from kaitiaki.store import Store

log = logging.getLogger(__name__)


class JobStopped(Exception):  # noqa: N818 - a signal to unwind, not an error
    """The runner is stopping: unwind now; the runner re-queues or interrupts the job."""


class JobCancelled(Exception):  # noqa: N818
    """Someone cancelled the job (or another runner took it over): unwind now."""


class JobContext:
    """Handed to a kind's ``run``; ``progress`` is cheap to call as often as work advances.

    Progress reaches the database at most every ``interval`` seconds, a new stage at once;
    each write also refreshes the heartbeat and tells us whether the job is still
    ours to run. ``progress`` and ``check`` raise ``JobStopped`` or ``JobCancelled`` so that
    the work unwinds at a point where it is safe to stop.
    """

    def __init__(
        self,
        store: Store,
        claim: Claim,
        *,
        stopping: Callable[[], bool],
        interval: float = 0.5,
    ) -> None:
        self.store = store
        self.claim = claim
        self._stopping = stopping
        self._interval = interval
        self._lock = threading.Lock()
        self._lost = False
        self._last_write = float("-inf")
        self.done = 0
        self.total: int | None = None
        self.message = "started"

    @property
    def job_id(self) -> int:
        return self.claim.id

    @property
    def created_by(self) -> str:
        return self.claim.created_by

    @property
    def attempt(self) -> int:
        return self.claim.attempt

    def lost(self) -> None:
        """Called by the heartbeat when the row is no longer ours (cancelled or taken over)."""
        self._lost = True

    def check(self) -> None:
        if self._lost:
            raise JobCancelled(f"job {self.job_id} is no longer running here")
        if self._stopping():
            raise JobStopped(f"job {self.job_id}: the runner is stopping")

    def progress(self, done: int, total: int | None = None, message: str | None = None) -> None:
        """Record how far the work is; ``total`` None keeps the last one known."""
        with self._lock:
            self.done = done
            if total is not None:
                self.total = total
            if message is not None:
                self.message = message
            if time.monotonic() - self._last_write >= self._interval:
                self._write()
        self.check()

    def stage(self, message: str, done: int, total: int | None = None) -> None:
        """Enter a new stage: written at once, as a person waits to see it change."""
        with self._lock:
            self.done, self.message = done, message
            if total is not None:
                self.total = total
            self._write()
        self.check()

    def _write(self) -> None:
        self._last_write = time.monotonic()
        try:
            reported = claims.report(self.store, self.claim, self.done, self.total, self.message)
        except OperationalError as exc:
            # SQLite has one writer: a job whose own work holds a long write transaction (a
            # hash-set import writing its entries) blocks its progress row until that commits.
            # Progress is a report, not the work: skip this one, the next report writes it.
            if self.store.engine.dialect.name != "sqlite" or "locked" not in str(exc.orig):
                raise
            log.debug(
                "job %s: progress not written (store busy); next report writes it", self.job_id
            )
            return
        if not reported:
            self._lost = True
