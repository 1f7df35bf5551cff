"""``cybertip``: send a reviewed CyberTipline report to NCMEC, or retract it (the web's submit
and retract buttons; ``kaitiaki report submit|retract`` does the same in the foreground).

A job because NCMEC is across the internet and a report may carry files of any size. The job is
resumable: each step of the submission is persisted before and after its call
(``kaitiaki.cybertip.submit``), so a job started again after a restart carries on where the
report stopped and never opens or finishes it twice. The actor is always the job's creator:
no name travels in the parameters.
"""

from __future__ import annotations

from typing import Any

from kaitiaki.jobs.context import JobContext
from kaitiaki.jobs.kind import JobKind, Params
from kaitiaki.jobs.params import JobParamsError, only, text
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport

FIELDS = ("report_id", "action")
ACTIONS = ("submit", "retract")


def validate(store: Store, params: Params) -> Params:
    only(params, FIELDS)
    action = text(params, "action")
    if action not in ACTIONS:
        raise JobParamsError("action", f"must be one of {', '.join(ACTIONS)}")
    report_id = params.get("report_id")
    if not isinstance(report_id, int) or isinstance(report_id, bool) or report_id < 1:
        raise JobParamsError("report_id", "must be a report id (a positive whole number)")
    with store.session() as session:
        if session.get(CyberTipReport, report_id) is None:
            raise JobParamsError("report_id", f"no CyberTipline report {report_id}")
    return {"report_id": report_id, "action": action}


def _summary(view: Any) -> Params:
    return {
        "report_id": view.id,
        "state": view.state,
        "ncmec_report_id": view.ncmec_report_id,
        "error_code": view.error_code,
        "error_message": view.error_message,
        "files": len(view.files),
        "note": view.note,
    }


def run(ctx: JobContext, params: Params) -> Params:
    from kaitiaki.cybertip.credentials import load_connection
    from kaitiaki.cybertip.submit import retract_report, submit_report

    report_id = int(params["report_id"])
    client = load_connection(ctx.store).client()
    if params["action"] == "retract":
        ctx.stage(f"retracting CyberTipline report {report_id}", 0, 1)
        view = retract_report(ctx.store, report_id, actor=ctx.created_by, client=client)
    else:
        ctx.stage(f"sending CyberTipline report {report_id} to NCMEC", 0, 1)
        view = submit_report(ctx.store, report_id, actor=ctx.created_by, client=client)
    ctx.progress(1, 1, f"report {report_id}: {view.state}")
    return _summary(view)


KIND = JobKind(
    name="cybertip",
    title="CyberTipline report",
    resumable=True,
    validate=validate,
    run=run,
)
