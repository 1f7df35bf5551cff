"""``/api/evidence`` and ``/api/scans``: evidence items, their scans, and starting a scan."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from kaitiaki.scan.acquisition_view import acquisition_checks
from kaitiaki.store import Store
from kaitiaki.store.models import Classification, Evidence, FileInstance, Scan
from kaitiaki.web.api.common import JobOut, PathId, Timestamp, errors, store_of, submit_job
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api", tags=["evidence"])


class ScanOut(BaseModel):
    id: int
    roots: list[str]
    hash_sets: list[str]
    started_at: Timestamp
    finished_at: Timestamp | None
    tool_version: str


class EvidenceOut(BaseModel):
    id: int
    name: str
    description: str
    acquired_by: str
    created_at: Timestamp
    manifest_sha256: str | None
    legal_basis: str | None
    instances: int
    labels: dict[str, int]


class AcquisitionCheckOut(BaseModel):
    """An acquisition hash checked: "verified", "mismatch" or "no stored hash"."""

    source: str
    method: str
    status: str
    expected: dict[str, str]
    computed: dict[str, str]
    media_size: int | None
    detail: str
    checked_by: str
    checked_at: Timestamp


class EvidenceDetail(EvidenceOut):
    scans: list[ScanOut]
    acquisition_checks: list[AcquisitionCheckOut]


class ScanIn(BaseModel):
    evidence: str = Field(min_length=1, max_length=200)
    # Below the server's evidence folders (``--evidence-root``); a relative path is taken
    # below one of them.
    roots: list[str] = Field(min_length=1, max_length=100)
    hash_sets: list[str] | None = None
    # Scanning into an evidence item that already exists adds to it: asked for, and audited.
    add_to_existing: bool = False
    # A provider export: the provider's list of the files a person there viewed (a file below
    # the evidence folders; kaitiaki.scan.provider_views). Unlisted files then open only with
    # a legal basis.
    viewed_by_provider: str | None = Field(default=None, min_length=1, max_length=4096)
    # The SHA-256 each root was acquired with: "HEX" (one root) or "ROOT=HEX", ROOT as in
    # ``roots`` (kaitiaki.scan.acquisition: a file's bytes, a folder's sha256sum listing).
    expected_sha256: list[str] | None = Field(default=None, max_length=100)


class LegalBasisIn(BaseModel):
    legal_basis: str = Field(min_length=3, max_length=2000)


def _out(store: Store, evidence: Evidence) -> EvidenceOut:
    with store.session() as session:
        instances = session.scalar(
            select(func.count()).where(FileInstance.evidence_id == evidence.id)
        )
        labels = {
            str(label): int(count)
            for label, count in session.execute(
                select(Classification.label, func.count())
                .where(Classification.evidence_id == evidence.id)
                .group_by(Classification.label)
            )
        }
    return EvidenceOut(
        id=evidence.id,
        name=evidence.name,
        description=evidence.description,
        acquired_by=evidence.acquired_by,
        created_at=evidence.created_at,
        manifest_sha256=evidence.manifest_sha256,
        legal_basis=evidence.legal_basis,
        instances=instances or 0,
        labels=labels,
    )


def list_evidence(store: Store) -> list[EvidenceOut]:
    with store.session() as session:
        items = list(session.scalars(select(Evidence).order_by(Evidence.name)))
    return [_out(store, e) for e in items]


def evidence_detail(store: Store, evidence_id: int) -> EvidenceDetail:
    with store.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise HTTPException(404, f"no evidence item {evidence_id}")
        scans = list(
            session.scalars(select(Scan).where(Scan.evidence_id == evidence_id).order_by(Scan.id))
        )
        checks = acquisition_checks(session, evidence_id)
    return EvidenceDetail(
        **_out(store, evidence).model_dump(),
        scans=[
            ScanOut(
                id=s.id,
                roots=[str(r) for r in s.roots or []],
                hash_sets=[str(h) for h in s.hash_sets or []],
                started_at=s.started_at,
                finished_at=s.finished_at,
                tool_version=s.tool_version,
            )
            for s in scans
        ],
        acquisition_checks=[AcquisitionCheckOut(**asdict(check)) for check in checks],
    )


@router.get("/evidence", response_model=list[EvidenceOut], responses=errors())
def evidence_list(
    request: Request, response: Response, user: CurrentUser = Needs.VIEW_FILES
) -> Any:
    """Evidence items by name. Paged, sorted and filtered as ``/evidence`` is (``page``,
    ``per_page``, ``sort``, ``q``); the total in ``X-Total-Count``."""
    from kaitiaki.web import listing
    from kaitiaki.web.lists import material

    query = listing.parse(request, material.EVIDENCE)
    found = material.evidence_list(store_of(request), query)
    return listing.api_listed(request, user, response, found)


@router.get("/evidence/{evidence_id}", response_model=EvidenceDetail, responses=errors(404))
def evidence_get(
    evidence_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_FILES
) -> EvidenceDetail:
    return evidence_detail(store_of(request), evidence_id)


@router.post(
    "/evidence/{evidence_id}/legal-basis", response_model=EvidenceOut, responses=errors(404)
)
def set_legal_basis(
    evidence_id: PathId,
    body: LegalBasisIn,
    request: Request,
    user: CurrentUser = Needs.SCAN,
) -> EvidenceOut:
    """Record the authority to examine this evidence's content (a warrant, the provider's
    terms); it is written to the audit log with the previous value."""
    from kaitiaki.scan.legal_basis import EvidenceNotFoundError, set_legal_basis

    store = store_of(request)
    try:
        # ReasonError (a basis without real words) is answered 422 by the app's handler.
        set_legal_basis(store, evidence_id, body.legal_basis, actor=user.actor)
    except EvidenceNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    return evidence_detail(store, evidence_id)


@router.post("/scans", response_model=JobOut, status_code=202, responses=errors())
def start_scan(body: ScanIn, request: Request, user: CurrentUser = Needs.SCAN) -> JobOut:
    """Queue a scan of folders below the server's evidence roots into an evidence item; watch
    it at /api/jobs/{id}. An existing item is added to only with ``add_to_existing``."""
    params = {
        "evidence": body.evidence,
        "roots": body.roots,
        "hash_sets": body.hash_sets,
        "add_to_existing": body.add_to_existing,
        "viewed_by_provider": body.viewed_by_provider,
        "expected_sha256": body.expected_sha256,
    }
    return submit_job(request, "scan", params, user)
