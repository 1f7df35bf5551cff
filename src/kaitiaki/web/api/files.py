"""``/api/files``: files by class, category, series, evidence; details; thumbnails; reveals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from kaitiaki.store import Store
from kaitiaki.store.models import (
    Classification,
    File,
    FileGroup,
    FileInstance,
    HashSet,
    ReviewDecision,
)
from kaitiaki.web.api.common import MAX_ID, QueryId, Timestamp, audit_view, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.reveal import RevealRefusedError, reveal, thumbnail

router = APIRouter(prefix="/api/files", tags=["files"])
Sha256 = Path(pattern="^[0-9a-f]{64}$")
JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "a JPEG image"}
}


class FileRow(BaseModel):
    evidence_id: int
    sha256: str
    kind: str
    mime: str
    size: int
    label: str
    category: str | None
    series: str | None
    hash_set: str | None
    signal: str | None
    distance: int | None
    group: str | None


class FilePage(BaseModel):
    total: int
    offset: int
    items: list[FileRow]


class InstanceOut(BaseModel):
    evidence_id: int
    path: str
    size: int | None
    error: str | None
    deleted: bool
    # A file system's own file ($MFT, $UPCASE_TABLE): not a file a user made.
    fs_metadata: bool
    viewed_by_provider: bool | None
    modified_at: Timestamp | None


class DecisionOut(BaseModel):
    evidence_id: int
    category: str
    decided_by: str
    decided_at: Timestamp
    reason: str
    via_group: str | None


class FileDetail(BaseModel):
    sha256: str
    md5: str
    sha1: str
    size: int
    kind: str
    mime: str
    pdq: str | None
    pdq_quality: int | None
    error: str | None
    exif: dict[str, Any] | None
    instances: list[InstanceOut]
    classifications: list[FileRow]
    decisions: list[DecisionOut]


class RevealIn(BaseModel):
    evidence_id: int = Field(ge=0, le=MAX_ID)
    # Real words (kaitiaki.audit.reasons) are checked by the reveal itself: 422 with the rule.
    reason: str = Field(max_length=2000)
    legal_basis: str | None = Field(
        default=None,
        max_length=2000,
        description="Needed when the provider never viewed the file and the evidence has no"
        " recorded legal basis (e.g. a warrant reference); audited with the reveal.",
    )
    colour: bool = False


def file_row(result: Any) -> FileRow:
    """One row of ``_base()``'s query (classification, file, hash set, group) as a FileRow."""
    c, f, hash_set, group = result
    return FileRow(
        evidence_id=c.evidence_id,
        sha256=c.sha256,
        kind=f.kind,
        mime=f.mime,
        size=f.size,
        label=c.label,
        category=c.category,
        series=c.series,
        hash_set=hash_set,
        signal=c.signal,
        distance=c.distance,
        group=group,
    )


def _rows(query: Any, store: Store) -> list[FileRow]:
    with store.session() as session:
        return [file_row(r) for r in session.execute(query)]


def _base() -> Any:
    return (
        select(Classification, File, HashSet.name, FileGroup.representative)
        .join(File, File.sha256 == Classification.sha256)
        .outerjoin(HashSet, HashSet.id == Classification.hash_set_id)
        .outerjoin(
            FileGroup,
            (FileGroup.evidence_id == Classification.evidence_id)
            & (FileGroup.sha256 == Classification.sha256),
        )
    )


