"""``/api/hashsets``: list, import (an upload queued as a job), export."""

from __future__ import annotations

import io
from dataclasses import dataclass, replace
from pathlib import Path as FilePath
from typing import Any, Literal, cast

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from kaitiaki.audit import record
from kaitiaki.hashsets import (
    HashSetMissingError,
    export_hash_set,
    list_hash_sets,
    remove_hash_set,
    set_enabled,
)
from kaitiaki.hashsets.entry import Hex64
from kaitiaki.hashsets.precheck import first_undecided
from kaitiaki.hashsets.profiles import PROFILES
from kaitiaki.hashsets.store import ImportFormat, detect_format
from kaitiaki.hashsets.summary import CategoryMapError, check_map_syntax, split_map_text
from kaitiaki.store import Store
from kaitiaki.store.models import HashSet
from kaitiaki.web.api.common import JobOut, Timestamp, errors, store_of, submit_job
from kaitiaki.web.api.imports import safe_name
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.settings import WebSettings
from kaitiaki.web.uploads import UploadError, accepts_upload, receive_upload, upload_body

router = APIRouter(prefix="/api/hashsets", tags=["hash sets"])


class HashSetOut(BaseModel):
    id: int
    name: str
    source: str
    profile: str
    pdq_threshold: int
    enabled: bool
    imported_at: Timestamp
    source_sha256: str | None
    source_format: str
    entry_count: int


def _out(h: HashSet) -> HashSetOut:
    return HashSetOut(
        id=h.id,
        name=h.name,
        source=h.source,
        profile=h.profile,
        pdq_threshold=h.pdq_threshold,
        enabled=h.enabled,
        imported_at=h.imported_at,
        source_sha256=h.source_sha256,
        source_format=h.source_format,
        entry_count=h.entry_count,
    )


def hash_sets(store: Store) -> list[HashSetOut]:
    return [_out(h) for h in list_hash_sets(store)]


@router.get("", response_model=list[HashSetOut], responses=errors())
def hashsets_list(
    request: Request, response: Response, user: CurrentUser = Needs.VIEW_HASH_SETS
) -> Any:
    """Hash sets by name. Paged, sorted and filtered as ``/hashsets`` is (``page``,
    ``per_page``, ``sort``, ``q``, ``profile``, ``enabled``); the total in ``X-Total-Count``."""
    from kaitiaki.web import listing
    from kaitiaki.web.lists import material

    query = listing.parse(request, material.HASH_SETS)
    found = material.hash_set_list(store_of(request), query)
    return listing.api_listed(request, user, response, found)


_FORMATS = ("vics", "list", "csv")
_HEX64 = ("sha256", "pdq")
# How a refusal of an undecided 64-hex value tells the web's user to settle it.
HEX64_FIELD = '"64-hex values are" on the import form, hex64=sha256|pdq in the API'
_IMPORT_FIELDS: dict[str, dict[str, Any]] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "format": {"type": "string", "enum": list(_FORMATS)},
    "profile": {"type": "string", "maxLength": 40},
    # FROM=TO items, comma- or line-separated: codes the profile does not define, mapped.
    "category_map": {"type": "string", "maxLength": 2000},
    # What a bare 64-hex value of a list or CSV is; without it such a file is refused (422).
    "hex64": {"type": "string", "enum": list(_HEX64)},
}


@dataclass(frozen=True, slots=True)
class _ImportParams:
    name: str
    format: str | None
    profile: str | None
    category_map: list[str]
    hex64: str | None


