"""HMA's curation blueprint (``/c``): banks and bank content over kaitiaki's hash sets.

Every change goes through ``kaitiaki.hashsets.curate`` and is audited as ``token:<name>``.
Bank names created or renamed here follow HMA's rule (upper-case identifiers); sets imported
under other names are still listed, read and changed by their own names.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError
from starlette.concurrency import run_in_threadpool

from kaitiaki.hashsets import HashSetMissingError, get_hash_set, list_hash_sets, remove_hash_set
from kaitiaki.hashsets.curate import (
    MAX_NOTE,
    add_entry,
    create_bank,
    get_entry,
    remove_entry,
    update_bank,
    update_entry,
)
from kaitiaki.hashsets.entry import HashSetError, HashSetExistsError
from kaitiaki.match.lookup import SIGNAL_TYPES, SignalInputError, column_for, normalise_signal
from kaitiaki.signals.vpdq_hma import frames_from_signal, signal_from_frames
from kaitiaki.store.models import HashSet, HashSetEntry
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.api.common import MAX_ID
from kaitiaki.web.hma.common import ERRORS, bank_json, enabled_from_ratio, store_of
from kaitiaki.web.hma.content_switch import disable_until_ts, disabled_until
from kaitiaki.web.hma.hashing import (
    PHOTO_BODY,
    UPLOAD_ERRORS,
    hash_received,
    hash_url,
    received_media,
)
from kaitiaki.web.tokens import token_scope
from kaitiaki.web.uploads import accepts_upload

router = APIRouter(prefix="/c", tags=["HMA curation"], responses=ERRORS)
CURATE = Depends(token_scope("curate"))
BankName = Path(max_length=200)
SIGNALS = Body()
CONTENT_UPDATE = Body()
CONTENT_TYPES = ("photo", "video")


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    enabled_ratio: float | None = None
    enabled: StrictBool | None = None
    # kaitiaki's own: the PDQ distance within which this bank matches.
    pdq_threshold: int | None = None
    # kaitiaki's own: an allowlist bank cancels other banks' matches of the same content.
    allowlist: StrictBool = False


class BankUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    enabled_ratio: float | None = None
    enabled: StrictBool | None = None
    pdq_threshold: int | None = None
    allowlist: StrictBool | None = None


def _bank_detail(row: HashSet) -> dict[str, Any]:
    # A single bank also shows kaitiaki's threshold (and that it is an allowlist, if it is);
    # the lists keep HMA's exact shape.
    allowlist = {"allowlist": True} if row.allowlist else {}
    return {**bank_json(row), "pdq_threshold": row.pdq_threshold, **allowlist}


@router.get("/banks")
def banks_index(request: Request, principal: TokenPrincipal = CURATE) -> list[dict[str, Any]]:
    return [bank_json(row) for row in list_hash_sets(store_of(request))]


@router.post("/banks", status_code=201)
def bank_create(
    request: Request, body: BankCreate, principal: TokenPrincipal = CURATE
) -> dict[str, Any]:
    enabled = enabled_from_ratio(body.enabled_ratio, body.enabled)
    try:
        row = create_bank(
            store_of(request),
            body.name,
            enabled=True if enabled is None else enabled,
            actor=principal.actor,
            allowlist=body.allowlist,
            **({} if body.pdq_threshold is None else {"pdq_threshold": body.pdq_threshold}),
        )
    except HashSetExistsError:
        raise HTTPException(403, "Bank already exists") from None
    except HashSetError as exc:
        raise HTTPException(400, str(exc)) from None
    return bank_json(row)


@router.get("/bank/{bank_name}")
def bank_show(
    request: Request, bank_name: str = BankName, principal: TokenPrincipal = CURATE
) -> dict[str, Any]:
    try:
        return _bank_detail(get_hash_set(store_of(request), bank_name))
    except HashSetMissingError:
        raise HTTPException(404, f"bank '{bank_name}' not found") from None


@router.put("/bank/{bank_name}")
def bank_update(
    request: Request,
    body: BankUpdate,
    bank_name: str = BankName,
    principal: TokenPrincipal = CURATE,
) -> dict[str, Any]:
    enabled = enabled_from_ratio(body.enabled_ratio, body.enabled)
    try:
        row = update_bank(
            store_of(request),
            bank_name,
            actor=principal.actor,
            new_name=body.name,
            enabled=enabled,
            pdq_threshold=body.pdq_threshold,
            allowlist=body.allowlist,
        )
    except HashSetMissingError:
        raise HTTPException(404, "Bank not found") from None
    except HashSetExistsError:
        raise HTTPException(403, "Bank name already exists") from None
    except HashSetError as exc:
        raise HTTPException(400, str(exc)) from None
    return _bank_detail(row)


@router.delete("/bank/{bank_name}")
def bank_delete(
    request: Request, bank_name: str = BankName, principal: TokenPrincipal = CURATE
) -> dict[str, str]:
    """Deletes the bank and its entries; like HMA's, succeeds for a bank already gone."""
    with contextlib.suppress(HashSetMissingError):
        remove_hash_set(store_of(request), bank_name, actor=principal.actor)
    return {"message": "Done"}


