"""Score every subject, write ``Priority`` rows, keep investigators' overrides."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.audit.reasons import ReasonError, require_reason
from kaitiaki.priority.factors import INDICATORS, SubjectData, evaluate
from kaitiaki.priority.weights import TIERS, Weights, default_weights
from kaitiaki.store import Store
from kaitiaki.store.models import Account, Enrichment, Priority, Subject

REVIEWER = "reviewer"  # the hash_set of objects flagged by a reviewer (operation.flag)


class PriorityError(ValueError):
    """A priority request that cannot be met (unknown subject or tier, no reason...)."""


@dataclass(frozen=True, slots=True)
class PriorityResult:
    subject_id: str
    score: float
    tier: str
    factors: list[dict[str, Any]] = field(default_factory=list)
    override_tier: str | None = None
    override_reason: str | None = None
    override_by: str | None = None

    @property
    def effective_tier(self) -> str:
        return self.override_tier or self.tier

    @property
    def reasons(self) -> list[str]:
        return [f["reason"] for f in self.factors if f["points"] > 0]


def normalise_tier(text: str) -> str:
    tier = text.strip().lower().replace("-", " ").replace("_", " ")
    if tier not in TIERS:
        raise PriorityError(f"unknown tier {text!r}; tiers: {', '.join(TIERS)}")
    return tier


def _workspace_counts(workspace: Path) -> tuple[dict[str, int], dict[str, set[str]]]:
    """Per account: new uploads later categorised, and the others who got their flagged files."""
    from kaitiaki.engines.duckdb_util import open_duckdb
    from kaitiaki.records import ingested_files

    flagged = workspace / "flagged_objects.parquet"
    events = [str(p) for p in ingested_files(workspace, "records")]
    if not flagged.is_file() or not events:
        raise PriorityError(f"{workspace}: no flagged objects or records (run the analysis)")
    con = open_duckdb()
    try:
        # Relations, not SQL text: file names are never spliced into a query.
        con.register("ev", con.read_parquet(events))
        con.register("fo", con.read_parquet(str(flagged)))
        # New material: flagged by a reviewer alone, no hash set knew it when it was uploaded.
        new_rows = con.execute(
            """
            WITH new AS (SELECT object_id FROM fo GROUP BY object_id
                         HAVING bool_and(hash_set = ?))
            SELECT account_id, count(DISTINCT object_id) FROM ev
            WHERE action = 'upload' AND object_id IN (SELECT object_id FROM new)
            GROUP BY account_id
            """,
            [REVIEWER],
        ).fetchall()
        reach_rows = con.execute(
            """
            WITH f AS (SELECT DISTINCT object_id FROM fo),
            src AS (SELECT DISTINCT account_id, object_id FROM ev
                    WHERE action IN ('upload', 'share') AND object_id IN (SELECT object_id FROM f)),
            dst AS (SELECT DISTINCT account_id, object_id FROM ev
                    WHERE action IN ('download', 'view') AND object_id IN (SELECT object_id FROM f))
            SELECT DISTINCT s.account_id, d.account_id FROM src s
            JOIN dst d ON d.object_id = s.object_id AND d.account_id <> s.account_id
            """
        ).fetchall()
    finally:
        con.close()
    others: dict[str, set[str]] = defaultdict(set)
    for account, other in reach_rows:
        others[str(account)].add(str(other))
    return {str(a): int(n) for a, n in new_rows}, others


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"yes", "true", "1"}


def subject_data(store: Store, workspace: Path | None = None) -> list[SubjectData]:
    """Every subject's accounts, activity and enrichment, summed per subject."""
    counts = _workspace_counts(workspace) if workspace is not None else None
    with store.session() as session:
        return _subject_data(session, counts)


