"""Pieces every API area uses: error documentation, job summaries, view auditing."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import HTTPException, Path, Query, Request
from pydantic import AfterValidator, BaseModel

from kaitiaki.audit import record
from kaitiaki.audit.log import utc
from kaitiaki.store import Store
from kaitiaki.web.authz import CurrentUser

# SQLite hands datetimes back naive (they were written as UTC); the API always says so.
Timestamp = Annotated[datetime, AfterValidator(utc)]


# Ids beyond this are refused by validation: SQLite integers overflow past 2**63. A path id
# out of range (or a key too long, or holding control characters, which PostgreSQL refuses in
# text) fails validation, which ``create_app`` answers with 404: it names nothing.
MAX_ID = 2**31 - 1
PathId = Annotated[int, Path(ge=0, le=MAX_ID)]
QueryId = Annotated[int | None, Query(ge=0, le=MAX_ID)]
PathKey = Annotated[str, Path(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Problem(BaseModel):
    detail: Any


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI documentation of the error responses a route may give (always 400, 401, 403,
    422: malformed bodies, no session, no permission or CSRF token, invalid values)."""
    return {code: {"model": Problem} for code in sorted({400, 401, 403, 422, *codes})}


class JobOut(BaseModel):
    id: int
    kind: str
    status: str
    done: int
    total: int | None
    message: str
    created_by: str
    created_at: Timestamp | None
    started_at: Timestamp | None
    finished_at: Timestamp | None
    error: str | None
    result: dict[str, Any] | None


def job_out(view: Any) -> JobOut:
    return JobOut(
        id=view.id,
        kind=view.kind,
        status=view.status,
        done=view.done or 0,
        total=view.total,
        message=view.message or "",
        created_by=view.created_by or "",
        created_at=view.created_at,
        started_at=view.started_at,
        finished_at=view.finished_at,
        error=view.error,
        result=view.result,
    )


def submit_job(request: Request, kind: str, params: dict[str, Any], user: CurrentUser) -> JobOut:
    """Queue long work for the job runner; the submission itself is audited.

    The job is held to the server's evidence and work folders (``jobs.paths``): its kind
    checks every path parameter against them now and again when it runs."""
    from kaitiaki.jobs import get_job, submit
    from kaitiaki.jobs.paths import with_confinement

    store = store_of(request)
    confined = with_confinement(params, request.app.state.settings.confinement())
    try:
        job_id = submit(store, kind, confined, by=user.actor)
    except (ValueError, OSError) as exc:  # JobParamsError names the field
        raise HTTPException(422, str(exc)) from None
    # ``submit`` wrote the submission's audit entry in the job's own transaction.
    request.app.state.wake_jobs()
    view = get_job(store, job_id)
    if view is None:  # pragma: no cover - the row was written just above
        raise HTTPException(500, "the job was not recorded")
    return job_out(view)


def audit_view(
    store: Store,
    user: CurrentUser,
    target_type: str,
    target_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Every look at a file, subject or referral is written to the audit log."""
    with store.session() as session:
        record(
            session,
            actor=user.actor,
            action="view",
            target_type=target_type,
            target_id=target_id,
            details=details,
        )


def store_of(request: Request) -> Store:
    store: Store = request.app.state.store
    return store
