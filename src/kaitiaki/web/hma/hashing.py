"""HMA's hashing blueprint (``/h``): hash an uploaded photo or video as HMA's hasher would.

The file comes as multipart/form-data in a field named for its content type (``photo`` or
``video``, as HMA's clients send it) and is streamed to the work root first, like every
kaitiaki upload. A photo gives HMA's ``pdq``, a video HMA's ``video_md5`` and ``vpdq``
(threatexchange's form: ``signals.vpdq_hma``); kaitiaki adds MD5, SHA-1 and SHA-256.
Hashing by ``url`` fetches only from public addresses, capped in size and time
(``kaitiaki.signals.remote``); without ``content_type`` the fetched bytes say which it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from kaitiaki.content.kinds import HEADER_SIZE, ContentKind, detect
from kaitiaki.signals.base import SignalError
from kaitiaki.signals.reference import MAX_PHOTO_BYTES, PHOTO_SIGNALS, photo_signals
from kaitiaki.signals.remote import RemoteFetchError, fetch
from kaitiaki.signals.vpdq_hma import VIDEO_SIGNALS, video_signals
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.hma.common import ERRORS, HmaError
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.tokens import token_scope
from kaitiaki.web.uploads import UploadError, accepts_upload, receive_upload

router = APIRouter(prefix="/h", tags=["HMA hashing"], responses=ERRORS)
HASH = Depends(token_scope("hash"))
FIELD = "photo"
VIDEO_FIELD = "video"
# HMA's content types, each the form field its file comes in, and the signals it hashes to.
CONTENT_SIGNALS = {FIELD: PHOTO_SIGNALS, VIDEO_FIELD: VIDEO_SIGNALS}
# A video is hashed from its file, frame by frame, never held whole in memory.
MAX_VIDEO_BYTES = 512 * 1024**2
# HMA's default cap on a file fetched by url (its DEFAULT_MAX_REMOTE_FILE_SIZE).
MAX_REMOTE_VIDEO_BYTES = 100 * 1024**2
# An upload too large, or not multipart/form-data.
UPLOAD_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": HmaError} for code in (413, 415)}
PHOTO_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": "one file, in the field named for its content type",
                    "properties": {
                        name: {"type": "string", "format": "binary"} for name in CONTENT_SIGNALS
                    },
                }
            }
        },
    }
}


def signal_types(types: str | None, content_type: str = FIELD) -> set[str] | None:
    """HMA's ``types`` parameter: the signal types wanted, each one the content type hashes to."""
    if types is None:
        return None
    wanted = {t.strip() for t in types.split(",") if t.strip()}
    unknown = sorted(wanted - set(CONTENT_SIGNALS[content_type]))
    if unknown:
        raise HTTPException(400, f"signal type '{unknown[0]}' doesn't exist or is disabled")
    if not wanted:
        raise HTTPException(400, "empty signal type selection")
    return wanted


@dataclass(frozen=True, slots=True)
class Received:
    """An uploaded file: its HMA content type (the form field it came in), where it lies on
    disk until the ``received_media`` block ends, and the form's other fields."""

    content_type: str
    path: Path
    fields: dict[str, str]


@asynccontextmanager
async def received_media(request: Request) -> AsyncIterator[Received]:
    """The uploaded photo or video, removed from disk when the block ends; HMA's refusals
    otherwise. A photo is read into memory to hash it, so it has the smaller cap."""
    settings: WebSettings = request.app.state.settings
    content_types = tuple(CONTENT_SIGNALS)
    cap = max(MAX_PHOTO_BYTES, MAX_VIDEO_BYTES)
    try:
        upload = await receive_upload(
            request,
            settings.data_dir / "uploads",
            min(settings.max_upload, cap),
            file_field=content_types,
        )
    except UploadError as exc:
        if exc.status == 422:
            names = " or ".join(repr(t) for t in content_types)
            raise HTTPException(
                400, f"Missing multipart/form-data file upload (field {names})"
            ) from None
        raise HTTPException(exc.status, str(exc)) from None
    try:
        if upload.file_field == FIELD and upload.size > MAX_PHOTO_BYTES:
            raise HTTPException(413, f"photo larger than {MAX_PHOTO_BYTES} bytes")
        yield Received(upload.file_field, upload.path, upload.fields)
    finally:
        await run_in_threadpool(Path(upload.path).unlink, missing_ok=True)


def hash_photo(data: bytes, types: set[str] | None) -> dict[str, str]:
    try:
        return photo_signals(data, types)
    except SignalError as exc:
        raise HTTPException(400, str(exc)) from None


def hash_video(source: Path | bytes, types: set[str] | None) -> dict[str, str]:
    try:
        return video_signals(source, types)
    except SignalError as exc:
        raise HTTPException(400, str(exc)) from None


def hash_received(
    received: Received, types: set[str] | None, *, strict: bool = True
) -> dict[str, str]:
    """HMA's hashes of an upload, for its content type. Not ``strict`` (a lookup), a video
    whose frames cannot be decoded still gives its digests, as HMA's lookup of one does."""
    if received.content_type != VIDEO_FIELD:
        return hash_photo(received.path.read_bytes(), types)
    try:
        return video_signals(received.path, types)
    except SignalError as exc:
        if strict:
            raise HTTPException(400, str(exc)) from None
    digests = [t for t in VIDEO_SIGNALS if t != "vpdq" and (types is None or t in types)]
    return {**video_signals(received.path, digests), "vpdq": ""}


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
    """``{"pdq": "<hex>", "md5": ..., "sha1": ..., "sha256": ...}`` for an uploaded photo
    (field ``photo``); ``{"video_md5": ..., "vpdq": ..., ...}`` for a video (field ``video``)."""
    async with received_media(request) as received:
        wanted = signal_types(types, received.content_type)
        return await run_in_threadpool(hash_received, received, wanted)


def _content_type(data: bytes, given: str | None) -> str:
    """HMA's content type of fetched bytes: the one given, else what the bytes are."""
    if given:
        if given not in CONTENT_SIGNALS:
            raise HTTPException(400, f"no such content_type: '{given}'")
        return given
    kind = detect(data[:HEADER_SIZE]).kind
    if kind == ContentKind.IMAGE:
        return FIELD
    if kind == ContentKind.VIDEO:
        return VIDEO_FIELD
    raise HTTPException(
        400,
        "unsupported url content, if you know the expected type, provide it with the "
        "content_type query param",
    )


def hash_url(url: str, content_type: str | None, types: str | None) -> dict[str, str]:
    """Fetch ``url`` (public addresses only, capped: ``signals.remote``) and hash it."""
    if content_type:
        _content_type(b"", content_type)  # an unknown content type is refused before fetching
        signal_types(types, content_type)
    limit = MAX_PHOTO_BYTES if content_type == FIELD else MAX_REMOTE_VIDEO_BYTES
    try:
        data = fetch(url, limit=limit)
    except RemoteFetchError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    kind = _content_type(data, content_type)
    wanted = signal_types(types, kind)
    if kind == VIDEO_FIELD:
        return hash_video(data, wanted)
    if len(data) > MAX_PHOTO_BYTES:
        raise HTTPException(413, "Content too large")
    return hash_photo(data, wanted)


@router.get("/hash")
def hash_get(
    url: str = Query(max_length=4000),
    content_type: str | None = Query(None, max_length=40),
    types: str | None = Query(None, max_length=200),
    principal: TokenPrincipal = HASH,
) -> dict[str, str]:
    """Fetch the photo or video at ``url`` and hash it as ``POST /h/hash`` does."""
    return hash_url(url, content_type, types)
