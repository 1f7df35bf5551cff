"""What a job looks like to its callers: a frozen snapshot of its row, and the status names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from kaitiaki.store.models import Job

QUEUED: Final = "queued"
RUNNING: Final = "running"
DONE: Final = "done"
FAILED: Final = "failed"
CANCELLED: Final = "cancelled"
# The server stopped (or died) while the job ran, and the job cannot pick up where it was.
INTERRUPTED: Final = "interrupted"
FINISHED: Final = frozenset({DONE, FAILED, CANCELLED, INTERRUPTED})


def _utc(at: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; every one the store holds was written in UTC.
    if at is None:
        return None
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class JobView:
    """One job as it stood when read; ``done``/``total`` drive a progress bar."""

    id: int
    kind: str
    status: str
    done: int
    total: int | None
    message: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    result: dict[str, Any] | None
    params: dict[str, Any]
    # How many times a runner has started it (more than 1 after a restart resumed it).
    attempts: int = 0
    heartbeat_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def fraction(self) -> float | None:
        """Share done in [0, 1], or None while the total is unknown."""
        if not self.total:
            return 1.0 if self.status == DONE else None
        return min(1.0, self.done / self.total)


def view_of(row: Job) -> JobView:
    created = _utc(row.created_at)
    assert created is not None
    return JobView(
        id=row.id,
        kind=row.kind,
        status=row.status,
        done=row.done,
        total=row.total,
        message=row.message,
        created_by=row.created_by,
        created_at=created,
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
        error=row.error,
        result=dict(row.result) if row.result is not None else None,
        params=dict(row.params),
        attempts=row.attempts,
        heartbeat_at=_utc(row.heartbeat_at),
    )