def _signals(data: dict[str, Any]) -> dict[str, Any]:
    """HMA's ``{"pdq": "...", "video_md5": "..."}`` as kaitiaki columns, checked; a ``vpdq``
    becomes the frame list ``hash_set_entries.vpdq`` holds."""
    if not data:
        raise HTTPException(400, "No signals given")
    columns: dict[str, Any] = {}
    for name, value in data.items():
        if not isinstance(value, str):
            raise HTTPException(400, f"Invalid {name} signal: not a string")
        try:
            column, normal = column_for(name), normalise_signal(name, value)
        except SignalInputError as exc:
            raise HTTPException(400, f"Invalid {name} signal: {exc}") from None
        if columns.get(column, normal) != normal:
            raise HTTPException(400, f"{name} disagrees with another signal of the same hash")
        columns[column] = normal
    if "vpdq" in columns:
        columns["vpdq"] = frames_from_signal(columns["vpdq"])
    return columns


@router.post("/bank/{bank_name}/signal")
def bank_add_signals(
    request: Request,
    data: dict[str, Any] = SIGNALS,
    bank_name: str = BankName,
    principal: TokenPrincipal = CURATE,
) -> dict[str, Any]:
    """Add one content item holding the given signals (``{"pdq": "<hex>", "note": "..."}``)."""
    note = data.pop("note", None)
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise HTTPException(400, f"note must be a string of at most {MAX_NOTE} characters")
    columns = _signals(data)
    try:
        entry_id = add_entry(
            store_of(request), bank_name, columns, actor=principal.actor, note=note or None
        )
    except HashSetMissingError:
        raise HTTPException(404, f"bank '{bank_name}' not found") from None
    except HashSetError as exc:
        raise HTTPException(400, str(exc)) from None
    return {
        "id": entry_id,
        "signals": {name: normalise_signal(name, v) for name, v in data.items()},
    }


@router.post("/bank/{bank_name}/content", responses=UPLOAD_ERRORS, openapi_extra=PHOTO_BODY)
@accepts_upload
async def bank_add_content(
    request: Request,
    bank_name: str = BankName,
    url: str | None = Query(None, max_length=4000),
    content_type: str | None = Query(None, max_length=40),
    types: str | None = Query(None, max_length=200),
    principal: TokenPrincipal = CURATE,
) -> dict[str, Any]:
    """Bank an uploaded photo or video (multipart field ``photo`` or ``video``; optional
    ``note`` field), or the one at ``url`` (``note`` in a JSON body): its hashes, computed as
    HMA computes them, become one content item."""
    if url:
        body = await request.body()
        fields = _json_fields(body)
        hashes = await run_in_threadpool(hash_url, url, content_type, types)
    else:
        async with received_media(request) as received:
            fields = received.fields
            hashes = await run_in_threadpool(hash_received, received, None)
    note = fields.get("note") or None
    if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
        raise HTTPException(400, f"note must be a string of at most {MAX_NOTE} characters")
    metadata = _metadata(fields.get("metadata"))
    signals = _signals({name: value for name, value in hashes.items() if value})
    try:
        entry_id = await run_in_threadpool(
            lambda: add_entry(
                store_of(request),
                bank_name,
                signals,
                actor=principal.actor,
                note=note,
                metadata=metadata,
            )
        )
    except HashSetMissingError:
        raise HTTPException(404, f"bank '{bank_name}' not found") from None
    except HashSetError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"id": entry_id, "signals": {k: v for k, v in hashes.items() if v}}


class ContentMetadata(BaseModel):
    """HMA's BankedContentMetadata as a client sends it (its ``collab`` is HMA's own, dropped)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    content_id: str | None = Field(None, max_length=100)
    content_uri: str | None = Field(None, max_length=4000)
    json_data: dict[str, Any] | None = Field(None, alias="json")


def _metadata(raw: Any) -> dict[str, Any] | None:
    """``metadata`` from a JSON body, or a form field holding JSON, checked as HMA checks it."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise HTTPException(400, "metadata form field must be valid JSON") from None
    if not isinstance(raw, dict):
        raise HTTPException(400, "metadata should be a json object")
    raw.pop("collab", None)
    try:
        checked = ContentMetadata(**raw)
    except ValidationError as exc:
        raise HTTPException(400, f"Invalid metadata: {exc.errors()[0]['msg']}") from None
    return checked.model_dump(by_alias=True, exclude_none=True) or None


