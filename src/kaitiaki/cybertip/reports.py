"""The read model of CyberTipline reports: one view of a report, whatever reads it (the command
line, the web pages and API, the submission's own answers), so a draft's review fields and a
sent report's state are never two shapes of the same record.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from kaitiaki.cybertip.errors import CyberTipNotFoundError
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, CyberTipReportFile

# The states a person sees, in the order a report moves through them (``failed`` and
# ``retracted`` are ends beside ``finished``).
STATES = (
    "draft",
    "submitting",
    "submitted",
    "files_uploaded",
    "finishing",
    "finished",
    "retracted",
    "failed",
)


@dataclass(frozen=True, slots=True)
class FileView:
    id: int
    object_id: str
    sha256: str | None
    instance_id: int | None  # the evidence instance sent when the provider includes files
    state: str
    ncmec_file_id: str | None
    received_md5: str | None


@dataclass(frozen=True, slots=True)
class ReportView:
    """A report as a person reads it; ``note`` says what the last call did."""

    id: int
    subject_id: str
    profile: str
    state: str
    document_sha256: str
    escalate: str | None
    annotations: tuple[str, ...]
    include_files: bool
    environment: str
    base_url: str | None
    ncmec_report_id: int | None
    error_code: int | None
    error_message: str | None
    abandoned_report_ids: tuple[int, ...]
    created_by: str
    created_at: datetime
    submitted_by: str | None
    submitted_at: datetime | None
    finished_at: datetime | None
    retracted_at: datetime | None
    files: tuple[FileView, ...]
    note: str = ""


def view_of(row: CyberTipReport, files: Sequence[CyberTipReportFile], note: str = "") -> ReportView:
    return ReportView(
        id=row.id,
        subject_id=row.subject_id,
        profile=row.profile,
        state=row.state,
        document_sha256=row.document_sha256,
        escalate=row.escalate,
        annotations=tuple(row.annotations or ()),
        include_files=bool(row.include_files),
        environment=row.environment,
        base_url=row.base_url,
        ncmec_report_id=row.ncmec_report_id,
        error_code=row.error_code,
        error_message=row.error_message,
        abandoned_report_ids=tuple(int(i) for i in row.abandoned_report_ids or ()),
        created_by=row.created_by,
        created_at=row.created_at,
        submitted_by=row.submitted_by,
        submitted_at=row.submitted_at,
        finished_at=row.finished_at,
        retracted_at=row.retracted_at,
        files=tuple(
            FileView(
                f.id,
                f.object_id,
                f.sha256,
                f.instance_id,
                f.state,
                f.ncmec_file_id,
                f.received_md5,
            )
            for f in files
        ),
        note=note,
    )


def files_of(session: Session, report_ids: Sequence[int]) -> dict[int, list[CyberTipReportFile]]:
    found: dict[int, list[CyberTipReportFile]] = {i: [] for i in report_ids}
    for start in range(0, len(report_ids), 500):
        for file in session.scalars(
            select(CyberTipReportFile)
            .where(CyberTipReportFile.report_id.in_(report_ids[start : start + 500]))
            .order_by(CyberTipReportFile.id)
        ):
            found[file.report_id].append(file)
    return found


def get_report(store: Store, report_id: int, note: str = "") -> ReportView:
    with store.session() as session:
        row = session.get(CyberTipReport, report_id)
        if row is None:
            raise CyberTipNotFoundError(f"no CyberTipline report {report_id}")
        return view_of(row, files_of(session, [report_id])[report_id], note)


def list_reports(
    store: Store, *, subject_id: str | None = None, state: str | None = None
) -> list[ReportView]:
    """Reports, oldest first, of one subject and/or in one state."""
    query = select(CyberTipReport).order_by(CyberTipReport.id)
    if subject_id:
        query = query.where(CyberTipReport.subject_id == subject_id)
    if state:
        query = query.where(CyberTipReport.state == state)
    with store.session() as session:
        rows = list(session.scalars(query))
        files = files_of(session, [r.id for r in rows])
        return [view_of(r, files[r.id]) for r in rows]


# A report's file count as a column of its row, so a list can sort and page by it in SQL.
FILE_COUNT = (
    select(func.count())
    .where(CyberTipReportFile.report_id == CyberTipReport.id)
    .correlate(CyberTipReport)
    .scalar_subquery()
)


def page_reports(
    store: Store,
    *,
    shape: Callable[[Select[Any]], Select[Any]],
    offset: int = 0,
    limit: int | None = None,
) -> tuple[int, list[ReportView]]:
    """How many reports ``shape`` (a list's filters and order) keeps, and the ``limit`` of them
    from ``offset`` (all with None)."""
    query = shape(select(CyberTipReport))
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = list(session.scalars(query.offset(offset).limit(limit)))
        files = files_of(session, [r.id for r in rows])
        return total, [view_of(r, files[r.id]) for r in rows]


def report_document(store: Store, report_id: int) -> bytes:
    """The ``<report>`` document as reviewed (and, once sent, as NCMEC received it)."""
    with store.session() as session:
        row = session.get(CyberTipReport, report_id)
        if row is None:
            raise CyberTipNotFoundError(f"no CyberTipline report {report_id}")
        return row.document.encode("utf-8")
