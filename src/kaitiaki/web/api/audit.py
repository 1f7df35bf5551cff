"""``/api/audit``: browse the hash-chained log and verify it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from kaitiaki.audit import AnchorError, latest_anchor, verify_log
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent
from kaitiaki.web.api.common import QueryId, Timestamp, errors, store_of
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/audit", tags=["audit"])
_ENTRY = re.compile(r"^entry (\d+):")


class AuditEntry(BaseModel):
    id: int
    at: Timestamp
    actor: str
    action: str
    target_type: str
    target_id: str
    reason: str
    details: dict[str, Any] | None
    hash: str
    prev_hash: str


class AnchorOut(BaseModel):
    file: str
    id: int
    hash: str
    at: str


class Verification(BaseModel):
    ok: bool
    entries: int
    problems: list[str]
    notes: list[str]
    broken_ids: list[int]
    head_id: int | None
    head_hash: str | None
    # The newest anchor checked, or None with ``anchor_note`` saying why none was.
    anchor: AnchorOut | None
    anchor_note: str


def entries(
    store: Store,
    *,
    before_id: QueryId = None,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    query = select(AuditEvent)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if target_type:
        query = query.where(AuditEvent.target_type == target_type)
    with store.session() as session:
        return [
            AuditEntry(
                id=e.id,
                at=e.at,
                actor=e.actor,
                action=e.action,
                target_type=e.target_type,
                target_id=e.target_id,
                reason=e.reason,
                details=e.details,
                hash=e.hash,
                prev_hash=e.prev_hash,
            )
            for e in session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit))
        ]


def verification(store: Store, anchor_dir: Path | None) -> Verification:
    """The chain checked, and against the newest anchor in ``anchor_dir``: the chain alone
    cannot show that its newest entries were deleted or the log rewritten with fresh hashes."""
    found = None
    unreadable: list[str] = []
    if anchor_dir is None:
        note = "no anchors kept (kaitiaki serve --anchor-dir): truncation is not checked"
    else:
        try:
            found = latest_anchor(anchor_dir)
        except AnchorError as exc:
            unreadable.append(f"anchor: {exc}")
        note = "" if found or unreadable else "no anchor taken yet: truncation is not checked"
    result = verify_log(store, None if found is None else found[1])
    problems = unreadable + result.problems
    broken = sorted({int(m.group(1)) for p in problems if (m := _ENTRY.match(p)) is not None})
    return Verification(
        ok=not problems,
        entries=result.entries,
        problems=problems,
        notes=result.notes,
        broken_ids=broken,
        head_id=result.head_id,
        head_hash=result.head_hash,
        anchor=None
        if found is None
        else AnchorOut(file=found[0].name, id=found[1].id, hash=found[1].hash, at=found[1].at),
        anchor_note=note,
    )


@router.get("", response_model=list[AuditEntry], responses=errors())
def audit_entries(
    request: Request,
    before_id: QueryId = None,
    actor: str | None = Query(None, max_length=200),
    action: str | None = Query(None, max_length=60),
    target_type: str | None = Query(None, max_length=40),
    limit: int = Query(100, ge=1, le=1000),
    user: CurrentUser = Needs.VIEW_AUDIT,
) -> list[AuditEntry]:
    """Newest first; page back with ``before_id``."""
    return entries(
        store_of(request),
        before_id=before_id,
        actor=actor,
        action=action,
        target_type=target_type,
        limit=limit,
    )


@router.get("/verify", response_model=Verification, responses=errors())
def audit_verify(request: Request, user: CurrentUser = Needs.VIEW_AUDIT) -> Verification:
    """Recompute every hash and link and check the newest anchor (``kaitiaki serve
    --anchor-dir``); ``broken_ids`` names the entries that fail."""
    return verification(store_of(request), request.app.state.settings.anchor_dir)
