"""The web server's job runner, in a child process of its own.

A scan's orchestration (index build, matching, writing, planning) is Python work that holds the
GIL; run in the server's threads it made every page wait behind it. In a spawned child process
it competes with the web server only for CPU, not for its interpreter.

The parent talks to the child through one pipe: ``"wake"`` when it has queued a job (so the job
starts at once rather than at the next poll) and ``"stop"`` on shutdown. The child stops its
``JobRunner`` exactly as an in-process one stops (resumable jobs re-queued, others marked
interrupted) when told to, on SIGTERM, or when the pipe closes because the server died. SIGINT is
ignored in the child: Ctrl+C reaches the whole process group, and the server decides the order.

Supervised at two levels. In the child, each job attempt runs in a process of its own
(``jobs.isolation``): a job that crashes its worker (a segfault in native code, the kernel's
out-of-memory killer) is failed with the reason and the runner goes on. Here, a watcher thread
restarts the child itself should it die, so jobs queued later still run and the web server
keeps serving; its running jobs are recovered by the usual stale-heartbeat rule.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess

log = logging.getLogger(__name__)

# How often idle workers look for queued jobs that no wake-up announced (another server's, or
# a wake-up lost while the child was starting).
POLL_INTERVAL = 0.5
STOP_TIMEOUT = 30.0
# Restarts of a child that keeps dying are spaced out, up to this many seconds apart.
MAX_RESTART_DELAY = 30.0


def _child(
    store_url: str, workers: int, control: Connection, memory_limit: int | None = None
) -> None:
    from kaitiaki.exchanges.schedule import queue_due
    from kaitiaki.jobs import JobRunner
    from kaitiaki.jobs.queue import work_arrived
    from kaitiaki.legal.retention import queue_due_retention

    logging.basicConfig(level=logging.INFO, format="kaitiaki jobs: %(levelname)s %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    terminated = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: terminated.set())
    runner = JobRunner(
        store_url,
        workers=workers,
        poll_interval=POLL_INTERVAL,
        isolate=True,
        memory_limit=memory_limit,
        # Scheduled exchange fetches and the daily retention run (when a policy is configured,
        # $KAITIAKI_RETENTION_POLICY) are queued by every server's runner; each is taken once.
        periodic=(queue_due, queue_due_retention),
    )
    runner.start()
    try:
        while not terminated.is_set():
            try:
                if not control.poll(POLL_INTERVAL):
                    continue
                message = control.recv()
            except (EOFError, OSError):  # the server is gone: nobody will say stop
                break
            if message == "stop":
                break
            with work_arrived:
                work_arrived.notify_all()
    finally:
        stopped = runner.stop(STOP_TIMEOUT)
        if not stopped:
            log.warning("a job did not stop in time; it is recovered once its heartbeat is stale")


class JobProcess:
    """Starts, wakes and stops the job runner's child process."""

    def __init__(self, store_url: str, workers: int, memory_limit: int | None = None) -> None:
        self.store_url = store_url
        self.workers = workers
        self.memory_limit = memory_limit  # per job attempt, bytes of address space
        self._process: BaseProcess | None = None
        self._control: Connection | None = None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self.restarts = 0

    def start(self) -> None:
        self._stopping.clear()
        self._spawn()
        self._watcher = threading.Thread(
            target=self._watch, name="kaitiaki-jobs-watch", daemon=True
        )
        self._watcher.start()

    def _watch(self) -> None:
        """Restart the child whenever it exits without being told to stop."""
        delay = 1.0
        while not self._stopping.is_set():
            process = self._process
            if process is None:
                return
            wait([process.sentinel], timeout=POLL_INTERVAL)
            if process.is_alive() or self._stopping.is_set():
                continue
            log.error("the job process died (exit code %s); restarting it", process.exitcode)
            started = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    return
                if self._control is not None:
                    self._control.close()
                self._spawn()
                self.restarts += 1
            # A child that dies at once again waits longer each time before its next start.
            if self._stopping.wait(delay):
                return
            delay = (
                1.0
                if time.monotonic() - started > MAX_RESTART_DELAY
                else min(2 * delay, MAX_RESTART_DELAY)
            )

    def _spawn(self) -> None:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        # Not a daemon: a scan's hashing starts worker processes of its own, which a daemonic
        # process may not. The pipe ends the child if this process dies without stopping it.
        process = context.Process(
            target=_child,
            args=(self.store_url, self.workers, theirs, self.memory_limit),
            name="kaitiaki-jobs",
            daemon=False,
        )
        process.start()
        theirs.close()
        self._process, self._control = process, ours

    def wake(self) -> None:
        """Tell the runner a job was queued; harmless if it is busy or gone."""
        self._send("wake")

    def stop(self, timeout: float = STOP_TIMEOUT + 5.0) -> bool:
        """Stop the runner and wait for the child; False if it had to be killed."""
        self._stopping.set()
        process = self._process
        if process is None:
            return True
        self._send("stop")
        if self._watcher is not None:
            self._watcher.join()
            self._watcher = None
        process = self._process
        if process is None:
            return True
        process.join(timeout)
        clean = not process.is_alive()
        if not clean:
            # Its running jobs stay "running" and are recovered once their heartbeat is stale.
            log.warning("the job process did not stop in %.0f s; killing it", timeout)
            process.kill()
            process.join(5.0)
        with self._lock:
            if self._control is not None:
                self._control.close()
            self._process = self._control = None
        return clean

    def _send(self, message: str) -> None:
        with self._lock:
            if self._control is None:
                return
            with contextlib.suppress(OSError, ValueError):  # the child already exited
                self._control.send(message)
