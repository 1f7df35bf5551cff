"""Pages about people and the paper trail: subjects, accounts, referrals, audit log, users."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from kaitiaki.receive.cases import hits_for_subject
from kaitiaki.refer.lifecycle import STATUSES
from kaitiaki.users.roles import Role
from kaitiaki.web import listing
from kaitiaki.web.api import audit, referrals, review, subjects
from kaitiaki.web.api.common import MAX_ID, PathKey, audit_view, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.lists import cases as lists
from kaitiaki.web.lists import people as people_lists
from kaitiaki.web.pages.render import page

router = APIRouter(include_in_schema=False)


@router.get("/subjects", response_model=None)
def subjects_page(request: Request, user: CurrentUser = Needs.VIEW_SUBJECTS) -> Response:
    query = listing.parse(request, people_lists.SUBJECTS)
    return listing.listed(
        request,
        user,
        people_lists.subject_list(store_of(request), query),
        lambda found: page(request, "subjects.html", user, listing=found, q=found.query),
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


@router.get("/accounts", response_model=None)
def accounts_page(request: Request, user: CurrentUser = Needs.VIEW_SUBJECTS) -> Response:
    query = listing.parse(request, people_lists.ACCOUNTS)
    return listing.listed(
        request,
        user,
        people_lists.account_list(store_of(request), query),
        lambda found: page(request, "accounts.html", user, listing=found, q=found.query),
    )


@router.get("/referrals", response_model=None)
def referrals_page(request: Request, user: CurrentUser = Needs.VIEW_REFERRALS) -> Response:
    query = listing.parse(request, lists.REFERRALS)
    return listing.listed(
        request,
        user,
        lists.referrals(store_of(request), user, query),
        lambda found: page(request, "referrals.html", user, listing=found, q=found.query),
    )


@router.get("/referrals/{referral_id}", response_class=HTMLResponse)
def referral_page(
    referral_id: PathKey, request: Request, user: CurrentUser = Needs.VIEW_REFERRALS
) -> HTMLResponse:
    detail = referrals.viewed_referral(store_of(request), user, referral_id)
    return page(request, "referral_detail.html", user, referral=detail, statuses=STATUSES)


AUDIT_PAGE = 100


@router.get("/audit", response_model=None)
def audit_page(
    request: Request,
    before_id: int | None = Query(None, ge=0, le=MAX_ID),
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=60),
    verify: bool = False,
    user: CurrentUser = Needs.VIEW_AUDIT,
) -> Response:
    """Lists entries, newest first; the whole chain is checked only when asked (``verify=1``),
    as its cost grows with the log. ``format=csv``: every entry the filters keep."""
    store = store_of(request)
    if "format" in request.query_params:
        query = listing.parse(request, people_lists.AUDIT)
        if query.csv:
            everything, fetch = people_lists.audit_export(store, query)
            return listing.export(store, user, query, everything.total, fetch)
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
        export_url="?" + urlencode({"actor": actor or "", "action": action or "", "format": "csv"}),
    )


@router.get("/users", response_model=None)
def users_page(request: Request, user: CurrentUser = Needs.VIEW_USERS) -> Response:
    store = store_of(request)
    query = listing.parse(request, people_lists.USERS)
    return listing.listed(
        request,
        user,
        people_lists.user_list(store, query),
        lambda found: page(
            request,
            "users.html",
            user,
            listing=found,
            q=found.query,
            roles=list(Role),
            welfare=review.all_reveal_counts(store),
        ),
    )
