"""Background jobs: long work (scan, analysis, referrals, hash-set imports) queued in the store.

Jobs live in the ``jobs`` table, so a restart loses none and several servers can share one
PostgreSQL. ``submit`` checks and queues; a ``JobRunner`` claims and runs; ``get_job`` and
``list_jobs`` show live progress. Kinds live one module each under ``jobs/kinds/``.
"""

from kaitiaki.jobs.context import JobCancelled, JobContext, JobStopped
from kaitiaki.jobs.kind import JobKind
from kaitiaki.jobs.kinds import get_kind, names, register
from kaitiaki.jobs.params import JobParamsError
from kaitiaki.jobs.queue import cancel, get_job, list_jobs, submit
from kaitiaki.jobs.runner import JobRunner
from kaitiaki.jobs.view import (
    CANCELLED,
    DONE,
    FAILED,
    FINISHED,
    INTERRUPTED,
    QUEUED,
    RUNNING,
    JobView,
)

__all__ = [
    "CANCELLED",
    "DONE",
    "FAILED",
    "FINISHED",
    "INTERRUPTED",
    "QUEUED",
    "RUNNING",
    "JobCancelled",
    "JobContext",
    "JobKind",
    "JobParamsError",
    "JobRunner",
    "JobStopped",
    "JobView",
    "cancel",
    "get_job",
    "get_kind",
    "list_jobs",
    "names",
    "register",
    "submit",
]
