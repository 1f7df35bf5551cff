"""Pages about people and the paper trail: subjects, accounts, referrals, audit log, users."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from kaitiaki.receive.cases import hits_for_subject
from kaitiaki.refer.lifecycle import STATUSES
from kaitiaki.users.roles import Role
from kaitiaki.web.api import audit, referrals, review, subjects, users
from kaitiaki.web.api.common import MAX_ID, PathKey, audit_view, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/subjects", response_class=HTMLResponse)
def subjects_page(
    request: Request,
    country: str | None = Query(None, max_length=2),
    tier: str | None = Query(None, max_length=20),
    offset: int = Query(0, ge=0, le=10_000_000),
    user: CurrentUser = Needs.VIEW_SUBJECTS,
) -> HTMLResponse:
    result = subjects.list_subjects(
        store_of(request), country=country or None, tier=tier or None, offset=offset
    )
    return page(
        request,
        "subjects.html",
        user,
        result=result,
        filters={"country": country or "", "tier": tier or ""},
    )


@router.get("/subjects/{subject_id}", response_class=HTMLResponse)
def subject_page(
    subject_id: PathKey, request: Request, user: CurrentUser = Needs.VIEW_SUBJECTS
) -> HTMLResponse:
    store = store_of(request)
    detail = subjects.subject_detail(store, subject_id)
    audit_view(store, user, "subject", subject_id)
    # Deconfliction: received cases (other agencies' referrals) about the same person.
    hits = hits_for_subject(store, subject_id, scope=user.scope)
    return page(request, "subject_detail.html", user, subject=detail, received_hits=hits)


@router.get("/accounts", response_class=HTMLResponse)
def accounts_page(
    request: Request,
    subject_id: str | None = Query(None, max_length=40),
    offset: int = Query(0, ge=0, le=10_000_000),
    user: CurrentUser = Needs.VIEW_SUBJECTS,
) -> HTMLResponse:
    items = subjects.list_accounts(store_of(request), subject_id=subject_id or None, offset=offset)
    return page(request, "accounts.html", user, items=items, offset=offset)


@router.get("/referrals", response_class=HTMLResponse)
def referrals_page(request: Request, user: CurrentUser = Needs.VIEW_REFERRALS) -> HTMLResponse:
    items = referrals.list_referrals(store_of(request), user)
    return page(request, "referrals.html", user, items=items)


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
def referral_page(
    referral_id: PathKey, request: Request, user: CurrentUser = Needs.VIEW_REFERRALS
) -> HTMLResponse:
    detail = referrals.viewed_referral(store_of(request), user, referral_id)
    return page(request, "referral_detail.html", user, referral=detail, statuses=STATUSES)


AUDIT_PAGE = 100


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    before_id: int | None = Query(None, ge=0, le=MAX_ID),
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=60),
    verify: bool = False,
    user: CurrentUser = Needs.VIEW_AUDIT,
) -> HTMLResponse:
    """Lists entries, newest first; the whole chain is checked only when asked (``verify=1``),
    as its cost grows with the log."""
    store = store_of(request)
    check = audit.verification(store, request.app.state.settings.anchor_dir) if verify else None
    found = audit.entries(
        store,
        before_id=before_id,
        actor=actor or None,
        action=action or None,
        limit=AUDIT_PAGE + 1,
    )
    return page(
        request,
        "audit.html",
        user,
        items=found[:AUDIT_PAGE],
        older=len(found) > AUDIT_PAGE,
        check=check,
        broken=set(check.broken_ids) if check else set(),
        filters={"actor": actor or "", "action": action or ""},
    )


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, user: CurrentUser = Needs.VIEW_USERS) -> HTMLResponse:
    store = store_of(request)
    return page(
        request,
        "users.html",
        user,
        items=users.users(store),
        roles=list(Role),
        welfare=review.all_reveal_counts(store),
    )