def _import_params(fields: dict[str, str]) -> _ImportParams:
    name = fields.get("name", "").strip()
    if not 1 <= len(name) <= 200:
        raise HTTPException(422, "name: give the hash set a name of 1-200 characters")
    format = fields.get("format") or None
    if format is not None and format not in _FORMATS:
        raise HTTPException(422, f"format: one of {', '.join(_FORMATS)}, or none to detect it")
    profile = fields.get("profile") or None
    if profile and profile not in PROFILES:
        raise HTTPException(422, f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    try:
        category_map = check_map_syntax(split_map_text(fields.get("category_map", "")[:2000]))
    except CategoryMapError as exc:
        raise HTTPException(422, f"category_map: {exc}") from None
    hex64 = fields.get("hex64") or None
    if hex64 is not None and hex64 not in _HEX64:
        raise HTTPException(422, f"hex64: one of {', '.join(_HEX64)}, or none")
    return _ImportParams(name, format, profile, category_map, hex64)


def _undecided(path: FilePath, filename: str, params: _ImportParams) -> None:
    """422 for a list or CSV with a bare 64-hex value and no ``hex64``: as the command line,
    naming the file (as the client named it), the line and both readings."""
    found = first_undecided(
        path,
        cast(ImportFormat | None, params.format),
        hex64=cast(Hex64 | None, params.hex64),
    )
    if found is not None:
        raise HTTPException(422, found.told(safe_name(filename, "the file"), HEX64_FIELD))


@router.post(
    "",
    response_model=JobOut,
    status_code=202,
    responses=errors(413, 415),
    openapi_extra=upload_body(_IMPORT_FIELDS),
)
@accepts_upload
async def hashsets_import(request: Request, user: CurrentUser = Needs.IMPORT_HASH_SETS) -> JobOut:
    """Upload a VICS JSON, plain list or CSV file (multipart: ``file``, ``name``, ``format``,
    ``profile``, ``category_map`` as ``8=0,9=0``, ``hex64``: ``sha256`` or ``pdq``); it is
    streamed to the work root and the import runs as a job. A list or CSV with a bare 64-hex
    value (SHA-256 or PDQ?) and no ``hex64`` is refused (422) naming the line."""
    settings: WebSettings = request.app.state.settings
    try:
        upload = await receive_upload(request, settings.data_dir / "uploads", settings.max_upload)
    except UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    try:
        checked = _import_params(upload.fields)
        if checked.format is None:
            # Told by the name the client gave: the upload's own name ends in ".upload".
            checked = replace(checked, format=detect_format(FilePath(upload.filename)))
        await run_in_threadpool(_undecided, upload.path, upload.filename, checked)
    except HTTPException:
        upload.path.unlink(missing_ok=True)
        raise
    params = {
        "path": str(upload.path.resolve()),
        "name": checked.name,
        "format": checked.format,
        "profile": checked.profile,
        "category_map": checked.category_map,
        "hex64": checked.hex64,
    }
    return await run_in_threadpool(submit_job, request, "import_hash_set", params, user)


@router.get(
    "/{name}/export",
    response_class=Response,
    responses={200: {"content": {"application/json": {}, "text/plain": {}}}, **errors(404)},
)
def hashsets_export(
    request: Request,
    name: str = Path(max_length=200),
    format: Literal["vics", "list"] = Query("vics"),
    user: CurrentUser = Needs.VIEW_HASH_SETS,
) -> Response:
    """The set as VICS 2.0 JSON or a plain hash list (hashes only); the export is audited."""
    store = store_of(request)
    buffer = io.StringIO()
    try:
        count = export_hash_set(store, name, format, buffer)
    except HashSetMissingError:
        raise HTTPException(404, f"no hash set named {name!r}") from None
    with store.session() as session:
        record(
            session,
            actor=user.actor,
            action="hashset.exported",
            target_type="hash_set",
            target_id=name,
            details={"format": format, "entries": count},
        )
    suffix, media = ("json", "application/json") if format == "vics" else ("txt", "text/plain")
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Response(
        buffer.getvalue(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{safe}.{suffix}"'},
    )


def _set_enabled(request: Request, name: str, enabled: bool, user: CurrentUser) -> HashSetOut:
    try:
        return _out(set_enabled(store_of(request), name, enabled, actor=user.actor))
    except HashSetMissingError:
        raise HTTPException(404, f"no hash set named {name!r}") from None


@router.post("/{name}/enable", response_model=HashSetOut, responses=errors(404))
def hashsets_enable(
    request: Request,
    name: str = Path(max_length=200),
    user: CurrentUser = Needs.IMPORT_HASH_SETS,
) -> HashSetOut:
    """Match against this hash set again (as ``kaitiaki hashset enable``; audited)."""
    return _set_enabled(request, name, True, user)


@router.post("/{name}/disable", response_model=HashSetOut, responses=errors(404))
def hashsets_disable(
    request: Request,
    name: str = Path(max_length=200),
    user: CurrentUser = Needs.IMPORT_HASH_SETS,
) -> HashSetOut:
    """Keep this hash set but leave it out of matching (as ``kaitiaki hashset disable``)."""
    return _set_enabled(request, name, False, user)


class RemovedOut(BaseModel):
    name: str
    entries: int


@router.delete("/{name}", response_model=RemovedOut, responses=errors(404))
def hashsets_remove(
    request: Request,
    name: str = Path(max_length=200),
    user: CurrentUser = Needs.IMPORT_HASH_SETS,
) -> RemovedOut:
    """Delete a hash set, its entries and their matches (as ``kaitiaki hashset remove``)."""
    try:
        removed = remove_hash_set(store_of(request), name, actor=user.actor)
    except HashSetMissingError:
        raise HTTPException(404, f"no hash set named {name!r}") from None
    return RemovedOut(name=name, entries=removed)
