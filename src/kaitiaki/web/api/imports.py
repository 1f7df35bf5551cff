"""``/api/outcomes/import`` and ``/api/enrichment/import``: partners' CSV sheets, uploaded.

Thin adapters over ``refer.service.import_outcomes`` (as ``kaitiaki outcomes import``; a
liaison's jurisdictions bound it: a row about another jurisdiction's referral rejects the file
as an unknown referral, and nothing is stored) and ``priority.import_enrichment`` (as
``kaitiaki enrichment import``). Both apply the whole file or nothing and audit as the user.

The upload is streamed to the work root, capped at the partner-sheet bound (a bigger file
would be refused by the reader anyway), and stored under the client's file name made safe in a
folder of its own, so the audit entries and the error messages name the file the person sent,
never a path of the server. It is deleted once imported: the store holds what it said and the
audit log its SHA-256.
"""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kaitiaki.records.partner import MAX_BYTES
from kaitiaki.web.api.common import errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.uploads import UploadError, accepts_upload, receive_upload, upload_body

router = APIRouter(prefix="/api", tags=["imports"])

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 100
Result = TypeVar("Result")


class OutcomesImported(BaseModel):
    rows: int
    status_changes: int
    arrested: int
    children_safeguarded: int


class EnrichmentImported(BaseModel):
    rows: int
    values: int


def safe_name(client_name: str, fallback: str) -> str:
    """The last part of the client's file name, in letters, digits and ``._-`` only: it is
    shown in messages and stored as the source, never trusted as a path."""
    base = re.split(r"[\\/]", client_name)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip("._")[:MAX_NAME]
    return cleaned or fallback


async def _import(
    request: Request,
    fallback: str,
    apply: Callable[[Path], Result],
    refused: tuple[type[Exception], ...],
) -> Result:
    settings: WebSettings = request.app.state.settings
    uploads = settings.data_dir / "uploads"
    try:
        upload = await receive_upload(request, uploads, min(settings.max_upload, MAX_BYTES))
    except UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    folder = uploads / uuid.uuid4().hex
    try:
        await run_in_threadpool(folder.mkdir)
        staged = folder / safe_name(upload.filename, fallback)
        await run_in_threadpool(upload.path.rename, staged)
        try:
            return await run_in_threadpool(apply, staged)
        except refused as exc:
            # The domain names the file by its path; the person knows it by its name.
            message = str(exc).replace(f"{folder}/", "").replace(str(folder), "")
            raise HTTPException(422, message) from None
    finally:
        upload.path.unlink(missing_ok=True)
        await run_in_threadpool(shutil.rmtree, folder, ignore_errors=True)


@router.post(
    "/outcomes/import",
    response_model=OutcomesImported,
    responses=errors(413, 415),
    openapi_extra=upload_body({}),
)
@accepts_upload
async def outcomes_import(
    request: Request, user: CurrentUser = Needs.RECORD_OUTCOMES
) -> OutcomesImported:
    """Upload a partner's outcomes CSV (multipart: ``file``; columns ``referral_id``,
    ``subject_id``, ``status``, ``date``, ``arrested``, ``children_safeguarded``, ``note``).
    Applied all-or-nothing; a bad row, or one about a referral out of reach, is 422 naming it."""
    from kaitiaki.refer.outcomes import OutcomesError
    from kaitiaki.refer.service import import_outcomes

    store = store_of(request)
    result = await _import(
        request,
        "outcomes.csv",
        lambda path: import_outcomes(store, path, actor=user.actor, scope=user.scope),
        (OutcomesError, OSError),
    )
    return OutcomesImported.model_validate(result, from_attributes=True)


@router.post(
    "/enrichment/import",
    response_model=EnrichmentImported,
    responses=errors(413, 415),
    openapi_extra=upload_body({}),
)
@accepts_upload
async def enrichment_import(
    request: Request, user: CurrentUser = Needs.PRIORITISE
) -> EnrichmentImported:
    """Upload a partner's enrichment CSV (multipart: ``file``; ``subject_id`` and risk
    indicators). Applied all-or-nothing; recompute priorities afterwards to rescore."""
    from kaitiaki.priority import EnrichmentError, import_enrichment

    store = store_of(request)
    result = await _import(
        request,
        "enrichment.csv",
        lambda path: import_enrichment(store, path, actor=user.actor),
        (EnrichmentError, OSError),
    )
    return EnrichmentImported.model_validate(result, from_attributes=True)
