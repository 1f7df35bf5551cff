"""Pages of the receiving agency: the received cases and one case to work, with its forms.

They read through ``web.api.received`` (so the same scoping answers: a case out of reach is a
404 page) and their forms call that API from ``static/js/app.js`` with the CSRF token.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kaitiaki.refer.steps import KINDS, LABELS, NEEDS_COUNT, NEEDS_REASON
from kaitiaki.store import Store
from kaitiaki.users.accounts import list_users_with_jurisdictions
from kaitiaki.users.roles import Permission, Role
from kaitiaki.users.scope import Scope
from kaitiaki.web import listing
from kaitiaki.web.api import received
from kaitiaki.web.api.common import PathKey, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.lists import cases as lists
from kaitiaki.web.pages.render import page

router = APIRouter(include_in_schema=False)

# The steps a person records: "received" is the import's own, written by it.
RECORDABLE = tuple(k for k in KINDS if k != "received")


def assignees(store: Store, case: received.CaseDetail) -> list[str]:
    """Active users who could be given the case: those ``receive.work.assign_case`` accepts
    (a role that works cases, reaching this case's jurisdiction)."""
    names = []
    for user, pairs in list_users_with_jurisdictions(store):
        scope = Scope(Role(user.role), pairs)
        if (
            not user.disabled
            and scope.can(Permission.UPDATE_REFERRAL)
            and scope.covers(case.country, case.agency)
        ):
            names.append(user.name)
    return names


@router.get("/received", response_model=None)
def received_page(request: Request, user: CurrentUser = Needs.VIEW_REFERRALS) -> Response:
    query = listing.parse(request, lists.RECEIVED)
    return listing.listed(
        request,
        user,
        lists.received(store_of(request), user, query),
        lambda found: page(request, "received.html", user, listing=found, q=found.query),
    )


@router.get("/received/{case_id}", response_class=HTMLResponse)
def received_case_page(
    case_id: PathKey, request: Request, user: CurrentUser = Needs.VIEW_REFERRALS
) -> HTMLResponse:
    store = store_of(request)
    case = received.viewed_case(store, user, case_id)
    workable = user.can(Permission.UPDATE_REFERRAL)
    return page(
        request,
        "received_detail.html",
        user,
        case=case,
        assignees=assignees(store, case) if workable else [],
        kinds=[(k, LABELS[k]) for k in RECORDABLE],
        labels={**LABELS, "note": "note"},
        needs_count=sorted(NEEDS_COUNT),
        needs_reason=sorted(NEEDS_REASON),
    )
