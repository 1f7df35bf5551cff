"""One job attempt in a process of its own, so that a job can die without taking others along.

Jobs parse files from outside (hash sets, provider exports, archives, disk images). A crash in
native code (a segfault), the kernel's out-of-memory killer or an allocation bomb must end that
one job, as ``failed`` with the reason, while the runner goes on with the next. So, when the
runner isolates, each claimed attempt runs in a spawned child:

* the child opens its own store, runs the kind and records the outcome exactly as an in-thread
  run does (``run_attempt``), then exits 0;
* the parent keeps the heartbeat, passes on "stop" (the runner is stopping) and waits; a child
  that exits otherwise died under its job, which is then failed with the signal or exit code
  (``claims.worker_died``) and never re-queued: a job that killed its worker once would kill
  the next one too;
* ``memory_limit`` caps the child's address space (RLIMIT_AS), so an allocation bomb becomes
  a ``MemoryError``, a clean failure, long before the machine runs out.

The child is not a daemon: a scan starts hashing processes of its own, which a daemonic process
may not. Spawned, not forked: the runner has threads and open database connections.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import resource
import signal
from collections.abc import Callable
from multiprocessing.synchronize import Event

from kaitiaki.jobs import claims
from kaitiaki.jobs.claims import Claim
from kaitiaki.jobs.kind import JobKind
from kaitiaki.store import Store

log = logging.getLogger(__name__)

_WAIT = 0.2


def describe_exit(exitcode: int | None) -> str:
    """How a worker process ended, for a person: the signal's name or the exit status."""
    if exitcode is None:
        return "it did not exit"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (perhaps killed for using too much memory)" if name == "SIGKILL" else ""
        return f"signal {name}{hint}"
    return f"exit code {exitcode}"


def _attempt(
    store_url: str,
    claim: Claim,
    kind: JobKind,
    stop: Event,
    interval: float,
    memory_limit: int | None,
) -> None:
    """The child: run one attempt and record its outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the runner decides when to stop
    if memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    logging.basicConfig(level=logging.INFO, format="kaitiaki job: %(levelname)s %(message)s")
    from kaitiaki.jobs.context import JobContext
    from kaitiaki.jobs.runner import run_attempt
    from kaitiaki.store import open_store

    store = open_store(store_url)
    try:
        ctx = JobContext(store, claim, stopping=stop.is_set, interval=interval)
        run_attempt(store, claim, kind, ctx)
    finally:
        store.close()


def run_isolated(
    store_url: str,
    store: Store,
    claim: Claim,
    kind: JobKind,
    *,
    stopping: Callable[[], bool],
    interval: float,
    memory_limit: int | None,
) -> None:
    """Run ``claim`` in a child process and wait; fail the job if the child dies under it."""
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    try:
        pickle.dumps(kind)  # a kind the child cannot receive fails here, plainly
        process = context.Process(
            target=_attempt,
            args=(store_url, claim, kind, stop, interval, memory_limit),
            name=f"kaitiaki-job-{claim.id}",
            daemon=False,
        )
        process.start()
    except Exception as exc:
        log.exception("job %d: its worker process did not start", claim.id)
        claims.worker_died(
            store, claim, f"its worker process did not start: {type(exc).__name__}: {exc}"
        )
        return
    while process.is_alive():
        process.join(_WAIT)
        if stopping():
            stop.set()
    if process.exitcode != 0:
        reason = f"the job's worker died: {describe_exit(process.exitcode)}"
        if claims.worker_died(store, claim, reason):
            log.error("job %d (%s): %s", claim.id, claim.kind, reason)
    process.close()
