"""``/api/cybertip``: draft, review, submit and retract CyberTipline reports to NCMEC.

A thin adapter over ``kaitiaki.cybertip``, which validates every document against NCMEC's XSD
and audits every change. Reading reports is ``view_reports`` (the auditor's too: a report is
part of the record, and reading one is audited as a view, since it names a person's accounts
and addresses); drafting, revising, submitting and retracting are ``file_reports``.

Submitting and retracting talk to NCMEC across the internet, so they are jobs (``cybertip``):
the request queues one and answers 202; the job resumes where a report stopped, so a retried
job never sends a report twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from kaitiaki.cybertip import reports
from kaitiaki.cybertip.errors import (
    CyberTipConflictError,
    CyberTipError,
    CyberTipNotFoundError,
)
from kaitiaki.cybertip.schema import annotation_names
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport
from kaitiaki.web.api.common import (
    JobOut,
    PathId,
    Timestamp,
    audit_view,
    errors,
    store_of,
    submit_job,
)
from kaitiaki.web.authz import CurrentUser, Needs

router = APIRouter(prefix="/api/cybertip", tags=["cybertip"])

# States after which a report is not sent again: a new draft reports again.
ENDED = ("finished", "retracted", "failed")
# States a report cannot be retracted from (NCMEC refuses to retract a finished report).
UNRETRACTABLE = ("finished", "retracted")
# States in which NCMEC holds an open report: the page offers Retract only then.
OPENED = ("submitting", "submitted", "files_uploaded", "finishing")


class FileOut(BaseModel):
    id: int
    object_id: str
    sha256: str | None
    instance_id: int | None
    state: str
    ncmec_file_id: str | None
    received_md5: str | None


class ReportRow(BaseModel):
    id: int
    subject_id: str
    state: str
    environment: str
    ncmec_report_id: int | None
    files: int
    created_by: str
    created_at: Timestamp


class ReportOut(BaseModel):
    id: int
    subject_id: str
    profile: str
    state: str
    document_sha256: str
    escalate: str | None
    annotations: list[str]
    include_files: bool
    environment: str
    base_url: str | None
    ncmec_report_id: int | None
    error_code: int | None
    error_message: str | None
    abandoned_report_ids: list[int]
    created_by: str
    created_at: Timestamp
    submitted_by: str | None
    submitted_at: Timestamp | None
    finished_at: Timestamp | None
    retracted_at: Timestamp | None
    files: list[FileOut]


class AnnotationsOut(BaseModel):
    report: list[str]
    file: list[str]


class DraftIn(BaseModel):
    subject_id: str = Field(min_length=1, max_length=40)
    analysis: str = Field(min_length=1, max_length=1000)
    profile: str = Field(default="default", min_length=1, max_length=60)
    # NCMEC's limit on escalateToHighPriority; the domain says so in words if it is blank.
    escalate: str | None = Field(default=None, max_length=3000)
    annotations: list[str] = Field(default_factory=list, max_length=50)
    include_files: bool = False


class ReviseIn(BaseModel):
    """What a reviewer changes on a draft. A field left out keeps the draft's value; an
    empty ``escalate`` or ``remove_escalation`` takes the escalation away (a page form leaves
    an emptied field out, so it needs the box to say so)."""

    escalate: str | None = Field(default=None, max_length=3000)
    remove_escalation: bool = False
    annotations: list[str] | None = Field(default=None, max_length=50)
    include_files: bool | None = None


@contextmanager
def answered() -> Iterator[None]:
    """The provider's desk's domain errors as HTTP answers; ``ProfileMissingError`` and a
    document NCMEC would refuse are 422, with words naming the command or field to fix."""
    try:
        yield
    except CyberTipNotFoundError as exc:
        raise HTTPException(404, str(exc)) from None
    except CyberTipConflictError as exc:
        raise HTTPException(409, str(exc)) from None
    except CyberTipError as exc:
        raise HTTPException(422, str(exc)) from None


def _row(view: reports.ReportView) -> ReportRow:
    return ReportRow(
        id=view.id,
        subject_id=view.subject_id,
        state=view.state,
        environment=view.environment,
        ncmec_report_id=view.ncmec_report_id,
        files=len(view.files),
        created_by=view.created_by,
        created_at=view.created_at,
    )


def report_out(view: reports.ReportView) -> ReportOut:
    return ReportOut.model_validate(view, from_attributes=True)


def list_reports(store: Store, *, state: str | None, subject_id: str | None) -> list[ReportRow]:
    found = reports.list_reports(store, state=state or None, subject_id=subject_id or None)
    return [_row(v) for v in found]


def get_report(store: Store, report_id: int) -> ReportOut:
    with answered():
        return report_out(reports.get_report(store, report_id))


def viewed_report(store: Store, user: CurrentUser, report_id: int) -> ReportOut:
    """The report, its look written to the audit log (after it is found: no entry for a
    report that does not exist)."""
    out = get_report(store, report_id)
    audit_view(store, user, "cybertip_report", str(report_id), {"sha256": out.document_sha256})
    return out


def document_text(store: Store, report_id: int) -> str:
    with answered():
        return reports.report_document(store, report_id).decode("utf-8")


def annotation_choices() -> AnnotationsOut:
    return AnnotationsOut(
        report=list(annotation_names("reportAnnotations")),
        file=list(annotation_names("fileAnnotations")),
    )


def counts_by_state(store: Store) -> dict[str, int]:
    """Reports by state, in the order a report moves through them (for the dashboard)."""
    with store.session() as session:
        found = dict(
            session.execute(
                select(CyberTipReport.state, func.count()).group_by(CyberTipReport.state)
            ).all()
        )
    return {s: int(found[s]) for s in (*reports.STATES, *sorted(found)) if s in found}


def _workspace(request: Request, analysis: str) -> Path:
    """The analysis folder's ``workspace/``, held to the server's work and evidence roots as a
    job's path is (a person must not make the server read an arbitrary folder)."""
    from kaitiaki.jobs.paths import Area, checked_path

    settings = request.app.state.settings
    try:
        folder = checked_path(
            analysis, "analysis", settings.confinement(), area=Area.RESULTS, kind="dir"
        )
    except (ValueError, OSError) as exc:  # JobParamsError names the field
        raise HTTPException(422, str(exc)) from None
    workspace = Path(folder) / "workspace"
    if not workspace.is_dir():
        raise HTTPException(422, "analysis: no workspace/ in it: run the operation analysis first")
    return workspace


