"""HMA's curation blueprint (``/c``): banks and bank content over kaitiaki's hash sets.

Every change goes through ``kaitiaki.hashsets.curate`` and is audited as ``token:<name>``.
Bank names created or renamed here follow HMA's rule (upper-case identifiers); sets imported
under other names are still listed, read and changed by their own names.
"""

from __future__ import annotations

import contextlib
from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Path, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.concurrency import run_in_threadpool

from kaitiaki.hashsets import HashSetMissingError, get_hash_set, list_hash_sets, remove_hash_set
from kaitiaki.hashsets.curate import (
    MAX_NOTE,
    add_entry,
    create_bank,
    get_entry,
    remove_entry,
    update_bank,
)
from kaitiaki.hashsets.entry import HashSetError, HashSetExistsError
from kaitiaki.match.lookup import SIGNAL_TYPES, SignalInputError, column_for, normalise_signal
from kaitiaki.store.models import HashSet, HashSetEntry
from kaitiaki.users.tokens import TokenPrincipal
from kaitiaki.web.api.common import MAX_ID
from kaitiaki.web.hma.common import ERRORS, bank_json, enabled_from_ratio, store_of
from kaitiaki.web.hma.hashing import (
    PHOTO_BODY,
    UPLOAD_ERRORS,
    hash_photo,
    received_photo_and_fields,
)
from kaitiaki.web.tokens import token_scope
from kaitiaki.web.uploads import accepts_upload

router = APIRouter(prefix="/c", tags=["HMA curation"], responses=ERRORS)
CURATE = Depends(token_scope("curate"))
BankName = Path(max_length=200)
SIGNALS = Body()
# HMA's BankContentConfig.ENABLED / DISABLED values of disable_until_ts.
ENABLED_TS = 1
DISABLED_TS = 0
CONTENT_TYPES = ("photo", "video")


class BankCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=200)
    enabled_ratio: float | None = None
    enabled: StrictBool | None = None
    # kaitiaki's own: the PDQ distance within which this bank matches.
    pdq_threshold: int | None = None


class BankUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, max_length=200)
    enabled_ratio: float | None = None
    enabled: StrictBool | None = None
    pdq_threshold: int | None = None


def _bank_detail(row: HashSet) -> dict[str, Any]:
    # A single bank also shows kaitiaki's threshold; the lists keep HMA's exact shape.
    return {**bank_json(row), "pdq_threshold": row.pdq_threshold}


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


def _signals(data: dict[str, Any]) -> dict[str, str]:
    """HMA's ``{"pdq": "...", "video_md5": "..."}`` as kaitiaki columns, checked."""
    if not data:
        raise HTTPException(400, "No signals given")
    columns: dict[str, str] = {}
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
    principal: TokenPrincipal = CURATE,
) -> dict[str, Any]:
    """Bank an uploaded photo (multipart field ``photo``; optional ``note`` field): its hashes,
    computed as HMA computes them, become one content item."""
    data, fields = await received_photo_and_fields(request)
    note = fields.get("note") or None
    if note is not None and len(note) > MAX_NOTE:
        raise HTTPException(400, f"note must be at most {MAX_NOTE} characters")
    hashes = await run_in_threadpool(hash_photo, data, None)
    signals = {name: value for name, value in hashes.items() if value}
    try:
        entry_id = await run_in_threadpool(
            lambda: add_entry(
                store_of(request), bank_name, signals, actor=principal.actor, note=note
            )
        )
    except HashSetMissingError:
        raise HTTPException(404, f"bank '{bank_name}' not found") from None
    except HashSetError as exc:
        raise HTTPException(400, str(exc)) from None
    return {"id": entry_id, "signals": signals}


def _entry_signals(entry: HashSetEntry) -> dict[str, str]:
    return {
        column: value
        for column in ("pdq", "md5", "sha1", "sha256")
        if (value := getattr(entry, column)) is not None
    }


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
    out: dict[str, Any] = {
        "id": entry.id,
        "disable_until_ts": DISABLED_TS if entry.quarantined_at else ENABLED_TS,
        "original_media_uri": None,
        "bank": bank_json(row),
    }
    if include_signals:
        out["signals"] = _entry_signals(entry)
    if include_metadata and entry.media_id:
        out["metadata"] = {"content_id": entry.media_id}
    note = (entry.extra or {}).get("note")
    if isinstance(note, str):
        out["note"] = note
    return JSONResponse(out)


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
