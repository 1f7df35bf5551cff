"""``/api/received``: the receiving agency's cases: import a package, work it, report back.

A thin adapter over ``receive`` (``cases``, ``work``, ``importing``, ``report``), which decides
who reaches what: a liaison officer reaches only the cases addressed to its jurisdictions;
any other case is a 404 (never a 403), so its existence is not disclosed. Every change and
every look at one case is audited there as the signed-in user.
"""

from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kaitiaki.receive import cases, work
from kaitiaki.receive.importing import import_package
from kaitiaki.receive.package_reader import PackageError
from kaitiaki.receive.report import export_outcomes
from kaitiaki.refer.signing import SigningKeyError
from kaitiaki.refer.steps import MAX_COUNT, MAX_REASON
from kaitiaki.store import Store
from kaitiaki.web.api.common import PathKey, Timestamp, errors, store_of
from kaitiaki.web.api.imports import safe_name
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.uploads import UploadError, accepts_upload, receive_upload, upload_body

router = APIRouter(prefix="/api/received", tags=["received cases"])

# Form values a browser sends for a ticked box, or an API client for "yes".
_YES = frozenset({"1", "true", "on", "yes"})


class CaseRow(BaseModel):
    id: int
    reference: str
    sender: str
    country: str | None
    agency: str
    status: str
    assigned_to: str | None
    priority_tier: str | None
    priority_score: float | None
    subjects: int
    package_version: int
    received_at: Timestamp
    hits: int


class StepOut(BaseModel):
    uid: str
    kind: str
    on: Timestamp
    subject_id: str | None
    count: int | None
    reason: str
    detail: str
    by: str
    recorded_at: Timestamp


class HitOut(BaseModel):
    subject_id: str
    other_type: str
    other_id: str
    kind: str


class VersionOut(BaseModel):
    package_version: int
    manifest_sha256: str
    imported_at: Timestamp
    imported_by: str
    differences: list[dict[str, Any]]


class EvidenceMatchOut(BaseModel):
    evidence: str
    files: int


class CaseDetail(CaseRow):
    sender_fingerprint: str
    unknown_sender_reason: str | None
    manifest_sha256: str
    schema_version: str
    built_by: str
    sent_at: Timestamp | None
    received_by: str
    hash_set: str | None
    contact_reference: str
    # The sender's subjects as its package gave them: attribution, priority, accounts, IP
    # capture events, flagged files (hashes only: a package never carries images).
    subject_docs: list[dict[str, Any]]
    steps: list[StepOut]
    hits_found: list[HitOut]
    versions: list[VersionOut]
    evidence_matches: list[EvidenceMatchOut]


class StepIn(BaseModel):
    kind: str = Field(min_length=1, max_length=40)
    date: dt.date | None = None
    count: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    subject_id: str | None = Field(default=None, max_length=40)
    reason: str = Field(default="", max_length=MAX_REASON)
    detail: str = Field(default="", max_length=work.MAX_DETAIL)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=work.MAX_DETAIL)


class AssignIn(BaseModel):
    user: str = Field(min_length=1, max_length=100)


class ImportOut(BaseModel):
    case_id: int
    reference: str
    sender: str
    key_fingerprint: str
    outcome: Literal["created", "merged", "unchanged"]
    package_version: int
    subjects: int
    flagged_files: int
    ip_capture_events: int
    differences: list[dict[str, str]]
    hits: list[HitOut]
    hash_set: str | None


@contextmanager
def answered() -> Iterator[None]:
    """The domain's errors as HTTP answers."""
    try:
        yield
    except cases.CaseNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except cases.CaseForbiddenError as exc:
        raise HTTPException(403, str(exc)) from None
    except cases.CaseConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except cases.CaseInvalidError as exc:
        raise HTTPException(422, str(exc)) from None


def list_received(store: Store, user: CurrentUser) -> list[CaseRow]:
    return [
        CaseRow.model_validate(c, from_attributes=True)
        for c in cases.list_cases(store, scope=user.scope)
    ]


