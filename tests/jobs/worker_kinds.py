"""Job kinds for the isolation tests, at module level so that a spawned worker can import them:
one that crashes its process, one that waits to be killed, one that allocates without end,
and one that just finishes."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from kaitiaki.jobs import JobContext, JobKind
from kaitiaki.store import Store


def _same(store: Store, params: dict[str, Any]) -> dict[str, Any]:
    return dict(params)


def _crash(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.progress(1, 2, "about to crash")
    os.kill(os.getpid(), signal.SIGSEGV)  # what a crash in a C extension looks like
    time.sleep(60)
    return {}


def _wait(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    Path(params["pid_file"]).write_text(str(os.getpid()))
    for step in range(1200):
        ctx.progress(step, 1200, "waiting to be killed")
        time.sleep(0.1)
    return {}


def _hog(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    held = [bytearray(64 << 20) for _ in range(params["chunks"])]
    return {"held": len(held)}


def _quick(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    ctx.progress(1, 1, "done")
    return {"pid": os.getpid()}


CRASH = JobKind("test_crash", "Crash the worker", False, _same, _crash)
WAIT = JobKind("test_wait", "Wait to be killed", True, _same, _wait)
HOG = JobKind("test_hog", "Allocate without end", False, _same, _hog)
QUICK = JobKind("test_quick", "Finish at once", False, _same, _quick)
ALL = (CRASH, WAIT, HOG, QUICK)