def list_files(
    store: Store,
    *,
    evidence_id: QueryId = None,
    label: str | None = None,
    category: str | None = None,
    series: str | None = None,
    kind: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> FilePage:
    conditions = []
    if evidence_id is not None:
        conditions.append(Classification.evidence_id == evidence_id)
    if label:
        conditions.append(Classification.label == label)
    if category:
        conditions.append(Classification.category == category)
    if series:
        conditions.append(Classification.series == series)
    if kind:
        conditions.append(File.kind == kind)
    query = _base().where(*conditions)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(Classification.evidence_id, Classification.sha256)
    return FilePage(
        total=total, offset=offset, items=_rows(ordered.offset(offset).limit(limit), store)
    )


def file_detail(store: Store, sha256: str) -> FileDetail:
    with store.session() as session:
        file = session.get(File, sha256)
        if file is None:
            raise HTTPException(404, f"no file {sha256}")
        instances = list(
            session.scalars(
                select(FileInstance).where(FileInstance.sha256 == sha256).order_by(FileInstance.id)
            )
        )
        decisions = list(
            session.scalars(
                select(ReviewDecision)
                .where(ReviewDecision.sha256 == sha256)
                .order_by(ReviewDecision.id)
            )
        )
    return FileDetail(
        sha256=file.sha256,
        md5=file.md5,
        sha1=file.sha1,
        size=file.size,
        kind=file.kind,
        mime=file.mime,
        pdq=file.pdq,
        pdq_quality=file.pdq_quality,
        error=file.error,
        exif=file.exif,
        instances=[
            InstanceOut(
                evidence_id=i.evidence_id,
                path=i.path,
                size=i.size,
                error=i.error,
                deleted=bool(i.deleted),
                fs_metadata=bool(i.fs_metadata),
                viewed_by_provider=i.viewed_by_provider,
                modified_at=i.modified_at,
            )
            for i in instances
        ],
        classifications=_rows(_base().where(Classification.sha256 == sha256), store),
        decisions=[
            DecisionOut(
                evidence_id=d.evidence_id,
                category=d.category,
                decided_by=d.decided_by,
                decided_at=d.decided_at,
                reason=d.reason,
                via_group=d.via_group,
            )
            for d in decisions
        ],
    )


def viewed_file(store: Store, user: CurrentUser, sha256: str) -> FileDetail:
    detail = file_detail(store, sha256)
    audit_view(store, user, "file", sha256)
    return detail


@router.get("", response_model=FilePage, responses=errors())
def files(
    request: Request,
    evidence_id: QueryId = None,
    label: str | None = Query(None, max_length=16),
    category: str | None = Query(None, max_length=20),
    series: str | None = Query(None, max_length=200),
    kind: str | None = Query(None, max_length=16),
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(100, ge=1, le=1000),
    user: CurrentUser = Needs.VIEW_FILES,
) -> FilePage:
    return list_files(
        store_of(request),
        evidence_id=evidence_id,
        label=label,
        category=category,
        series=series,
        kind=kind,
        offset=offset,
        limit=limit,
    )


@router.get("/{sha256}", response_model=FileDetail, responses=errors(404))
def file_get(
    request: Request,
    sha256: str = Sha256,
    user: CurrentUser = Needs.VIEW_FILES,
) -> FileDetail:
    """A file's record: hashes, instances with provenance, classifications, decisions (audited)."""
    return viewed_file(store_of(request), user, sha256)


@router.get(
    "/{sha256}/thumbnail",
    response_class=Response,
    responses={**JPEG, **errors(404, 409)},
)
async def file_thumbnail(
    request: Request,
    evidence_id: Annotated[int, Query(ge=0, le=MAX_ID)],
    sha256: str = Sha256,
    user: CurrentUser = Needs.REVEAL_CONTENT,
) -> Response:
    """A heavily blurred greyscale JPEG: the only image the review queue loads by itself."""
    try:
        data = await run_in_threadpool(
            thumbnail, store_of(request), sha256, evidence_id, request.app.state.thumbnails
        )
    except RevealRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return Response(data, media_type="image/jpeg")


@router.post(
    "/{sha256}/reveal",
    response_class=Response,
    responses={**JPEG, **errors(404, 409)},
)
async def file_reveal(
    body: RevealIn,
    request: Request,
    sha256: str = Sha256,
    user: CurrentUser = Needs.REVEAL_CONTENT,
) -> Response:
    """The image unblurred (greyscale unless ``colour``), after an audit entry with the reason
    (and the legal basis, which a file the provider never viewed needs)."""
    try:
        data = await run_in_threadpool(
            lambda: reveal(
                store_of(request),
                user,
                sha256,
                body.evidence_id,
                reason=body.reason,
                legal_basis=body.legal_basis,
                colour=body.colour,
            )
        )
    except RevealRefusedError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    return Response(data, media_type="image/jpeg")
