"""Pages for the material: dashboard, evidence and scans, files, review, hash sets, jobs."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse

from kaitiaki.hashsets.profiles import PROFILES
from kaitiaki.web.api import evidence, exchanges, files, hashsets, review, stats
from kaitiaki.web.api.common import PathId, PathKey, QueryId, job_out, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request, user: CurrentUser = Needs.VIEW_STATISTICS) -> HTMLResponse:
    from kaitiaki.legal.holds import expiring_holds
    from kaitiaki.users.roles import Permission
    from kaitiaki.web.api import cybertip, holds

    store = store_of(request)
    # The provider's desk only for those who may read it: a hold names what it preserves.
    desk = user.can(Permission.VIEW_REPORTS)
    return page(
        request,
        "dashboard.html",
        user,
        figures=stats.dashboard(store, user.scope),
        desk=desk,
        expiring=[
            holds.HoldOut.model_validate(h, from_attributes=True) for h in expiring_holds(store)
        ]
        if desk
        else [],
        report_states=cybertip.counts_by_state(store) if desk else {},
    )


@router.get("/evidence", response_class=HTMLResponse)
def evidence_list(request: Request, user: CurrentUser = Needs.VIEW_FILES) -> HTMLResponse:
    store = store_of(request)
    return page(
        request,
        "evidence.html",
        user,
        items=evidence.list_evidence(store),
        hash_sets=hashsets.hash_sets(store),
    )


@router.get("/evidence/{evidence_id}", response_class=HTMLResponse)
def evidence_page(
    evidence_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_FILES
) -> HTMLResponse:
    store = store_of(request)
    return page(
        request,
        "evidence_detail.html",
        user,
        item=evidence.evidence_detail(store, evidence_id),
        hash_sets=hashsets.hash_sets(store),
    )


@router.get("/files", response_class=HTMLResponse)
def files_list(
    request: Request,
    evidence_id: QueryId = None,
    label: str | None = Query(None, max_length=16),
    category: str | None = Query(None, max_length=20),
    series: str | None = Query(None, max_length=200),
    kind: str | None = Query(None, max_length=16),
    offset: int = Query(0, ge=0, le=10_000_000),
    user: CurrentUser = Needs.VIEW_FILES,
) -> HTMLResponse:
    store = store_of(request)
    filters = {
        "evidence_id": evidence_id,
        "label": label or None,
        "category": category or None,
        "series": series or None,
        "kind": kind or None,
    }
    result = files.list_files(store, offset=offset, limit=100, **filters)  # type: ignore[arg-type]
    return page(
        request,
        "files.html",
        user,
        result=result,
        filters=filters,
        evidence=evidence.list_evidence(store),
    )


@router.get("/files/{sha256}", response_class=HTMLResponse)
def file_page(sha256: str, request: Request, user: CurrentUser = Needs.VIEW_FILES) -> HTMLResponse:
    # Hex only: a NUL in the key would reach PostgreSQL, which refuses it (a 500).
    if len(sha256) != 64 or not all(c in "0123456789abcdefABCDEF" for c in sha256):
        raise HTTPException(404, "no such file")
    detail = files.viewed_file(store_of(request), user, sha256.lower())
    return page(request, "file_detail.html", user, file=detail)


@router.get("/review", response_class=HTMLResponse)
def review_index(request: Request, user: CurrentUser = Needs.REVIEW) -> HTMLResponse:
    store = store_of(request)
    return page(
        request,
        "review_index.html",
        user,
        items=evidence.list_evidence(store),
        reveals=review.reveal_counts(store, user.actor),
    )


@router.get("/review/{evidence_id}", response_class=HTMLResponse)
def review_page(
    evidence_id: PathId,
    request: Request,
    offset: int = Query(0, ge=0, le=10_000_000),
    user: CurrentUser = Needs.REVIEW,
) -> HTMLResponse:
    result = review.review_queue(evidence_id, request, offset=offset, limit=50, user=user)
    return page(request, "review.html", user, queue=result)


@router.get("/hashsets", response_class=HTMLResponse)
def hashsets_page(request: Request, user: CurrentUser = Needs.VIEW_HASH_SETS) -> HTMLResponse:
    return page(
        request,
        "hashsets.html",
        user,
        items=hashsets.hash_sets(store_of(request)),
        profiles=list(PROFILES),
    )


@router.get("/exchanges", response_class=HTMLResponse)
def exchanges_page(request: Request, user: CurrentUser = Needs.VIEW_FILES) -> HTMLResponse:
    return page(request, "exchanges.html", user, items=exchanges.exchanges(request))


@router.get("/exchanges/{name}", response_class=HTMLResponse)
def exchange_page(
    name: PathKey, request: Request, user: CurrentUser = Needs.VIEW_FILES
) -> HTMLResponse:
    return page(request, "exchange_detail.html", user, x=exchanges.exchange_detail(request, name))


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, user: CurrentUser = Needs.VIEW_STATISTICS) -> HTMLResponse:
    from kaitiaki.jobs import list_jobs

    items = [job_out(v) for v in list_jobs(store_of(request), limit=100)]
    return page(request, "jobs.html", user, items=items)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_STATISTICS
) -> HTMLResponse:
    from kaitiaki.jobs import get_job

    view = get_job(store_of(request), job_id)
    if view is None:
        raise HTTPException(404, f"no job {job_id}")
    return page(request, "job_detail.html", user, job=job_out(view))
