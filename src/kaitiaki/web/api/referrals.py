"""``/api/referrals``: build (a job), send and move along the lifecycle, record outcomes.

A thin adapter over ``refer.service``: the service decides who reaches what. A liaison officer
sees, moves along and records outcomes of only the referrals of its jurisdictions ((country,
agency) pairs); any other referral is a 404 (not a 403), so its existence is not disclosed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kaitiaki.refer import service
from kaitiaki.refer.envelope import MAX_ENVELOPE_BYTES, EnvelopeError
from kaitiaki.refer.outcome_file import OutcomeFileError
from kaitiaki.refer.outcome_import import import_outcome_file
from kaitiaki.store import Store
from kaitiaki.web.api.common import JobOut, PathKey, Timestamp, errors, store_of, submit_job
from kaitiaki.web.api.imports import safe_name
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.uploads import UploadError, accepts_upload, receive_upload, upload_body

router = APIRouter(prefix="/api/referrals", tags=["referrals"])


class ReferralRow(BaseModel):
    id: str
    agency: str
    country: str | None
    status: str
    created_at: Timestamp
    created_by: str
    subjects: int


class EventOut(BaseModel):
    status: str
    at: Timestamp
    by: str
    note: str


class OutcomeOut(BaseModel):
    subject_id: str | None
    kind: str
    count: int
    date: Timestamp | None
    note: str
    source: str


class ReferralDetail(ReferralRow):
    manifest_sha256: str | None
    package_path: str | None
    subject_ids: list[str]
    next_statuses: list[str]
    events: list[EventOut]
    outcomes: list[OutcomeOut]


class BuildIn(BaseModel):
    analysis: str = Field(min_length=1, max_length=1000)


class StatusIn(BaseModel):
    status: str = Field(min_length=1, max_length=30)
    note: str = Field(default="", max_length=2000)


class OutcomeIn(BaseModel):
    kind: Literal["arrested", "children_safeguarded", "note"]
    count: int = Field(default=1, ge=0, le=1_000_000)
    subject_id: str | None = Field(default=None, max_length=40)
    date: dt.date | None = None
    note: str = Field(default="", max_length=2000)


class OutcomeFileOut(BaseModel):
    file: str
    sha256: str
    sender: str
    key_fingerprint: str
    referral_id: str
    already_imported: bool
    steps: int
    new_steps: int
    statuses: list[str]
    status: str
    added: dict[str, int]


@contextmanager
def answered() -> Iterator[None]:
    """The service's domain errors as HTTP answers."""
    try:
        yield
    except service.ReferralNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except service.ReferralForbiddenError as exc:
        raise HTTPException(403, str(exc)) from None
    except service.ReferralConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except service.ReferralInvalidError as exc:
        raise HTTPException(422, str(exc)) from None


def list_referrals(store: Store, user: CurrentUser) -> list[ReferralRow]:
    return [
        ReferralRow.model_validate(r, from_attributes=True)
        for r in service.list_referrals(store, scope=user.scope)
    ]


def _detail(view: service.ReferralView) -> ReferralDetail:
    return ReferralDetail.model_validate(view, from_attributes=True)


def referral_detail(store: Store, user: CurrentUser, referral_id: str) -> ReferralDetail:
    with answered():
        return _detail(service.referral_detail(store, referral_id, scope=user.scope))


def viewed_referral(store: Store, user: CurrentUser, referral_id: str) -> ReferralDetail:
    with answered():
        return _detail(
            service.view_referral(store, referral_id, actor=user.actor, scope=user.scope)
        )


@router.get("", response_model=list[ReferralRow], responses=errors())
def referrals(
    request: Request, response: Response, user: CurrentUser = Needs.VIEW_REFERRALS
) -> Any:
    """The referrals within reach, newest first. Paged, sorted and filtered as ``/referrals``
    is (``page``, ``per_page``, ``sort``, ``q``, ``status``, ``country``); the total in
    ``X-Total-Count``."""
    from kaitiaki.web import listing
    from kaitiaki.web.lists import cases

    query = listing.parse(request, cases.REFERRALS)
    found = cases.referrals(store_of(request), user, query)
    return listing.api_listed(request, user, response, found)