def case_detail(store: Store, user: CurrentUser, case_id: str) -> CaseDetail:
    with answered():
        view = cases.case_detail(store, case_id, scope=user.scope)
    return CaseDetail.model_validate(view, from_attributes=True)


def viewed_case(store: Store, user: CurrentUser, case_id: str) -> CaseDetail:
    """The case, with the look written to the audit log as the user."""
    with answered():
        view = work.view_case(store, case_id, actor=user.actor, scope=user.scope)
    return CaseDetail.model_validate(view, from_attributes=True)


@router.get("", response_model=list[CaseRow], responses=errors())
def received(request: Request, response: Response, user: CurrentUser = Needs.VIEW_REFERRALS) -> Any:
    """The received cases within reach, highest priority first, then newest. Paged, sorted and
    filtered as ``/received`` is (``page``, ``per_page``, ``sort``, ``q``, ``status``,
    ``tier``, ``assigned``); the total in ``X-Total-Count``."""
    from kaitiaki.web import listing
    from kaitiaki.web.lists import cases as lists

    query = listing.parse(request, lists.RECEIVED)
    found = lists.received(store_of(request), user, query)
    return listing.api_listed(request, user, response, found)


def _accepting(fields: dict[str, str]) -> str | None:
    """The reason an unknown sender is accepted, or None when it is not."""
    if fields.get("accept_unknown_sender", "").strip().lower() not in _YES:
        return None
    return fields.get("reason", "")


@router.post(
    "/packages",
    response_model=ImportOut,
    responses=errors(409, 413, 415),
    openapi_extra=upload_body(
        {
            "accept_unknown_sender": {"type": "boolean"},
            "reason": {"type": "string", "description": "why an unknown sender is accepted"},
        }
    ),
)
@accepts_upload
async def package_import(
    request: Request, user: CurrentUser = Needs.RECEIVE_REFERRALS
) -> ImportOut:
    """Upload a referral package another kaitiaki sent (multipart: ``file``, its ZIP), as
    ``kaitiaki referral import``: verified against the trust store and imported all-or-nothing.
    A package signed by a key not in the trust store is 422 unless ``accept_unknown_sender``
    with a ``reason`` (audited); one addressed to another jurisdiction than the caller's is
    403; an older version of a case already held 409. The same package again changes nothing."""
    settings: WebSettings = request.app.state.settings
    uploads = settings.data_dir / "uploads"
    try:
        upload = await receive_upload(request, uploads, settings.max_upload)
    except UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    # A folder of its own, under the client's file name made safe: the domain's messages name
    # the package by its path, and the person knows it by that name, never by a server path.
    folder = uploads / uuid.uuid4().hex
    store = store_of(request)
    try:
        await run_in_threadpool(folder.mkdir)
        staged = folder / safe_name(upload.filename, "package.zip")
        await run_in_threadpool(upload.path.rename, staged)
        reason = _accepting(upload.fields)
        with answered():
            try:
                result = await run_in_threadpool(
                    lambda: import_package(
                        store,
                        staged,
                        actor=user.actor,
                        scope=user.scope,
                        accept_unknown_reason=reason,
                    )
                )
            except PackageError as exc:  # UnknownSenderError too: 422, with its message
                message = str(exc).replace(f"{folder}/", "").replace(str(folder), "")
                raise HTTPException(422, message) from None
    finally:
        upload.path.unlink(missing_ok=True)
        await run_in_threadpool(shutil.rmtree, folder, ignore_errors=True)
    return ImportOut.model_validate(result, from_attributes=True)


@router.get("/{case_id}", response_model=CaseDetail, responses=errors(404))
def case_get(
    case_id: PathKey, request: Request, user: CurrentUser = Needs.VIEW_REFERRALS
) -> CaseDetail:
    """A case (by number or the sender's reference): sender, subjects, steps, deconfliction
    hits, versions (audited)."""
    return viewed_case(store_of(request), user, case_id)


