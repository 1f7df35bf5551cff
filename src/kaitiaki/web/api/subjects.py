"""``/api/subjects`` and ``/api/accounts``: who was found, why accounts were joined, where the
country came from, and the priority with its reasons; analyses and overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, or_, select

from kaitiaki.store import Store
from kaitiaki.store.models import Account, AccountLink, Priority, ReferralSubject, Subject
from kaitiaki.web.api.common import (
    JobOut,
    PathKey,
    Timestamp,
    audit_view,
    errors,
    store_of,
    submit_job,
)
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api", tags=["subjects"])


class SubjectRow(BaseModel):
    id: str
    country: str | None
    confidence: float | None
    agency: str | None
    vpn_or_hosting: bool
    accounts: int
    score: float | None
    tier: str | None
    referral_id: str | None


class SubjectPage(BaseModel):
    total: int
    offset: int
    items: list[SubjectRow]


class AccountOut(BaseModel):
    platform: str
    account_id: str
    subject_id: str | None
    flagged_files: int
    uploads: int
    downloads: int
    views: int
    shares: int
    first_seen: Timestamp | None
    last_seen: Timestamp | None
    ips: int
    countries: str | None
    categories: str | None


class LinkOut(BaseModel):
    account_a: str
    account_b: str
    reason: str
    rejected: bool
    decided_by: str | None
    decision_reason: str | None


class PriorityOut(BaseModel):
    score: float
    tier: str
    factors: list[dict[str, Any]]
    override_tier: str | None
    override_reason: str | None
    override_by: str | None


class SubjectDetail(SubjectRow):
    multi_country: bool
    countries: dict[str, Any] | None
    country_reason: str
    country_evidence: list[Any] | None
    account_list: list[AccountOut]
    links: list[LinkOut]
    priority: PriorityOut | None


class AnalyseIn(BaseModel):
    records: list[str] = Field(min_length=1, max_length=100)
    accounts: str = Field(min_length=1, max_length=1000)
    catalog: str = Field(min_length=1, max_length=1000)
    out: str = Field(min_length=1, max_length=1000)


class OverrideIn(BaseModel):
    tier: str = Field(min_length=1, max_length=20)
    reason: str = Field(min_length=3, max_length=2000)


class ComputeIn(BaseModel):
    workspace: str | None = Field(default=None, max_length=1000)


class ComputeOut(BaseModel):
    subjects: int


def _account(a: Account) -> AccountOut:
    return AccountOut(
        platform=a.platform,
        account_id=a.account_id,
        subject_id=a.subject_id,
        flagged_files=a.flagged_files,
        uploads=a.uploads,
        downloads=a.downloads,
        views=a.views,
        shares=a.shares,
        first_seen=a.first_seen,
        last_seen=a.last_seen,
        ips=a.ips,
        countries=a.countries,
        categories=a.categories,
    )


def _row_query() -> Any:
    accounts = (
        select(Account.subject_id, func.count().label("n")).group_by(Account.subject_id).subquery()
    )
    return (
        select(Subject, Priority, accounts.c.n, ReferralSubject.referral_id)
        .outerjoin(Priority, Priority.subject_id == Subject.id)
        .outerjoin(accounts, accounts.c.subject_id == Subject.id)
        .outerjoin(ReferralSubject, ReferralSubject.subject_id == Subject.id)
    )


def _row(s: Subject, p: Priority | None, n: int | None, referral: str | None) -> SubjectRow:
    return SubjectRow(
        id=s.id,
        country=s.country,
        confidence=s.confidence,
        agency=s.agency,
        vpn_or_hosting=bool(s.vpn_or_hosting),
        accounts=n or 0,
        score=p.score if p else None,
        tier=(p.override_tier or p.tier) if p else None,
        referral_id=referral,
    )


def _list_query() -> Any:
    """The list's columns only: whole rows would decode every subject's country evidence and
    every priority's factors (JSON) for a table that shows neither."""
    accounts = (
        select(Account.subject_id, func.count().label("n")).group_by(Account.subject_id).subquery()
    )
    return (
        select(
            Subject.id,
            Subject.country,
            Subject.confidence,
            Subject.agency,
            Subject.vpn_or_hosting,
            accounts.c.n,
            Priority.score,
            func.coalesce(Priority.override_tier, Priority.tier),
            ReferralSubject.referral_id,
        )
        .outerjoin(Priority, Priority.subject_id == Subject.id)
        .outerjoin(accounts, accounts.c.subject_id == Subject.id)
        .outerjoin(ReferralSubject, ReferralSubject.subject_id == Subject.id)
    )