@router.post("/build", response_model=JobOut, status_code=202, responses=errors())
def build(body: BuildIn, request: Request, user: CurrentUser = Needs.BUILD_REFERRALS) -> JobOut:
    """Queue signed packages, one per agency, for subjects of an analysis not yet referred."""
    settings: WebSettings = request.app.state.settings
    out = str((settings.data_dir / "referrals").resolve())
    # The job records its creator (this user) as the builder; no name travels in the params.
    params = {"analysis": body.analysis, "out": out}
    return submit_job(request, "refer", params, user)


@router.post(
    "/outcome-files",
    response_model=OutcomeFileOut,
    responses=errors(404, 413, 415),
    openapi_extra=upload_body({}),
)
@accepts_upload
async def outcome_file_import(
    request: Request, user: CurrentUser = Needs.RECORD_OUTCOMES
) -> OutcomeFileOut:
    """Upload a partner's signed outcome file (multipart: ``file``), as ``kaitiaki outcomes
    import``: verified against the trust store, applied all-or-nothing. A bad signature, a
    partner reporting on a referral it did not receive or a bad document is 422; a referral
    out of the caller's reach 404. The same file again changes nothing."""
    settings: WebSettings = request.app.state.settings
    limit = min(settings.max_upload, MAX_ENVELOPE_BYTES)
    try:
        upload = await receive_upload(request, settings.data_dir / "uploads", limit)
    except UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    try:
        data = await run_in_threadpool(upload.path.read_bytes)
    finally:
        upload.path.unlink(missing_ok=True)
    # Messages name the file the person sent, never a path of the server.
    name = Path(safe_name(upload.filename, "outcome.json"))
    store = store_of(request)
    with answered():
        try:
            result = await run_in_threadpool(
                lambda: import_outcome_file(
                    store, name, actor=user.actor, scope=user.scope, data=data
                )
            )
        except (EnvelopeError, OutcomeFileError) as exc:
            raise HTTPException(422, str(exc)) from None
    return OutcomeFileOut.model_validate(result, from_attributes=True)


@router.get("/{referral_id}", response_model=ReferralDetail, responses=errors(404))
def referral_get(
    referral_id: PathKey, request: Request, user: CurrentUser = Needs.VIEW_REFERRALS
) -> ReferralDetail:
    """A referral, its subjects, status history and outcomes (audited)."""
    return viewed_referral(store_of(request), user, referral_id)


@router.post("/{referral_id}/status", response_model=ReferralDetail, responses=errors(404, 409))
def referral_status(
    referral_id: PathKey,
    body: StatusIn,
    request: Request,
    user: CurrentUser = Needs.UPDATE_REFERRAL,
) -> ReferralDetail:
    """Move to the next status; a step skipped is refused with 409. Only the sending side
    sends a draft ("sent"); a liaison is refused with 403."""
    store = store_of(request)
    with answered():
        service.change_status(
            store, referral_id, body.status, actor=user.actor, scope=user.scope, note=body.note
        )
    return referral_detail(store, user, referral_id)


@router.post("/{referral_id}/outcomes", response_model=ReferralDetail, responses=errors(404))
def referral_outcome(
    referral_id: PathKey,
    body: OutcomeIn,
    request: Request,
    user: CurrentUser = Needs.RECORD_OUTCOMES,
) -> ReferralDetail:
    """Record what came of the referral: arrests, children safeguarded, or a note."""
    store = store_of(request)
    with answered():
        service.record_outcome(
            store,
            referral_id,
            kind=body.kind,
            count=body.count,
            subject_id=body.subject_id,
            on=body.date,
            note=body.note,
            actor=user.actor,
            scope=user.scope,
        )
    return referral_detail(store, user, referral_id)