@router.post("/{case_id}/steps", response_model=CaseDetail, responses=errors(404, 409))
def case_step(
    case_id: PathKey, body: StepIn, request: Request, user: CurrentUser = Needs.UPDATE_REFERRAL
) -> CaseDetail:
    """Record a step of the investigation (``refer.steps.KINDS``); a case closed with no
    further action takes notes only (409)."""
    store = store_of(request)
    with answered():
        work.add_step(
            store,
            case_id,
            body.kind,
            actor=user.actor,
            scope=user.scope,
            on=body.date,
            count=body.count,
            subject_id=body.subject_id or None,
            reason=body.reason,
            detail=body.detail,
        )
    return case_detail(store, user, case_id)


@router.post("/{case_id}/notes", response_model=CaseDetail, responses=errors(404))
def case_note(
    case_id: PathKey, body: NoteIn, request: Request, user: CurrentUser = Needs.UPDATE_REFERRAL
) -> CaseDetail:
    """Add a note: kept here, never sent back in the outcome file."""
    store = store_of(request)
    with answered():
        work.add_step(store, case_id, "note", actor=user.actor, scope=user.scope, detail=body.text)
    return case_detail(store, user, case_id)


@router.post("/{case_id}/assign", response_model=CaseDetail, responses=errors(404))
def case_assign(
    case_id: PathKey, body: AssignIn, request: Request, user: CurrentUser = Needs.UPDATE_REFERRAL
) -> CaseDetail:
    """Give the case to a user who can work it (422 for one who cannot reach it)."""
    store = store_of(request)
    with answered():
        work.assign_case(store, case_id, body.user, actor=user.actor, scope=user.scope)
    return case_detail(store, user, case_id)


def _signed_outcomes(
    store: Store, settings: WebSettings, user: CurrentUser, case_id: str
) -> tuple[str, bytes]:
    """(the sender's reference, the signed outcome file's bytes), audited as the user."""
    with answered():
        with store.session() as session:
            # Reach first: a case out of reach is 404 whatever state the server's key is in.
            cases.reachable(session, case_id, user.scope)
        if not settings.signing_key.is_file():
            raise HTTPException(
                409,
                "this server has no signing key, so it cannot sign outcome files; an "
                "administrator creates one with `kaitiaki keys generate`",
            )
        scratch = settings.data_dir / "outcomes" / uuid.uuid4().hex
        scratch.mkdir(parents=True)
        try:
            out = scratch / "outcome.json"
            try:
                done = export_outcomes(
                    store,
                    case_id,
                    out,
                    key_path=settings.signing_key,
                    actor=user.actor,
                    scope=user.scope,
                )
            except SigningKeyError:
                # The message names a server path; the person needs only the remedy.
                raise HTTPException(
                    409,
                    "this server's signing key cannot be read as an Ed25519 private key; an "
                    "administrator replaces it (`kaitiaki keys generate`)",
                ) from None
            except cases.CaseError:
                raise  # not found, not permitted: answered above
            except ValueError as exc:  # a document a reader would refuse: nothing is sent
                raise HTTPException(409, str(exc).replace(str(out), "the outcome file")) from None
            return done.referral_id, out.read_bytes()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)


@router.get(
    "/{case_id}/outcomes",
    responses={**errors(404, 409), 200: {"content": {"application/json": {}}}},
    response_class=Response,
)
def case_outcomes(
    case_id: PathKey, request: Request, user: CurrentUser = Needs.RECORD_OUTCOMES
) -> Response:
    """Download the case's signed outcome file for its sender (every step so far and the
    totals, never notes or step details), signed with the server's key (``signing_key``).
    Each download is audited with the file's SHA-256; 409 when the server has no key."""
    settings: WebSettings = request.app.state.settings
    reference, data = _signed_outcomes(store_of(request), settings, user, case_id)
    name = safe_name(f"outcome-{reference}.json", "outcome.json")
    return Response(
        data,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