def list_subjects(
    store: Store,
    *,
    country: str | None = None,
    tier: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> SubjectPage:
    query = _list_query()
    if country:
        query = query.where(Subject.country == country.upper())
    if tier:
        query = query.where(func.coalesce(Priority.override_tier, Priority.tier) == tier)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        ordered = query.order_by(Priority.score.desc().nulls_last(), Subject.id)
        found = session.execute(ordered.offset(offset).limit(limit))
        rows = [
            SubjectRow(
                id=sid,
                country=where,
                confidence=confidence,
                agency=agency,
                vpn_or_hosting=bool(vpn),
                accounts=n or 0,
                score=score,
                tier=rank,
                referral_id=referral,
            )
            for sid, where, confidence, agency, vpn, n, score, rank, referral in found
        ]
    return SubjectPage(total=total, offset=offset, items=rows)


def subject_detail(store: Store, subject_id: str) -> SubjectDetail:
    with store.session() as session:
        found = session.execute(_row_query().where(Subject.id == subject_id)).first()
        if found is None:
            raise HTTPException(404, f"no subject {subject_id!r}")
        subject, priority, n, referral = found
        accounts = list(
            session.scalars(
                select(Account).where(Account.subject_id == subject_id).order_by(Account.account_id)
            )
        )
        ids = [a.account_id for a in accounts]
        links = list(
            session.scalars(
                select(AccountLink)
                .where(or_(AccountLink.account_a.in_(ids), AccountLink.account_b.in_(ids)))
                .order_by(AccountLink.account_a, AccountLink.account_b)
            )
        )
    return SubjectDetail(
        **_row(subject, priority, n, referral).model_dump(),
        multi_country=bool(subject.multi_country),
        countries=subject.countries,
        country_reason=subject.reason,
        country_evidence=subject.evidence,
        account_list=[_account(a) for a in accounts],
        links=[
            LinkOut(
                account_a=link.account_a,
                account_b=link.account_b,
                reason=link.reason,
                rejected=bool(link.rejected),
                decided_by=link.decided_by,
                decision_reason=link.decision_reason,
            )
            for link in links
        ],
        priority=PriorityOut(
            score=priority.score,
            tier=priority.tier,
            factors=priority.factors or [],
            override_tier=priority.override_tier,
            override_reason=priority.override_reason,
            override_by=priority.override_by,
        )
        if priority
        else None,
    )


def list_accounts(
    store: Store, *, subject_id: str | None = None, offset: int = 0, limit: int = 100
) -> list[AccountOut]:
    query = select(Account)
    if subject_id:
        query = query.where(Account.subject_id == subject_id)
    query = query.order_by(Account.flagged_files.desc(), Account.account_id)
    with store.session() as session:
        return [_account(a) for a in session.scalars(query.offset(offset).limit(limit))]


@router.get("/subjects", response_model=SubjectPage, responses=errors())
def subjects(
    request: Request,
    country: str | None = Query(None, max_length=2),
    tier: str | None = Query(None, max_length=20),
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(100, ge=1, le=1000),
    user: CurrentUser = Needs.VIEW_SUBJECTS,
) -> SubjectPage:
    return list_subjects(store_of(request), country=country, tier=tier, offset=offset, limit=limit)


@router.get("/subjects/{subject_id}", response_model=SubjectDetail, responses=errors(404))
def subject_get(
    subject_id: PathKey, request: Request, user: CurrentUser = Needs.VIEW_SUBJECTS
) -> SubjectDetail:
    """A subject with its accounts, the links that joined them and why, the country's
    evidence and the priority's reasons (audited)."""
    store = store_of(request)
    detail = subject_detail(store, subject_id)
    audit_view(store, user, "subject", subject_id)
    return detail


@router.get("/accounts", response_model=list[AccountOut], responses=errors())
def accounts(
    request: Request,
    subject_id: str | None = Query(None, max_length=40),
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(100, ge=1, le=1000),
    user: CurrentUser = Needs.VIEW_SUBJECTS,
) -> list[AccountOut]:
    return list_accounts(store_of(request), subject_id=subject_id, offset=offset, limit=limit)


class UnlinkIn(BaseModel):
    account_a: str = Field(min_length=1, max_length=200)
    account_b: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=2000)


