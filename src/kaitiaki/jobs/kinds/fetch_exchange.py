"""``fetch_exchange``: fetch a hash exchange into its hash set (``exchange fetch``)."""

from __future__ import annotations

from sqlalchemy import select

from kaitiaki.exchanges import ExchangeMissingError, FetchReport, fetch
from kaitiaki.exchanges.feedback import send_pending
from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, only, text
from kaitiaki.store import Store
from kaitiaki.store.models import Exchange


def validate(store: Store, params: Params) -> Params:
    only(params, ("exchange",))
    name = text(params, "exchange")
    assert name is not None
    with store.session() as session:
        if session.scalar(select(Exchange.id).where(Exchange.name == name)) is None:
            raise JobParamsError("exchange", str(ExchangeMissingError(name)))
    return {"exchange": name}


def run(ctx: JobContext, params: Params) -> Params:
    ctx.stage(f"fetching {params['exchange']}", 0)

    def on_progress(report: FetchReport) -> None:
        # Raises when the job is cancelled: the fetch stops after a committed batch.
        ctx.progress(
            report.updates, None, f"{report.updates:,} updates in {report.batches} batches"
        )

    report = fetch(ctx.store, params["exchange"], actor=ctx.created_by, on_progress=on_progress)
    # Feedback an earlier send left pending (its process died) goes with the next fetch.
    sent = send_pending(ctx.store, params["exchange"])
    return {**report.as_json(), "feedback_attempted": sent}


# Resumable: every batch commits with its checkpoint, so a fetch started again carries on from
# the last one, duplicating nothing.
KIND = JobKind(
    name="fetch_exchange",
    title="Fetch a hash exchange into its hash set",
    resumable=True,
    validate=validate,
    run=run,
)
