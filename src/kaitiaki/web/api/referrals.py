"""``/api/referrals``: build (a job), send and move along the lifecycle, record outcomes.

A liaison officer sees, moves along and records outcomes of only the referrals of its own
agency: another agency's referral is a 404 (not a 403), so its existence is not disclosed.
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, time
from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from kaitiaki.audit import record
from kaitiaki.refer.lifecycle import NEXT, LifecycleError, apply_status
from kaitiaki.store import Store
from kaitiaki.store.models import Outcome, Referral, ReferralEvent, ReferralSubject, User
from kaitiaki.users.roles import can_record_outcome, can_see_referral, can_update_referral
from kaitiaki.web.api.common import JobOut, Timestamp, audit_view, errors, store_of, submit_job
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.settings import WebSettings

router = APIRouter(prefix="/api/referrals", tags=["referrals"])


class ReferralRow(BaseModel):
    id: str
    agency: str
    country: str | None
    status: str
    created_at: Timestamp
    created_by: str
    subjects: int


class EventOut(BaseModel):
    status: str
    at: Timestamp
    by: str
    note: str


class OutcomeOut(BaseModel):
    subject_id: str | None
    kind: str
    count: int
    date: Timestamp | None
    note: str
    source: str


class ReferralDetail(ReferralRow):
    manifest_sha256: str | None
    package_path: str | None
    subject_ids: list[str]
    next_statuses: list[str]
    events: list[EventOut]
    outcomes: list[OutcomeOut]


class BuildIn(BaseModel):
    analysis: str = Field(min_length=1, max_length=1000)


class StatusIn(BaseModel):
    status: str = Field(min_length=1, max_length=30)
    note: str = Field(default="", max_length=2000)


class OutcomeIn(BaseModel):
    kind: Literal["arrested", "children_safeguarded", "note"]
    count: int = Field(default=1, ge=0, le=1_000_000)
    subject_id: str | None = Field(default=None, max_length=40)
    date: dt.date | None = None
    note: str = Field(default="", max_length=2000)


def _principal(user: CurrentUser) -> User:
    # The role checks in users.roles take a User row; a transient one carries what they read.
    return User(name=user.name, role=user.role.value, agency=user.agency, disabled=False)


def _visible(user: CurrentUser, referral: Referral) -> bool:
    return can_see_referral(_principal(user), referral)


def list_referrals(store: Store, user: CurrentUser) -> list[ReferralRow]:
    counts = (
        select(ReferralSubject.referral_id, func.count().label("n"))
        .group_by(ReferralSubject.referral_id)
        .subquery()
    )
    query = (
        select(Referral, counts.c.n)
        .outerjoin(counts, counts.c.referral_id == Referral.id)
        .order_by(Referral.created_at.desc(), Referral.id)
    )
    with store.session() as session:
        return [
            ReferralRow(
                id=r.id,
                agency=r.agency,
                country=r.country,
                status=r.status,
                created_at=r.created_at,
                created_by=r.created_by,
                subjects=n or 0,
            )
            for r, n in session.execute(query)
            if _visible(user, r)
        ]


def _get(store: Store, user: CurrentUser, referral_id: str) -> Referral:
    with store.session() as session:
        referral = session.get(Referral, referral_id)
    if referral is None or not _visible(user, referral):
        raise HTTPException(404, f"no referral {referral_id!r}")
    return referral


def referral_detail(store: Store, user: CurrentUser, referral_id: str) -> ReferralDetail:
    r = _get(store, user, referral_id)
    with store.session() as session:
        subjects = list(
            session.scalars(
                select(ReferralSubject.subject_id)
                .where(ReferralSubject.referral_id == r.id)
                .order_by(ReferralSubject.subject_id)
            )
        )
        events = list(
            session.scalars(
                select(ReferralEvent)
                .where(ReferralEvent.referral_id == r.id)
                .order_by(ReferralEvent.at, ReferralEvent.id)
            )
        )
        outcomes = list(
            session.scalars(select(Outcome).where(Outcome.referral_id == r.id).order_by(Outcome.id))
        )
    return ReferralDetail(
        id=r.id,
        agency=r.agency,
        country=r.country,
        status=r.status,
        created_at=r.created_at,
        created_by=r.created_by,
        subjects=len(subjects),
        manifest_sha256=r.manifest_sha256,
        package_path=None if user.agency_scoped else r.package_path,
        subject_ids=subjects,
        next_statuses=list(NEXT.get(r.status, ())),
        events=[EventOut(status=e.status, at=e.at, by=e.by, note=e.note) for e in events],
        outcomes=[
            OutcomeOut(
                subject_id=o.subject_id,
                kind=o.kind,
                count=o.count,
                date=o.date,
                note=o.note,
                source=o.source,
            )
            for o in outcomes
        ],
    )


def viewed_referral(store: Store, user: CurrentUser, referral_id: str) -> ReferralDetail:
    detail = referral_detail(store, user, referral_id)
    audit_view(store, user, "referral", referral_id)
    return detail


@router.get("", response_model=list[ReferralRow], responses=errors())
def referrals(request: Request, user: CurrentUser = Needs.VIEW_REFERRALS) -> list[ReferralRow]:
    return list_referrals(store_of(request), user)


@router.post("/build", response_model=JobOut, status_code=202, responses=errors())
def build(body: BuildIn, request: Request, user: CurrentUser = Needs.BUILD_REFERRALS) -> JobOut:
    """Queue signed packages, one per agency, for subjects of an analysis not yet referred."""
    settings: WebSettings = request.app.state.settings
    out = str((settings.data_dir / "referrals").resolve())
    params = {"analysis": body.analysis, "out": out, "by": user.actor}
    return submit_job(request, "refer", params, user)


@router.get("/{referral_id}", response_model=ReferralDetail, responses=errors(404))
def referral_get(
    referral_id: str, request: Request, user: CurrentUser = Needs.VIEW_REFERRALS
) -> ReferralDetail:
    """A referral, its subjects, status history and outcomes (audited)."""
    return viewed_referral(store_of(request), user, referral_id)


@router.post("/{referral_id}/status", response_model=ReferralDetail, responses=errors(404, 409))
def referral_status(
    referral_id: str,
    body: StatusIn,
    request: Request,
    user: CurrentUser = Needs.UPDATE_REFERRAL,
) -> ReferralDetail:
    """Move to the next status ("sent" sends it); a step skipped is refused with 409."""
    store = store_of(request)
    referral = _get(store, user, referral_id)
    if not can_update_referral(_principal(user), referral):
        raise HTTPException(403, "you may not update this referral")
    try:
        with store.session() as session:
            apply_status(session, referral_id, body.status, by=user.actor, note=body.note)
    except LifecycleError as exc:
        raise HTTPException(409, str(exc)) from None
    return referral_detail(store, user, referral_id)


@router.post("/{referral_id}/outcomes", response_model=ReferralDetail, responses=errors(404))
def referral_outcome(
    referral_id: str,
    body: OutcomeIn,
    request: Request,
    user: CurrentUser = Needs.RECORD_OUTCOMES,
) -> ReferralDetail:
    """Record what came of the referral: arrests, children safeguarded, or a note."""
    store = store_of(request)
    referral = _get(store, user, referral_id)
    if not can_record_outcome(_principal(user), referral):
        raise HTTPException(403, "you may not record outcomes of this referral")
    when = datetime.combine(body.date, time(), tzinfo=UTC) if body.date else None
    with store.session() as session:
        if body.subject_id is not None:
            member = session.get(ReferralSubject, body.subject_id)
            if member is None or member.referral_id != referral_id:
                raise HTTPException(422, f"subject {body.subject_id!r} is not in this referral")
        session.add(
            Outcome(
                referral_id=referral_id,
                subject_id=body.subject_id,
                kind=body.kind,
                count=0 if body.kind == "note" else body.count,
                date=when,
                note=body.note,
                source=user.actor,
            )
        )
        record(
            session,
            actor=user.actor,
            action="referral.outcome",
            target_type="referral",
            target_id=referral_id,
            reason=body.note,
            details={
                "kind": body.kind,
                "count": body.count,
                "subject_id": body.subject_id,
                "date": body.date.isoformat() if body.date else None,
            },
        )
    return referral_detail(store, user, referral_id)
