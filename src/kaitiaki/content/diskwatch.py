"""A disk image's walk in a child process that is stopped when it stalls.

The Sleuth Kit parses file systems in C. On some damaged or hostile images it loops without end
inside one call (found by the fuzz suite: an ext4 image whose directory metadata was altered kept
``open_dir`` busy for good, reading nothing), and a call into C cannot be interrupted from Python.
So the walk runs in a forked child that sends each item as it is found; when nothing comes for
``stall_s`` seconds the child is killed and the walk ends in ``DiskImageError``, with the items
already sent kept. A fork is cheap and shares the open image with the child, read-only.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from kaitiaki.content.diskimage import DiskImageError

T = TypeVar("T")

# Long enough for a folder of a million entries (listed whole before its first file is sent).
STALL_SECONDS = float(os.environ.get("KAITIAKI_TSK_STALL_SECONDS", "300"))


def watched(produce: Callable[[], Iterator[T]], stall_s: float | None = None) -> Iterator[T]:
    """The items of ``produce()``, made in a child process; its error is raised here."""
    stall = STALL_SECONDS if stall_s is None else stall_s
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_run, args=(produce, send), daemon=True)
    child.start()
    send.close()
    try:
        while True:
            if not receive.poll(stall):
                raise DiskImageError(
                    f"The Sleuth Kit found nothing more for {stall:g} s (a damaged file system "
                    "it loops on); the walk was stopped"
                )
            try:
                kind, value = receive.recv()
            except EOFError:
                child.join()
                raise DiskImageError(
                    f"the disk image walk ended unexpectedly (exit code {child.exitcode})"
                ) from None
            if kind == "item":
                yield value
            elif kind == "error":
                raise value
            else:
                return
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receive.close()


def _run(produce: Callable[[], Iterator[Any]], send: Connection) -> None:
    try:
        for item in produce():
            send.send(("item", item))
        send.send(("done", None))
    except BaseException as exc:  # handed to the parent, which raises it there
        try:
            pickle.dumps(exc)
        except Exception:
            exc = DiskImageError(f"{type(exc).__name__}: {exc}")
        send.send(("error", exc))
    finally:
        send.close()
