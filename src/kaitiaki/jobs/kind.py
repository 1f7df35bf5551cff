"""What a kind of job is: how its parameters are checked, how it runs, whether it can resume."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaitiaki.jobs.context import JobContext
    from kaitiaki.store import Store

Params = dict[str, Any]


@dataclass(frozen=True)
class JobKind:
    """One kind of job. Every module under ``jobs/kinds/`` defines one as ``KIND``.

    ``validate`` runs at submit time in the caller's process: it returns the parameters to store
    (normalised: absolute paths, defaults filled in) or raises ``JobParamsError`` naming the
    field, so a bad request fails at once rather than later in a worker.

    ``run`` does the work in a runner thread and returns a JSON-able summary (the job's result).
    It reports through ``JobContext.progress``, which raises to stop the work when the job is
    cancelled or the runner stops.

    ``resumable``: started again after a restart, the job carries on from where it stopped
    instead of redoing or duplicating work (a scan skips the files already recorded). A job that
    is not resumable is marked ``interrupted`` instead, for a person to decide.
    """

    name: str
    title: str
    resumable: bool
    validate: Callable[[Store, Params], Params]
    run: Callable[[JobContext, Params], Params]
