"""``retention``: apply a retention policy (``retention apply``; the server's daily run)."""

from __future__ import annotations

from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, flag, integer, only
from kaitiaki.legal.retention import MAX_DAYS, RetentionPolicy
from kaitiaki.store import Store

PERIODS = ("accounts_days", "subjects_days", "evidence_days", "reports_days", "drafts_days")


def validate(store: Store, params: Params) -> Params:
    only(params, (*PERIODS, "dry_run"))
    checked: Params = {p: integer(params, p, low=1, high=MAX_DAYS) for p in PERIODS}
    if RetentionPolicy(**checked).keeps_everything:
        raise JobParamsError("accounts_days", "the policy keeps everything: nothing to apply")
    checked["dry_run"] = flag(params, "dry_run")
    return checked


def run(ctx: JobContext, params: Params) -> Params:
    from kaitiaki.legal.retention import apply_retention

    policy = RetentionPolicy(**{p: params.get(p) for p in PERIODS})
    ctx.stage("planning", 0)
    result = apply_retention(
        ctx.store,
        policy,
        actor=ctx.created_by,
        dry_run=bool(params.get("dry_run")),
        progress=lambda done, total, message: ctx.progress(done, total, f"deleted {message}"),
    )
    return {"dry_run": result.dry_run, "counts": result.counts()}


# Resumable: each record is deleted in a transaction of its own, and a run started again plans
# afresh from what is left, so nothing is deleted twice and nothing half-deleted is left.
KIND = JobKind(
    name="retention",
    title="Apply the retention policy: delete what no legal hold covers once its time is up",
    resumable=True,
    validate=validate,
    run=run,
)
