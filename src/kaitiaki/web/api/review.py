"""``/api/review``: the queue of new material, decisions (one covers a near-duplicate group),
and reveal counts for reviewers' welfare."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from kaitiaki.audit import record
from kaitiaki.hashsets.profiles import get_profile
from kaitiaki.store import Store
from kaitiaki.store.models import (
    AuditEvent,
    Classification,
    Evidence,
    File,
    FileGroup,
    ReviewDecision,
)
from kaitiaki.web.api.common import PathId, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.reveal import needing_basis

router = APIRouter(prefix="/api/review", tags=["review"])
IGNORABLE = "ignorable"
REVIEWABLE = ("image", "video")


class CategoryOut(BaseModel):
    code: str
    label: str


class QueueItem(BaseModel):
    sha256: str
    kind: str
    size: int
    group_size: int
    members: list[str]
    # A reveal of this file must state a legal basis (the provider never viewed it and the
    # evidence records none): the page asks for one up front.
    needs_legal_basis: bool = False


class Reveals(BaseModel):
    reviewer: str
    today: int
    this_week: int


class Queue(BaseModel):
    evidence_id: int
    evidence: str
    profile: str
    categories: list[CategoryOut]
    total_new: int
    decided: int
    pending_groups: int
    offset: int
    items: list[QueueItem]
    my_reveals: Reveals


class DecisionIn(BaseModel):
    sha256: str = Field(pattern="^[0-9a-f]{64}$")
    category: str = Field(min_length=1, max_length=20)
    reason: str = Field(default="", max_length=2000)
    apply_to_group: bool = True


class DecisionResult(BaseModel):
    decided: list[str]


def evidence_profile(store: Store, evidence_id: int) -> str:
    """The category profile decisions on this evidence use (the triage stage decides)."""
    from kaitiaki.triage.review import evidence_profile as profile_of

    with store.session() as session:
        return profile_of(session, evidence_id).name


def reveal_counts(store: Store, actor: str, now: datetime | None = None) -> Reveals:
    now = now or datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    week = today - timedelta(days=today.weekday())
    with store.session() as session:

        def count(since: datetime) -> int:
            query = select(func.count()).where(
                AuditEvent.action == "reveal", AuditEvent.actor == actor, AuditEvent.at >= since
            )
            return session.scalar(query) or 0

        return Reveals(reviewer=actor, today=count(today), this_week=count(week))


def all_reveal_counts(store: Store) -> list[Reveals]:
    with store.session() as session:
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "reveal").distinct()
        ).all()
    return [reveal_counts(store, actor) for actor in sorted(actors)]


def queue(
    store: Store, user: CurrentUser, evidence_id: int, offset: int = 0, limit: int = 50
) -> Queue:
    with store.session() as session:
        evidence = session.get(Evidence, evidence_id)
        if evidence is None:
            raise HTTPException(404, f"no evidence item {evidence_id}")
        new = {
            sha: (kind, size)
            for sha, kind, size in session.execute(
                select(Classification.sha256, File.kind, File.size)
                .join(File, File.sha256 == Classification.sha256)
                .where(
                    Classification.evidence_id == evidence_id,
                    Classification.label == "new",
                    # Archives and other containers are not material a person can categorise.
                    File.kind.in_(REVIEWABLE),
                )
            )
        }
        decided = set(
            session.scalars(
                select(ReviewDecision.sha256).where(ReviewDecision.evidence_id == evidence_id)
            )
        )
        groups = {
            sha: rep
            for sha, rep in session.execute(
                select(FileGroup.sha256, FileGroup.representative).where(
                    FileGroup.evidence_id == evidence_id
                )
            )
        }
    members: dict[str, list[str]] = {}
    for sha in sorted(new):
        members.setdefault(groups.get(sha, sha), []).append(sha)
    pending = [
        (rep if rep in new else shas[0], shas)
        for rep, shas in sorted(members.items())
        if any(s not in decided for s in shas)
    ]
    page = pending[offset : offset + limit]
    needing = needing_basis(store, evidence_id, (shown for shown, _ in page))
    profile = get_profile(evidence_profile(store, evidence_id))
    categories = [CategoryOut(code=c.code, label=c.label) for c in profile.categories]
    categories.append(CategoryOut(code=IGNORABLE, label="Ignorable (known non-pertinent)"))
    return Queue(
        evidence_id=evidence_id,
        evidence=evidence.name,
        profile=profile.name,
        categories=categories,
        total_new=len(new),
        decided=len(decided & set(new)),
        pending_groups=len(pending),
        offset=offset,
        items=[
            QueueItem(
                sha256=shown,
                kind=new[shown][0],
                size=new[shown][1],
                group_size=len(shas),
                members=shas,
                needs_legal_basis=shown in needing,
            )
            for shown, shas in page
        ],
        my_reveals=reveal_counts(store, user.actor),
    )


@router.get("/welfare", response_model=list[Reveals], responses=errors())
def welfare(request: Request, user: CurrentUser = Needs.VIEW_USERS) -> list[Reveals]:
    """Reveals per reviewer today and this week, so a supervisor can look after the team."""
    return all_reveal_counts(store_of(request))


@router.get("/{evidence_id}", response_model=Queue, responses=errors(404))
def review_queue(
    evidence_id: PathId,
    request: Request,
    offset: int = Query(0, ge=0, le=10_000_000),
    limit: int = Query(50, ge=1, le=500),
    user: CurrentUser = Needs.REVIEW,
) -> Queue:
    store = store_of(request)
    result = queue(store, user, evidence_id, offset, limit)
    with store.session() as session:
        record(
            session,
            actor=user.actor,
            action="view",
            target_type="review_queue",
            target_id=str(evidence_id),
            details={"offset": offset, "items": [i.sha256 for i in result.items]},
        )
    return result


@router.post("/{evidence_id}/decisions", response_model=DecisionResult, responses=errors(404))
def review_decide(
    evidence_id: PathId,
    body: DecisionIn,
    request: Request,
    user: CurrentUser = Needs.REVIEW,
) -> DecisionResult:
    """Categorise a file (a code of the evidence's profile, or "ignorable"); with
    ``apply_to_group`` the decision covers its whole near-duplicate group."""
    from kaitiaki.triage.review import decide

    try:
        decided = decide(
            store_of(request),
            evidence_id=evidence_id,
            sha256=body.sha256,
            category=body.category,
            by=user.actor,
            reason=body.reason,
            apply_to_group=body.apply_to_group,
        )
    except ValueError as exc:
        missing = str(exc).startswith("no evidence") or "is not in evidence" in str(exc)
        raise HTTPException(404 if missing else 422, str(exc)) from None
    return DecisionResult(decided=decided)
