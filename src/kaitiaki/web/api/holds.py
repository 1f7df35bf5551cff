"""``/api/holds``: legal holds, as ``kaitiaki hold add|list|release|extend``.

A thin adapter over ``legal.holds``, which validates and audits. Reading holds is the
``view_reports`` permission (the auditor's too: a hold is part of the record); placing,
releasing and extending them is ``manage_holds``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from kaitiaki.legal import holds
from kaitiaki.legal.coverage import HoldError
from kaitiaki.web.api.common import PathId, Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/holds", tags=["holds"])


class HoldOut(BaseModel):
    id: int
    target_type: str
    target_id: str
    basis: str
    basis_text: str
    reference: str | None
    created_by: str
    created_at: Timestamp
    expires_at: Timestamp | None
    extended_at: Timestamp | None
    extended_by: str | None
    released_at: Timestamp | None
    released_by: str | None
    release_reason: str | None
    standing: bool


class HoldIn(BaseModel):
    target_type: Literal["account", "subject", "evidence", "report"]
    target_id: str = Field(min_length=1, max_length=200)
    basis_kind: Literal["ncmec_report", "preservation_request", "court_order", "other"]
    basis_text: str = Field(min_length=1, max_length=2000)
    reference: str | None = Field(default=None, max_length=200)
    # A date: the hold stands through the end of that day (UTC).
    expires: dt.date | None = None


class ReleaseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@contextmanager
def answered() -> Iterator[None]:
    try:
        yield
    except holds.HoldNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except holds.HoldConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except HoldError as exc:
        raise HTTPException(422, str(exc)) from None


def _out(view: holds.HoldView) -> HoldOut:
    return HoldOut.model_validate(view, from_attributes=True)


def end_of(day: dt.date) -> dt.datetime:
    # As the command line reads a bare date: through its last second, UTC.
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def list_holds(request: Request, *, all_holds: bool, days: int | None) -> list[HoldOut]:
    within = None if days is None else dt.timedelta(days=days)
    found = holds.list_holds(store_of(request), active_only=not all_holds, expiring_within=within)
    return [_out(v) for v in found]


@router.get("", response_model=list[HoldOut], responses=errors())
def holds_list(
    request: Request,
    # Named ``all`` in the URL, as ``kaitiaki hold list --all``; not a shadowed builtin here.
    all_holds: bool = Query(False, alias="all", description="Released and expired holds too."),
    expiring_within_days: int | None = Query(None, ge=0, le=36_500),
    user: CurrentUser = Needs.VIEW_REPORTS,
) -> list[HoldOut]:
    """Standing holds (or all), oldest first; with ``expiring_within_days``, the standing holds
    expiring within that many days, soonest first."""
    return list_holds(request, all_holds=all_holds, days=expiring_within_days)


@router.post("", response_model=HoldOut, status_code=201, responses=errors(404, 409))
def hold_place(body: HoldIn, request: Request, user: CurrentUser = Needs.MANAGE_HOLDS) -> HoldOut:
    """Place a hold: nothing it covers can be deleted while it stands (audited)."""
    with answered():
        view = holds.place_hold(
            store_of(request),
            actor=user.actor,
            target_type=body.target_type,
            target_id=body.target_id,
            basis_kind=body.basis_kind,
            basis_text=body.basis_text,
            reference=body.reference,
            expires_at=None if body.expires is None else end_of(body.expires),
        )
    return _out(view)


@router.post("/{hold_id}/release", response_model=HoldOut, responses=errors(404, 409))
def hold_release(
    hold_id: PathId, body: ReleaseIn, request: Request, user: CurrentUser = Needs.MANAGE_HOLDS
) -> HoldOut:
    """Release a hold before its expiry, with the reason (audited)."""
    with answered():
        view = holds.release_hold(store_of(request), hold_id, actor=user.actor, reason=body.reason)
    return _out(view)


@router.post("/{hold_id}/extend", response_model=HoldOut, responses=errors(404, 409))
def hold_extend(
    hold_id: PathId, request: Request, user: CurrentUser = Needs.MANAGE_HOLDS
) -> HoldOut:
    """Extend a preservation request's hold by 90 days, once (audited)."""
    with answered():
        view = holds.extend_hold(store_of(request), hold_id, actor=user.actor)
    return _out(view)
