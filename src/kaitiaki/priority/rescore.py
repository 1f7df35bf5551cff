"""Scoring some subjects again because another stage changed their accounts.

A retroactive match finds that accounts touched more flagged files than the analysis knew;
their subjects' scores must follow, in the same transaction as the accounts' change, so the
store never holds new counts with old scores. Only those subjects are scored (``prioritise``
scores every one), and only the ones whose priority was computed before: a subject nobody
asked to prioritise gets no score behind anyone's back.

The stored factors say how the old score was made. A factor's weight that differs from the
defaults means an investigator computed with their own weights, which are not kept: such a
subject is held back (named in the result) rather than scored on other terms. Reach and new
material are assessed from the records only where the old score assessed them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.priority.factors import evaluate
from kaitiaki.priority.score import (
    PriorityResult,
    _result,
    _subject_data,
    _workspace_counts,
)
from kaitiaki.priority.weights import Weights, default_weights
from kaitiaki.store.models import Priority

ACTION = "priorities.rescored"
NOT_ASSESSED = "not assessed: no records"


@dataclass(frozen=True, slots=True)
class PriorityChange:
    subject_id: str
    before: PriorityResult
    after: PriorityResult

    @property
    def changed(self) -> bool:
        return (self.before.score, self.before.tier) != (self.after.score, self.after.tier)

    def as_json(self) -> dict[str, Any]:
        return {
            "subject_id": self.subject_id,
            "score": [self.before.score, self.after.score],
            "tier": [self.before.tier, self.after.tier],
            "effective_tier": [self.before.effective_tier, self.after.effective_tier],
        }


@dataclass(frozen=True, slots=True)
class Rescored:
    # Every subject scored again, changed or not.
    scored: tuple[PriorityChange, ...] = ()
    # Subjects whose old score used weights other than the defaults: left as they were.
    held_back: tuple[str, ...] = ()
    # Subjects with no stored priority: none made for them.
    unscored: tuple[str, ...] = ()
    changed: tuple[PriorityChange, ...] = field(default=())


def rescore(
    session: Session,
    subject_ids: Iterable[str],
    *,
    actor: str,
    because: dict[str, Any],
    workspace: Path | None = None,
) -> Rescored:
    """Score ``subject_ids`` again in ``session``'s transaction; one audit entry as ``actor``
    (``because`` says what changed their accounts) when any score moved."""
    if not actor.strip():
        raise ValueError("actor: rescoring priorities needs the name of who asks for it")
    wanted = sorted(set(subject_ids))
    if not wanted:
        return Rescored()
    weights = default_weights()
    stored = {
        p.subject_id: p
        for p in session.scalars(select(Priority).where(Priority.subject_id.in_(wanted)))
    }
    held = tuple(s for s in wanted if s in stored and not _same_weights(stored[s], weights))
    unscored = tuple(s for s in wanted if s not in stored)
    todo = {s for s in wanted if s in stored and s not in held}
    counts = None
    if workspace is not None and any(_assessed_records(stored[s]) for s in todo):
        counts = _workspace_counts(workspace)
    now = datetime.now(UTC)
    scored: list[PriorityChange] = []
    for data in _subject_data(session, counts):
        if data.subject_id not in todo:
            continue
        row = stored[data.subject_id]
        if not _assessed_records(row):
            data.new_uploads = data.reach = None
        before = _result(row)
        factors = [f.as_dict() for f in evaluate(data, weights)]
        score = round(sum(f["points"] for f in factors), 2)
        row.score, row.tier, row.factors, row.computed_at = score, weights.tier(score), factors, now
        scored.append(PriorityChange(data.subject_id, before, _result(row)))
    scored.sort(key=lambda c: c.subject_id)
    changed = tuple(c for c in scored if c.changed)
    if changed:
        record(
            session,
            actor=actor,
            action=ACTION,
            target_type="priorities",
            target_id=",".join(c.subject_id for c in changed)[:200],
            details={
                "because": because,
                "changed": [c.as_json() for c in changed],
                "held_back": list(held),
            },
        )
    return Rescored(tuple(scored), held, unscored, changed)


def _same_weights(row: Priority, weights: Weights) -> bool:
    for factor in row.factors or []:
        spec = weights.factors.get(str(factor.get("factor")))
        if spec is None or float(factor.get("weight", -1)) != spec.weight:
            return False
    return True


def _assessed_records(row: Priority) -> bool:
    """Whether the old score read the records (reach and new material assessed)."""
    return not any(
        f.get("factor") == "reach" and f.get("reason") == NOT_ASSESSED for f in row.factors or []
    )
