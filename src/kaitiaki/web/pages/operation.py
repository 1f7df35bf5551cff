"""Pages for the material: dashboard, evidence and scans, files, review, hash sets, jobs."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kaitiaki.hashsets.profiles import PROFILES
from kaitiaki.web import listing
from kaitiaki.web.api import evidence, exchanges, files, hashsets, review
from kaitiaki.web.api.common import PathId, PathKey, job_out, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.lists import material
from kaitiaki.web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/dashboard", response_model=None)
def dashboard(request: Request, user: CurrentUser = Needs.VIEW_STATISTICS) -> RedirectResponse:
    # The home page is the dashboard now (with "Your work" first); old links still land there.
    return RedirectResponse("/", status_code=303)


@router.get("/evidence", response_model=None)
def evidence_list(request: Request, user: CurrentUser = Needs.VIEW_FILES) -> Response:
    store = store_of(request)
    query = listing.parse(request, material.EVIDENCE)
    return listing.listed(
        request,
        user,
        material.evidence_list(store, query),
        lambda found: page(
            request,
            "evidence.html",
            user,
            listing=found,
            q=found.query,
            hash_sets=hashsets.hash_sets(store),
        ),
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


@router.get("/files", response_model=None)
def files_list(request: Request, user: CurrentUser = Needs.VIEW_FILES) -> Response:
    store = store_of(request)
    query = listing.parse(request, material.FILES)
    return listing.listed(
        request,
        user,
        material.file_list(store, query),
        lambda found: page(
            request,
            "files.html",
            user,
            listing=found,
            q=found.query,
            evidence=evidence.list_evidence(store),
        ),
    )


@router.get("/files/{sha256}", response_class=HTMLResponse)
def file_page(sha256: str, request: Request, user: CurrentUser = Needs.VIEW_FILES) -> HTMLResponse:
    # Hex only: a NUL in the key would reach PostgreSQL, which refuses it (a 500).
    if len(sha256) != 64 or not all(c in "0123456789abcdefABCDEF" for c in sha256):
        raise HTTPException(404, "no such file")
    detail = files.viewed_file(store_of(request), user, sha256.lower())
    return page(request, "file_detail.html", user, file=detail)


@router.get("/review", response_model=None)
def review_index(request: Request, user: CurrentUser = Needs.REVIEW) -> Response:
    store = store_of(request)
    query = listing.parse(request, material.REVIEW)
    return listing.listed(
        request,
        user,
        material.evidence_list(store, query),
        lambda found: page(
            request,
            "review_index.html",
            user,
            listing=found,
            q=found.query,
            reveals=review.reveal_counts(store, user.actor),
        ),
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


@router.get("/hashsets", response_model=None)
def hashsets_page(request: Request, user: CurrentUser = Needs.VIEW_HASH_SETS) -> Response:
    query = listing.parse(request, material.HASH_SETS)
    return listing.listed(
        request,
        user,
        material.hash_set_list(store_of(request), query),
        lambda found: page(
            request, "hashsets.html", user, listing=found, q=found.query, profiles=list(PROFILES)
        ),
    )


@router.get("/exchanges", response_model=None)
def exchanges_page(request: Request, user: CurrentUser = Needs.VIEW_FILES) -> Response:
    query = listing.parse(request, material.EXCHANGES)
    return listing.listed(
        request,
        user,
        material.exchange_list(store_of(request), query),
        lambda found: page(request, "exchanges.html", user, listing=found, q=found.query),
    )


@router.get("/exchanges/{name}", response_class=HTMLResponse)
def exchange_page(
    name: PathKey, request: Request, user: CurrentUser = Needs.VIEW_FILES
) -> HTMLResponse:
    return page(request, "exchange_detail.html", user, x=exchanges.exchange_detail(request, name))


@router.get("/jobs", response_model=None)
def jobs_page(request: Request, user: CurrentUser = Needs.VIEW_STATISTICS) -> Response:
    query = listing.parse(request, material.JOBS)
    return listing.listed(
        request,
        user,
        material.job_list(store_of(request), query),
        lambda found: page(request, "jobs.html", user, listing=found, q=found.query),
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_STATISTICS
) -> HTMLResponse:
    from kaitiaki.jobs import get_job

    view = get_job(store_of(request), job_id)
    if view is None:
        raise HTTPException(404, f"no job {job_id}")
    return page(request, "job_detail.html", user, job=job_out(view))