def _subject_data(
    session: Session, counts: tuple[dict[str, int], dict[str, set[str]]] | None
) -> list[SubjectData]:
    subjects = {s: SubjectData(s) for s in session.scalars(select(Subject.id))}
    for account in session.scalars(select(Account).where(Account.subject_id.is_not(None))):
        data = subjects.get(str(account.subject_id))
        if data is None:
            continue
        data.accounts.append(account.account_id)
        data.flagged_files += account.flagged_files
        data.uploads += account.uploads
        data.downloads += account.downloads
        data.views += account.views
        data.shares += account.shares
        data.categories |= {c for c in (account.categories or "").split(";") if c}
        if account.first_seen and (not data.first_seen or account.first_seen < data.first_seen):
            data.first_seen = account.first_seen
        if account.last_seen and (not data.last_seen or account.last_seen > data.last_seen):
            data.last_seen = account.last_seen
    for row in session.scalars(select(Enrichment).where(Enrichment.indicator.in_(INDICATORS))):
        if row.subject_id in subjects:
            subjects[row.subject_id].indicators[row.indicator] = _truthy(row.value)
    if counts is not None:
        new, others = counts
        for data in subjects.values():
            own = set(data.accounts)
            data.new_uploads = sum(new.get(a, 0) for a in own)
            # Others within the same subject are the same person, not reach.
            data.reach = len(set().union(*(others.get(a, set()) for a in own)) - own)
    return list(subjects.values())


def prioritise(
    store: Store, *, actor: str, weights: Weights | None = None, workspace: Path | None = None
) -> list[PriorityResult]:
    """Score every subject and store it; an investigator's override survives a recompute.

    One recompute is one act: one audit entry as ``actor``, in the transaction that stores
    the scores (the CLI and the web both come here)."""
    if not actor.strip():
        raise ValueError("actor: computing priorities needs the name of who asks for it")
    weights = weights or default_weights()
    scored = []
    for data in subject_data(store, workspace):
        factors = [f.as_dict() for f in evaluate(data, weights)]
        score = round(sum(f["points"] for f in factors), 2)
        scored.append((data.subject_id, score, weights.tier(score), factors))
    now = datetime.now(UTC)
    results = []
    with store.session() as session:
        existing = {p.subject_id: p for p in session.scalars(select(Priority))}
        for subject_id, score, tier, factors in scored:
            row = existing.get(subject_id)
            if row is None:
                row = Priority(subject_id=subject_id)
                session.add(row)
            row.score, row.tier, row.factors, row.computed_at = score, tier, factors, now
            results.append(_result(row))
        record(
            session,
            actor=actor,
            action="priorities.computed",
            target_type="priorities",
            target_id="all",
            details={
                "subjects": len(results),
                "workspace": str(workspace) if workspace else None,
            },
        )
    return sorted(results, key=lambda r: (-r.score, r.subject_id))


def _result(row: Priority) -> PriorityResult:
    return PriorityResult(
        row.subject_id,
        row.score,
        row.tier,
        list(row.factors or []),
        row.override_tier,
        row.override_reason,
        row.override_by,
    )


def priorities(store: Store, *, tier: str | None = None) -> list[PriorityResult]:
    """Stored priorities, highest score first; ``tier`` filters on the effective tier."""
    wanted = normalise_tier(tier) if tier else None
    with store.session() as session:
        results = [_result(p) for p in session.scalars(select(Priority))]
    results = [r for r in results if wanted is None or r.effective_tier == wanted]
    return sorted(results, key=lambda r: (-r.score, r.subject_id))


def override(
    store: Store,
    subject_id: str,
    tier: str,
    reason: str,
    by: str,
    *,
    decided_by: str | None = None,
) -> PriorityResult:
    """Set a subject's tier by hand; the reason and who decided are kept with it.

    ``by`` is the audit actor (who made the change); ``decided_by`` names someone else whose
    call it was, when the person entering it is not the one deciding."""
    try:
        why = require_reason(reason)
    except ReasonError as exc:
        raise PriorityError(f"an override needs a reason: {exc}") from None
    decider = (decided_by or "").strip() or by
    chosen = normalise_tier(tier)
    with store.session() as session:
        row = session.get(Priority, subject_id)
        if row is None:
            raise PriorityError(
                f"no priority for subject {subject_id!r}; run 'kaitiaki priority compute' first"
            )
        previous = row.override_tier
        row.override_tier, row.override_reason = chosen, why
        row.override_by, row.override_at = decider, datetime.now(UTC)
        record(
            session,
            actor=by,
            action="priority.override",
            target_type="subject",
            target_id=subject_id,
            reason=why,
            details={
                "tier": chosen,
                "computed_tier": row.tier,
                "previous_override": previous,
                "decided_by": decider,
            },
        )
        return _result(row)
