"""``/api/jobs``: long work and its live progress (the pages poll ``/api/jobs/{id}``)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request

from kaitiaki.web.api.common import JobOut, PathId, errors, job_out, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/jobs", tags=["jobs"])


@router.get("", response_model=list[JobOut], responses=errors())
def jobs(
    request: Request,
    limit: int = Query(50, ge=1, le=500),
    user: CurrentUser = Needs.VIEW_STATISTICS,
) -> list[JobOut]:
    from kaitiaki.jobs import list_jobs

    return [job_out(v) for v in list_jobs(store_of(request), limit=limit)]


@router.get("/{job_id}", response_model=JobOut, responses=errors(404))
def job(job_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_STATISTICS) -> JobOut:
    from kaitiaki.jobs import get_job

    view = get_job(store_of(request), job_id)
    if view is None:
        raise HTTPException(404, f"no job {job_id}")
    return job_out(view)


@router.post("/{job_id}/cancel", response_model=JobOut, responses=errors(404, 409))
def job_cancel(job_id: PathId, request: Request, user: CurrentUser = Needs.ANALYSE) -> JobOut:
    """Cancel a queued or running job (a running one stops at its next progress report)."""
    from kaitiaki.jobs import cancel, get_job

    store = store_of(request)
    if get_job(store, job_id) is None:
        raise HTTPException(404, f"no job {job_id}")
    if not cancel(store, job_id, by=user.actor):
        raise HTTPException(409, f"job {job_id} has already finished")
    view = get_job(store, job_id)
    assert view is not None
    return job_out(view)
