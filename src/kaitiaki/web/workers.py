"""Several server processes on one port: ``kaitiaki serve --workers N``.

uvicorn's supervisor binds the socket once and starts N processes that accept on it (and
restarts one that dies). Each worker builds its own application from the same store and
settings, and maps the same index files (``match.serving``), so N workers cost one copy of a
bank's index in memory, not N. Background jobs and audit anchors run once, in this parent
process, not once per worker: a job is claimed in the store either way, but N anchor writers
and N job pools would be N times the work.
"""

from __future__ import annotations

import base64
import gc
import os
import pickle
from dataclasses import replace

from fastapi import FastAPI

from kaitiaki.web.settings import WebSettings

# The parent hands each worker its settings through the environment it starts them with.
# (Pickled: the settings hold paths and durations; only this process's own children read it.)
_ENV = "KAITIAKI_SERVE_WORKER"


def worker_app() -> FastAPI:
    """uvicorn's application factory, called in each worker process."""
    from kaitiaki.store import open_store
    from kaitiaki.web.app import create_app

    url, settings = pickle.loads(base64.b64decode(os.environ[_ENV]))
    app = create_app(open_store(url, migrate=False), settings)
    settle_heap()
    return app


def settle_heap() -> None:
    """Put what the start-up made out of the garbage collector's sight: it lives as long as
    the process, and a full collection walking it took tens of milliseconds from whichever
    request triggered it (the tail of a busy matching client's latencies). Only in a server
    process: a process that makes many applications (the tests) would keep their garbage.
    The index kernels are imported on first use (numba's import is a second of every command
    line's start); a server will use them, so they come in now, not in a client's lookup, and
    numba's objects are frozen with the rest."""
    from kaitiaki.index._segment import kernels

    kernels()
    gc.collect()
    gc.freeze()


def run_workers(
    url: str,
    settings: WebSettings,
    *,
    host: str,
    port: int,
    workers: int,
    forwarded_allow_ips: str | None,
    access_log: bool = True,
) -> None:
    """Serve with ``workers`` processes until interrupted; jobs and anchors run here."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from kaitiaki.audit import AnchorKeeper
    from kaitiaki.store import open_store
    from kaitiaki.web.job_process import JobProcess

    in_workers = replace(settings, start_jobs=False, anchor_dir=None)
    os.environ[_ENV] = base64.b64encode(pickle.dumps((url, in_workers))).decode()
    config = uvicorn.Config(
        "kaitiaki.web.workers:worker_app",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        access_log=access_log,
        # A worker imports the application and opens the store before it answers the
        # supervisor's first health check: on a busy machine that takes more than uvicorn's 5 s.
        timeout_worker_healthcheck=60,
    )
    runner = (
        JobProcess(url, settings.job_workers, settings.job_memory_limit)
        if settings.start_jobs
        else None
    )
    anchors = (
        None
        if settings.anchor_dir is None
        else AnchorKeeper(
            open_store(url, migrate=False), settings.anchor_dir, settings.anchor_every
        )
    )
    if runner is not None:
        runner.start()
    if anchors is not None:
        anchors.start()
    try:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        if runner is not None:
            runner.stop()
        if anchors is not None:
            anchors.stop()