class UnlinkOut(BaseModel):
    account_a: str
    account_b: str
    reasons: list[str]


@router.post("/links/reject", response_model=UnlinkOut, responses=errors())
def reject_link(body: UnlinkIn, request: Request, user: CurrentUser = Needs.ANALYSE) -> UnlinkOut:
    """Undo a link between two accounts (as ``kaitiaki operation unlink``): the next analysis
    keeps them apart; the reason is kept with the link and in the audit log."""
    from kaitiaki.accounts.service import LinkDecisionError
    from kaitiaki.accounts.service import reject_link as reject
    from kaitiaki.audit.reasons import ReasonError

    try:
        done = reject(
            store_of(request), body.account_a, body.account_b, reason=body.reason, actor=user.actor
        )
    except (LinkDecisionError, ReasonError) as exc:
        raise HTTPException(422, str(exc)) from None
    return UnlinkOut(account_a=done.account_a, account_b=done.account_b, reasons=done.reasons)


@router.post("/analyses", response_model=JobOut, status_code=202, responses=errors())
def analyse(body: AnalyseIn, request: Request, user: CurrentUser = Needs.ANALYSE) -> JobOut:
    """Queue `operation analyse` over server-side files; results land in ``out``."""
    return submit_job(request, "analyse", body.model_dump(), user)


@router.post("/priorities/compute", response_model=ComputeOut, responses=errors())
def compute(body: ComputeIn, request: Request, user: CurrentUser = Needs.PRIORITISE) -> ComputeOut:
    """Score every subject again (overrides are kept); audited. ``workspace``: an analysis's
    workspace below the server's work folder (or an evidence folder), as jobs are held to."""
    from kaitiaki.jobs.params import JobParamsError
    from kaitiaki.jobs.paths import Area, checked_path
    from kaitiaki.priority import PriorityError, prioritise

    store, settings = store_of(request), request.app.state.settings
    try:
        workspace = body.workspace and Path(
            checked_path(
                body.workspace, "workspace", settings.confinement(), area=Area.RESULTS, kind="dir"
            )
        )
        # Audited by prioritise, in the transaction that stores the scores.
        results = prioritise(store, actor=user.actor, workspace=workspace or None)
    except (JobParamsError, PriorityError) as exc:
        raise HTTPException(422, str(exc)) from None
    return ComputeOut(subjects=len(results))


@router.post("/subjects/{subject_id}/override", response_model=PriorityOut, responses=errors(404))
def override_tier(
    subject_id: PathKey,
    body: OverrideIn,
    request: Request,
    user: CurrentUser = Needs.PRIORITISE,
) -> PriorityOut:
    """Set the tier by hand with a reason; it survives recomputing."""
    from kaitiaki.priority import PriorityError, override

    store = store_of(request)
    subject_detail(store, subject_id)  # 404 for an unknown subject
    try:
        result = override(store, subject_id, body.tier, body.reason, user.actor)
    except PriorityError as exc:
        raise HTTPException(422, str(exc)) from None
    return PriorityOut(
        score=result.score,
        tier=result.tier,
        factors=result.factors,
        override_tier=result.override_tier,
        override_reason=result.override_reason,
        override_by=result.override_by,
    )
