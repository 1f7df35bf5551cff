"""``/api/hashsets``: list, import (an upload queued as a job), export."""

from __future__ import annotations

import io
import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, HTTPException, Path, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel

from kaitiaki.audit import record
from kaitiaki.hashsets import HashSetMissingError, export_hash_set, list_hash_sets
from kaitiaki.hashsets.profiles import PROFILES
from kaitiaki.store import Store
from kaitiaki.web.api.common import JobOut, Timestamp, errors, store_of, submit_job
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.settings import WebSettings

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


def hash_sets(store: Store) -> list[HashSetOut]:
    return [
        HashSetOut(
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
        for h in list_hash_sets(store)
    ]


@router.get("", response_model=list[HashSetOut], responses=errors())
def hashsets_list(request: Request, user: CurrentUser = Needs.VIEW_HASH_SETS) -> list[HashSetOut]:
    return hash_sets(store_of(request))


@router.post("", response_model=JobOut, status_code=202, responses=errors(413))
def hashsets_import(
    request: Request,
    file: Annotated[UploadFile, File()],
    name: str = Form(..., min_length=1, max_length=200),
    format: Literal["vics", "list", "csv"] | None = Form(None),
    profile: str | None = Form(None, max_length=40),
    user: CurrentUser = Needs.IMPORT_HASH_SETS,
) -> JobOut:
    """Upload a VICS JSON, plain list or CSV file; the import runs as a job."""
    settings: WebSettings = request.app.state.settings
    if profile and profile not in PROFILES:
        raise HTTPException(422, f"unknown profile {profile!r}; valid: {', '.join(PROFILES)}")
    uploads = settings.data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    # The client's file name is never used as a path: it could hold "../".
    target = uploads / f"{uuid.uuid4().hex}.upload"
    with target.open("wb") as out:
        copied = 0
        while chunk := file.file.read(1 << 20):
            copied += len(chunk)
            if copied > settings.max_upload:
                out.close()
                target.unlink()
                raise HTTPException(413, f"upload larger than {settings.max_upload} bytes")
            out.write(chunk)
    params = {"path": str(target.resolve()), "name": name, "format": format, "profile": profile}
    return submit_job(request, "import_hash_set", params, user)


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


def _hash_set_out(store: Store, name: str) -> HashSetOut:
    found = [h for h in hash_sets(store) if h.name == name]
    if not found:
        raise HTTPException(404, f"no hash set named {name!r}")
    return found[0]


@router.post("/{name}/enable", response_model=HashSetOut, responses=errors(404))
def hashsets_enable(
    request: Request,
    name: str = Path(max_length=200),
    user: CurrentUser = Needs.IMPORT_HASH_SETS,
) -> HashSetOut:
    """Match against this hash set again (as ``kaitiaki hashset enable``; audited)."""
    from kaitiaki.hashsets import set_enabled

    store = store_of(request)
    try:
        set_enabled(store, name, True, actor=user.actor)
    except HashSetMissingError:
        raise HTTPException(404, f"no hash set named {name!r}") from None
    return _hash_set_out(store, name)


@router.post("/{name}/disable", response_model=HashSetOut, responses=errors(404))
def hashsets_disable(
    request: Request,
    name: str = Path(max_length=200),
    user: CurrentUser = Needs.IMPORT_HASH_SETS,
) -> HashSetOut:
    """Keep this hash set but leave it out of matching (as ``kaitiaki hashset disable``)."""
    from kaitiaki.hashsets import set_enabled

    store = store_of(request)
    try:
        set_enabled(store, name, False, actor=user.actor)
    except HashSetMissingError:
        raise HTTPException(404, f"no hash set named {name!r}") from None
    return _hash_set_out(store, name)


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
    from kaitiaki.hashsets import remove_hash_set

    try:
        removed = remove_hash_set(store_of(request), name, actor=user.actor)
    except HashSetMissingError:
        raise HTTPException(404, f"no hash set named {name!r}") from None
    return RemovedOut(name=name, entries=removed)
