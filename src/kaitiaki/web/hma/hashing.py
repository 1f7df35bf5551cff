"""HMA's hashing blueprint (``/h``): hash an uploaded photo as HMA's hasher would.

The photo comes as multipart/form-data in a field named for its content type (``photo``, as
HMA's clients send it) and is streamed to the work root first, like every kaitiaki upload.
Hashing by ``url`` fetches only from public addresses, capped in size and time
(``kaitiaki.signals.remote``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from kaitiaki.signals.base import SignalError
from kaitiaki.signals.reference import MAX_PHOTO_BYTES, PHOTO_SIGNALS, photo_signals
from kaitiaki.signals.remote import RemoteFetchError, fetch
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.hma.common import ERRORS, HmaError
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.tokens import token_scope
from kaitiaki.web.uploads import UploadError, accepts_upload, receive_upload

router = APIRouter(prefix="/h", tags=["HMA hashing"], responses=ERRORS)
HASH = Depends(token_scope("hash"))
FIELD = "photo"
# An upload too large, or not multipart/form-data.
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": HmaError} for code in (413, 415)}
PHOTO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


def signal_types(types: str | None) -> set[str] | None:
    """HMA's ``types`` parameter: the signal types wanted, each one kaitiaki hashes photos to."""
    if types is None:
        return None
    wanted = {t.strip() for t in types.split(",") if t.strip()}
    unknown = sorted(wanted - set(PHOTO_SIGNALS))
    if unknown:
        raise HTTPException(400, f"signal type '{unknown[0]}' doesn't exist or is disabled")
    if not wanted:
        raise HTTPException(400, "empty signal type selection")
    return wanted


async def received_photo(request: Request) -> bytes:
    """The uploaded photo's bytes (removed from disk once read); HMA's refusals otherwise."""
    data, _fields = await received_photo_and_fields(request)
    return data


async def received_photo_and_fields(request: Request) -> tuple[bytes, dict[str, str]]:
    """The uploaded photo's bytes and the form's other fields."""
    settings: WebSettings = request.app.state.settings
    limit = min(settings.max_upload, MAX_PHOTO_BYTES)
    try:
        upload = await receive_upload(
            request, settings.data_dir / "uploads", limit, file_field=FIELD
        )
    except UploadError as exc:
        if exc.status == 422:
            raise HTTPException(
                400, "Missing multipart/form-data file upload (field 'photo')"
            ) from None
        raise HTTPException(exc.status, str(exc)) from None
    try:
        return await run_in_threadpool(upload.path.read_bytes), upload.fields
    finally:
        await run_in_threadpool(Path(upload.path).unlink, missing_ok=True)


def hash_photo(data: bytes, types: set[str] | None) -> dict[str, str]:
    try:
        return photo_signals(data, types)
    except SignalError as exc:
        raise HTTPException(400, str(exc)) from None


@router.post(
    "/hash",
    responses=UPLOAD_ERRORS,
    openapi_extra=PHOTO_BODY,
)
@accepts_upload
async def hash_post(
    request: Request,
    types: str | None = Query(None, max_length=200),
    principal: TokenPrincipal = HASH,
) -> dict[str, str]:
    """``{"pdq": "<hex>", "md5": ..., "sha1": ..., "sha256": ...}`` for the uploaded photo."""
    wanted = signal_types(types)
    data = await received_photo(request)
    return await run_in_threadpool(hash_photo, data, wanted)


def hash_url(url: str, content_type: str | None, types: str | None) -> dict[str, str]:
    """Fetch ``url`` (public addresses only, capped: ``signals.remote``) and hash it."""
    if content_type not in (None, "", "photo"):
        raise HTTPException(400, f"content_type {content_type!r} is not hashed by url here")
    wanted = signal_types(types)
    try:
        data = fetch(url, limit=MAX_PHOTO_BYTES)
    except RemoteFetchError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return hash_photo(data, wanted)


@router.get("/hash")
def hash_get(
    url: str = Query(max_length=4000),
    content_type: str | None = Query(None, max_length=40),
    types: str | None = Query(None, max_length=200),
    principal: TokenPrincipal = HASH,
) -> dict[str, str]:
    """Fetch the photo at ``url`` and hash it as ``POST /h/hash`` does."""
    return hash_url(url, content_type, types)
