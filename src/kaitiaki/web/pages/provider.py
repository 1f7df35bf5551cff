"""Pages of the provider's desk: CyberTipline reports (draft, review, submit, follow) and legal
holds. They read through the same functions as ``/api/cybertip`` and ``/api/holds``; their
forms and buttons call that API from ``static/js/app.js``. What they show of a report's files
is records and hashes, never the files themselves."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from kaitiaki.jobs import list_jobs
from kaitiaki.legal.holds import BASES
from kaitiaki.web import listing
from kaitiaki.web.api import cybertip
from kaitiaki.web.api.common import JobOut, PathId, job_out, store_of
from kaitiaki.web.authz import CurrentUser, Needs
from kaitiaki.web.lists import desk
from kaitiaki.web.pages.render import page

router = APIRouter(include_in_schema=False)

# How far back the report page looks for the report's latest submit or retract job: jobs are
# listed newest first, and a report's own job is among the last few the desk queued.
RECENT_JOBS = 200


@router.get("/reports", response_model=None)
def reports_page(request: Request, user: CurrentUser = Needs.VIEW_REPORTS) -> Response:
    query = listing.parse(request, desk.REPORTS)
    return listing.listed(
        request,
        user,
        desk.report_list(store_of(request), query),
        lambda found: page(
            request,
            "reports.html",
            user,
            listing=found,
            q=found.query,
            annotations=cybertip.annotation_choices(),
        ),
    )


def _latest_job(request: Request, report_id: int) -> JobOut | None:
    """The newest ``cybertip`` job of this report, so the page shows its progress."""
    for job in list_jobs(store_of(request), limit=RECENT_JOBS):
        if job.kind == "cybertip" and job.params.get("report_id") == report_id:
            return job_out(job)
    return None


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    report_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_REPORTS
) -> HTMLResponse:
    store = store_of(request)
    report = cybertip.viewed_report(store, user, report_id)
    return page(
        request,
        "report_detail.html",
        user,
        report=report,
        # Autoescaped in the template's <pre>: the XML is read, never interpreted.
        document=cybertip.document_text(store, report_id),
        annotations=cybertip.annotation_choices(),
        opened=report.state in cybertip.OPENED,
        job=_latest_job(request, report_id),
    )


@router.get("/holds", response_model=None)
def holds_page(
    request: Request,
    show_all: bool = Query(False, alias="all"),
    user: CurrentUser = Needs.VIEW_REPORTS,
) -> Response:
    query = listing.parse(request, desk.HOLDS)
    return listing.listed(
        request,
        user,
        desk.hold_list(store_of(request), query, show_all=show_all),
        lambda found: page(
            request,
            "holds.html",
            user,
            listing=found,
            q=found.query,
            show_all=show_all,
            bases=BASES,
        ),
    )
