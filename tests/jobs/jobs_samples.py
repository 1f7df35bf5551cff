"""Helpers for the job tests: small kinds under the test's control, and polling with a deadline."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from kaitiaki.jobs import JobContext, JobKind, JobParamsError, get_job, register
from kaitiaki.jobs.kinds import unregister
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent

DEADLINE = 120.0


def wait_until(check: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` at the deadline."""
    end = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.02)


def wait_status(store: Store, job_id: int, *statuses: str) -> Any:
    return wait_until(
        lambda: (j := get_job(store, job_id)) is not None and j.status in statuses and j,
        f"job {job_id} to be {' or '.join(statuses)}",
    )


def audit_actions(store: Store, job_id: int) -> list[tuple[str, str]]:
    """(action, actor) of every audit entry about ``job_id``, oldest first."""
    with store.session() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.target_type == "job", AuditEvent.target_id == str(job_id))
            .order_by(AuditEvent.id)
        )
        return [(a, b) for a, b in rows]


@dataclass
class Counting:
    """A kind that counts to ``n``, reporting each step; it can be held at a step by a gate.

    ``runs`` counts how many times each job's work started, across every runner and thread.
    """

    name: str = "test_count"
    resumable: bool = True
    runs: Counter[int] = field(default_factory=Counter)
    hold_at: int | None = None
    reached: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    # Set whenever a run ends, however it ends.
    ended: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def validate(self, store: Store, params: dict[str, Any]) -> dict[str, Any]:
        n = params.get("n")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise JobParamsError("n", "must be a positive whole number")
        return {"n": n, "fail": str(params.get("fail", ""))}

    def run(self, ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.runs[ctx.job_id] += 1
        try:
            return self._count(ctx, params["n"], params["fail"])
        finally:
            self.ended.set()

    def _count(self, ctx: JobContext, n: int, fail: str) -> dict[str, Any]:
        for i in range(1, n + 1):
            if fail and i == n // 2 + 1:
                raise RuntimeError(fail)
            if i == self.hold_at:
                ctx.stage(f"held at {i}", i, n)
                self.reached.set()
                assert self.release.wait(DEADLINE), "the test never released the job"
                ctx.stage(f"released at {i}", i, n)  # written at once: sees a cancel or a stop
            ctx.progress(i, n, f"step {i} of {n}")
        return {"counted": n, "by": ctx.created_by}

    def kind(self) -> JobKind:
        return JobKind(self.name, "count", self.resumable, self.validate, self.run)


@contextmanager
def registered(counting: Counting) -> Iterator[Counting]:
    register(counting.kind())
    try:
        yield counting
    finally:
        counting.release.set()
        unregister(counting.name)