@router.get("/annotations", response_model=AnnotationsOut, responses=errors())
def annotations_get(user: CurrentUser = Needs.VIEW_REPORTS) -> AnnotationsOut:
    """The annotation names NCMEC's schema takes, for a report and for a file."""
    return annotation_choices()


@router.get("/reports", response_model=list[ReportRow], responses=errors())
def reports_list(
    request: Request,
    response: Response,
    state: str | None = Query(None, max_length=20),
    subject_id: str | None = Query(None, max_length=40),
    user: CurrentUser = Needs.VIEW_REPORTS,
) -> Any:
    """Reports, oldest first, optionally of one state and/or one subject. Paged, sorted and
    filtered as ``/reports`` is (``page``, ``per_page``, ``sort``, ``q``); the total in
    ``X-Total-Count``."""
    from kaitiaki.web import listing
    from kaitiaki.web.lists import desk

    query = listing.parse(request, desk.REPORTS)
    found = desk.report_list(store_of(request), query)
    return listing.api_listed(request, user, response, found)


@router.post("/reports", response_model=ReportOut, status_code=201, responses=errors(404, 409))
def report_draft(
    body: DraftIn, request: Request, user: CurrentUser = Needs.FILE_REPORTS
) -> ReportOut:
    """Draft a subject's report from an analysis (valid against NCMEC's XSD; audited). With
    no provider profile set, 422 names the command that sets one."""
    from kaitiaki.cybertip.drafts import draft_report

    store = store_of(request)
    workspace = _workspace(request, body.analysis)
    with answered():
        report_id = draft_report(
            store,
            workspace,
            body.subject_id,
            actor=user.actor,
            profile=body.profile,
            escalate=body.escalate,
            annotations=body.annotations,
            include_files=body.include_files,
        )
    return get_report(store, report_id)


