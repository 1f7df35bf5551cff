"""``/api/quarantine``: entries the flood guard holds, and their release (as ``kaitiaki hashset
quarantine`` and ``hashset release``), a thin adapter over ``hashsets.quarantine``.

Both need ``review``: judging whether an entry's flood of matches is real is a reviewer's call
(reviewers, investigators, admins), as is any other decision about what a match means.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from kaitiaki.hashsets.quarantine import (
    EntryNotQuarantinedError,
    Quarantined,
    list_quarantined,
    release,
)
from kaitiaki.web.api.common import PathId, Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/quarantine", tags=["hash sets"])


class QuarantinedOut(BaseModel):
    entry_id: int
    hash_set: str
    quarantined_at: Timestamp
    reason: str | None
    media_id: str | None
    signals: dict[str, str]


class ReleaseIn(BaseModel):
    reason: str = Field(max_length=2000)


def _out(q: Quarantined) -> QuarantinedOut:
    return QuarantinedOut(
        entry_id=q.entry_id,
        hash_set=q.hash_set,
        quarantined_at=q.quarantined_at,
        reason=q.reason,
        media_id=q.media_id,
        signals=q.signals,
    )


@router.get("", response_model=list[QuarantinedOut], responses=errors())
def quarantine_list(request: Request, user: CurrentUser = Needs.REVIEW) -> list[QuarantinedOut]:
    """Entries in quarantine, the longest waiting first."""
    return [_out(q) for q in list_quarantined(store_of(request))]


@router.post("/{entry_id}/release", response_model=QuarantinedOut, responses=errors(404))
async def quarantine_release(
    request: Request, body: ReleaseIn, entry_id: PathId, user: CurrentUser = Needs.REVIEW
) -> QuarantinedOut:
    """Let the entry match again, with the reviewer's reason (audited); what it was held as."""
    try:
        held = await run_in_threadpool(
            release, store_of(request), entry_id, reason=body.reason, actor=user.actor
        )
    except EntryNotQuarantinedError as exc:
        raise HTTPException(404, str(exc)) from None
    return _out(held)