def _json_fields(body: bytes) -> dict[str, Any]:
    """The JSON body's fields (HMA reads ``note`` there when banking by url); none if empty."""
    if not body.strip():
        return {}
    try:
        fields = json.loads(body)
    except ValueError:
        raise HTTPException(400, "the body must be a JSON object") from None
    if not isinstance(fields, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return fields


def _entry_signals(entry: HashSetEntry) -> dict[str, str]:
    out = {
        column: value
        for column in ("pdq", "md5", "sha1", "sha256")
        if (value := getattr(entry, column)) is not None
    }
    if entry.vpdq:
        out["vpdq"] = signal_from_frames(entry.vpdq)
    return out


@router.get("/bank/{bank_name}/content/{content_id}")
def bank_get_content(
    request: Request,
    content_id: int = Path(ge=0, le=MAX_ID),
    bank_name: str = BankName,
    include_signals: bool = False,
    include_metadata: bool = True,
    principal: TokenPrincipal = CURATE,
) -> JSONResponse:
    try:
        row, entry = get_entry(store_of(request), bank_name, content_id)
    except HashSetMissingError:
        raise HTTPException(404, f"bank '{bank_name}' not found") from None
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    return JSONResponse(_content(row, entry, include_signals, include_metadata))


def _content(
    row: HashSet, entry: HashSetEntry, include_signals: bool, include_metadata: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": entry.id,
        "disable_until_ts": disable_until_ts(entry),
        "original_media_uri": None,
        "bank": bank_json(row),
    }
    if include_signals:
        out["signals"] = _entry_signals(entry)
    stored = (entry.extra or {}).get("metadata")
    if include_metadata and (stored or entry.media_id):
        out["metadata"] = stored if isinstance(stored, dict) else {"content_id": entry.media_id}
    note = (entry.extra or {}).get("note")
    if isinstance(note, str):
        out["note"] = note
    return out


@router.put("/bank/{bank_name}/content/{content_id}")
def bank_update_content(
    request: Request,
    data: dict[str, Any] = CONTENT_UPDATE,
    content_id: int = Path(ge=0, le=MAX_ID),
    bank_name: str = BankName,
    principal: TokenPrincipal = CURATE,
) -> JSONResponse:
    """HMA's per-content switch: ``disable_until_ts`` (0: disabled, 1: enabled, else no match
    until that Unix time, at most five years ahead) and ``note``."""
    changes: dict[str, Any] = {}
    if "disable_until_ts" in data:
        changes["disabled_until"] = disabled_until(data["disable_until_ts"])
    if "note" in data:
        note = data["note"] or None
        if note is not None and (not isinstance(note, str) or len(note) > MAX_NOTE):
            raise HTTPException(400, f"note must be a string of at most {MAX_NOTE} characters")
        changes["note"] = note
    try:
        row, entry = update_entry(
            store_of(request), bank_name, content_id, actor=principal.actor, **changes
        )
    except HashSetMissingError:
        raise HTTPException(404, f"bank '{bank_name}' not found") from None
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    except HashSetError as exc:
        raise HTTPException(400, str(exc)) from None
    return JSONResponse(_content(row, entry, False, True))


@router.delete("/bank/{bank_name}/content/{content_id}")
def bank_delete_content(
    request: Request,
    content_id: int = Path(ge=0, le=MAX_ID),
    bank_name: str = BankName,
    principal: TokenPrincipal = CURATE,
) -> dict[str, int]:
    try:
        deleted = remove_entry(store_of(request), bank_name, content_id, actor=principal.actor)
    except HashSetMissingError:
        raise HTTPException(404, f"bank '{bank_name}' not found") from None
    return {"deleted": deleted}


@router.get("/signal_type")
def signal_types(principal: TokenPrincipal = CURATE) -> list[dict[str, Any]]:
    """The signal types kaitiaki matches, all enabled (kaitiaki has no per-type ratio)."""
    return [{"name": name, "enabled_ratio": 1.0} for name in SIGNAL_TYPES]


@router.get("/content_type")
def content_types(principal: TokenPrincipal = CURATE) -> list[dict[str, Any]]:
    return [{"name": name, "enabled": True} for name in CONTENT_TYPES]