@router.get("/reports/{report_id}", response_model=ReportOut, responses=errors(404))
def report_get(
    report_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_REPORTS
) -> ReportOut:
    """A report, its state at NCMEC and its files (audited)."""
    return viewed_report(store_of(request), user, report_id)


@router.get(
    "/reports/{report_id}/document",
    response_class=Response,
    responses={**errors(404), 200: {"content": {"application/xml": {}}}},
)
def report_document(
    report_id: PathId, request: Request, user: CurrentUser = Needs.VIEW_REPORTS
) -> Response:
    """The ``<report>`` document as reviewed and as NCMEC receives it (audited)."""
    store = store_of(request)
    text = document_text(store, report_id)
    audit_view(store, user, "cybertip_report", str(report_id), {"document": True})
    headers = {"Content-Disposition": f'attachment; filename="cybertip-report-{report_id}.xml"'}
    return Response(text, media_type="application/xml", headers=headers)


@router.post("/reports/{report_id}/revise", response_model=ReportOut, responses=errors(404, 409))
def report_revise(
    report_id: PathId, body: ReviseIn, request: Request, user: CurrentUser = Needs.FILE_REPORTS
) -> ReportOut:
    """Change a draft's escalation, annotations or file upload; past draft it is 409."""
    from kaitiaki.cybertip.drafts import revise_draft

    changes: dict[str, Any] = {}
    if body.remove_escalation or ("escalate" in body.model_fields_set and not body.escalate):
        changes["escalate"] = None
    elif body.escalate is not None:
        changes["escalate"] = body.escalate
    if body.annotations is not None:
        changes["annotations"] = body.annotations
    if body.include_files is not None:
        changes["include_files"] = body.include_files
    store = store_of(request)
    with answered():
        revise_draft(store, report_id, actor=user.actor, **changes)
    return get_report(store, report_id)


def _queue(
    request: Request, user: CurrentUser, report_id: int, action: str, refused: tuple[str, ...]
) -> JobOut:
    """Queue the ``cybertip`` job after the checks a person can act on now: the report exists,
    its state allows the action, and credentials are set (else the job would only fail)."""
    from kaitiaki.cybertip.credentials import load_connection

    store = store_of(request)
    report = get_report(store, report_id)
    if report.state in refused:
        done = "submitted" if action == "submit" else "retracted"
        raise HTTPException(409, f"report {report_id} is {report.state}: it cannot be {done} now")
    with answered():
        load_connection(store)
    return submit_job(request, "cybertip", {"report_id": report_id, "action": action}, user)


@router.post(
    "/reports/{report_id}/submit",
    response_model=JobOut,
    status_code=202,
    responses=errors(404, 409),
)
def report_submit(
    report_id: PathId, request: Request, user: CurrentUser = Needs.FILE_REPORTS
) -> JobOut:
    """Send the reviewed report to NCMEC (a job), or resume sending it; a report finished,
    retracted or failed is 409 (draft a new one to report again)."""
    return _queue(request, user, report_id, "submit", ENDED)


@router.post(
    "/reports/{report_id}/retract",
    response_model=JobOut,
    status_code=202,
    responses=errors(404, 409),
)
def report_retract(
    report_id: PathId, request: Request, user: CurrentUser = Needs.FILE_REPORTS
) -> JobOut:
    """Retract the report at NCMEC (a job) and here; a finished or retracted report is 409."""
    return _queue(request, user, report_id, "retract", UNRETRACTABLE)
