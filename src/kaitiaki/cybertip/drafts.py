"""Drafts of CyberTipline reports: made, reviewed and kept in the store until they are sent.

A draft is a ``CyberTipReport`` row in state ``draft`` holding the ``<report>`` document, and
one ``CyberTipReportFile`` per reported file holding its ``<fileDetails>`` with placeholder ids
(NCMEC assigns both when the report is opened and the file uploaded). Every document is
validated against NCMEC's XSD and rule-checked before it is stored: what is in the store is
what NCMEC would accept.

A report to NCMEC discloses a person's accounts and addresses outside the organisation, so
drafting and revising are audited like changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from sqlalchemy import select

from kaitiaki.audit import record
from kaitiaki.cybertip.document import (
    ReportedFile,
    Reporter,
    Review,
    build_file_details,
    build_report,
    check_annotations,
    hash_list,
    to_bytes,
)
from kaitiaki.cybertip.errors import CyberTipConflictError, CyberTipError, CyberTipNotFoundError
from kaitiaki.cybertip.gather import gather
from kaitiaki.cybertip.profile import check_reporter, get_profile
from kaitiaki.cybertip.reports import ReportView, get_report, list_reports, report_document
from kaitiaki.cybertip.schema import check_rules, validate
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, CyberTipReportFile, FileInstance, utcnow

# The read model lives in ``reports``; named here too, where callers of the drafts look.
__all__ = [
    "ReportView",
    "draft_report",
    "get_report",
    "list_reports",
    "report_document",
    "revise_draft",
]

DRAFT = "draft"
_KEEP = object()  # revise_draft: leave this setting as the draft has it


def checked(document: Any, what: Literal["report", "fileDetails"] = "report") -> bytes:
    """``document`` as bytes, once valid against the XSD and NCMEC's documented rules."""
    data = to_bytes(document)
    validate(data, what=what)
    check_rules(data)
    return data


def _review(escalate: str | None, annotations: Iterable[str]) -> Review:
    if escalate is not None and not escalate.strip():
        raise CyberTipError("an escalation needs its reason (immediate risk to a child, ...)")
    if escalate is not None and len(escalate.strip()) > 3000:
        raise CyberTipError("the escalation reason is longer than NCMEC's 3000 characters")
    return Review(escalate.strip() if escalate else None, check_annotations(annotations))


def _instance(session: Any, sha256: str | None) -> int | None:
    """The evidence copy a file is uploaded from: one the provider said it viewed (or not)
    first, then the lowest id, so the choice is the same each time."""
    if sha256 is None:
        return None
    found = session.scalars(
        select(FileInstance.id)
        .where(FileInstance.sha256 == sha256, FileInstance.error.is_(None))
        .order_by(FileInstance.viewed_by_provider.is_(None), FileInstance.id)
        .limit(1)
    ).first()
    return int(found) if found is not None else None


def _file_annotations(
    files: Sequence[ReportedFile], wanted: Mapping[str, Sequence[str]]
) -> list[ReportedFile]:
    unknown = sorted(set(wanted) - {f.object_id for f in files})
    if unknown:
        raise CyberTipError(f"file annotations for objects not in the report: {', '.join(unknown)}")
    out = []
    for file in files:
        names = check_annotations(wanted.get(file.object_id, ()), "fileAnnotations")
        out.append(replace(file, annotations=names))
    return out


def draft_report(
    store: Store,
    workspace: Path,
    subject_id: str,
    *,
    actor: str,
    profile: str = "default",
    escalate: str | None = None,
    annotations: Sequence[str] = (),
    include_files: bool = False,
    reporter_override: Reporter | None = None,
    file_annotations: Mapping[str, Sequence[str]] | None = None,
) -> int:
    """Draft the CyberTipline report of ``subject_id``; returns the new report's id."""
    if not actor.strip():
        raise CyberTipError("a report needs the name of who drafts it")
    reporter = check_reporter(
        reporter_override
        if reporter_override is not None
        else get_profile(store, profile).reporter()
    )
    review = _review(escalate, annotations)
    content = gather(store, workspace, subject_id)
    files = _file_annotations(content.files, file_annotations or {})
    details = [(f, checked(build_file_details(f), "fileDetails")) for f in files]
    with store.session() as session:
        instances = {
            f.object_id: _instance(session, f.sha256) if include_files else None for f in files
        }
        unsent = [etree.fromstring(d) for f, d in details if instances[f.object_id] is None]
        data = checked(build_report(content, reporter, review, hash_list(unsent)))
        row = CyberTipReport(
            subject_id=subject_id,
            profile=profile,
            state=DRAFT,
            document=data.decode("utf-8"),
            document_sha256=hashlib.sha256(data).hexdigest(),
            escalate=review.escalate,
            annotations=list(review.annotations) or None,
            include_files=include_files,
            environment="test",
            created_by=actor,
            updated_at=utcnow(),
        )
        session.add(row)
        session.flush()
        for file, xml in details:
            session.add(
                CyberTipReportFile(
                    report_id=row.id,
                    object_id=file.object_id,
                    sha256=file.sha256,
                    instance_id=instances[file.object_id],
                    details=xml.decode("utf-8"),
                    state="pending",
                )
            )
        record(
            session,
            actor=actor,
            action="cybertip.drafted",
            target_type="subject",
            target_id=subject_id,
            details={
                "report": row.id,
                "sha256": row.document_sha256,
                "files": len(details),
                "uploads": sum(1 for i in instances.values() if i is not None),
            },
        )
        return int(row.id)


def _set_review(report: Any, review: Review) -> None:
    """Replace escalateToHighPriority and reportAnnotations in place (the XSD's order:
    after platform, before incidentDateTime)."""
    summary = report.find("incidentSummary")
    for tag in ("escalateToHighPriority", "reportAnnotations"):
        for old in summary.findall(tag):
            summary.remove(old)
    at = summary.index(summary.find("incidentDateTime"))
    if review.annotations:
        tags = etree.Element("reportAnnotations")
        for name in review.annotations:
            etree.SubElement(tags, name)
        summary.insert(at, tags)
    if review.escalate is not None:
        escalation = etree.Element("escalateToHighPriority")
        escalation.text = review.escalate
        summary.insert(at, escalation)


def _set_file_list(report: Any, listing: str | None) -> None:
    for old in report.findall("additionalInfo"):
        report.remove(old)
    if listing:
        etree.SubElement(report, "additionalInfo").text = listing


def revise_draft(
    store: Store,
    report_id: int,
    *,
    actor: str,
    escalate: Any = _KEEP,
    annotations: Any = _KEEP,
    include_files: Any = _KEEP,
) -> None:
    """Change what a person sets on review of a draft; anything past draft is a conflict.

    The rest of the document stays as drafted (the workspace it was read from may be gone);
    a draft wanting fresh data is drafted again."""
    with store.session() as session:
        row = session.get(CyberTipReport, report_id)
        if row is None:
            raise CyberTipNotFoundError(f"no CyberTipline report {report_id}")
        if row.state != DRAFT:
            raise CyberTipConflictError(
                f"report {report_id} is {row.state}, not a draft: it can no longer be changed"
            )
        review = _review(
            row.escalate if escalate is _KEEP else escalate,
            (row.annotations or ()) if annotations is _KEEP else annotations,
        )
        include = row.include_files if include_files is _KEEP else bool(include_files)
        files = session.scalars(
            select(CyberTipReportFile)
            .where(CyberTipReportFile.report_id == report_id)
            .order_by(CyberTipReportFile.object_id)
        ).all()
        for file in files:
            file.instance_id = _instance(session, file.sha256) if include else None
        report = etree.fromstring(row.document.encode("utf-8"))
        _set_review(report, review)
        unsent = [
            etree.fromstring(f.details.encode("utf-8")) for f in files if f.instance_id is None
        ]
        _set_file_list(report, hash_list(unsent))
        data = checked(report)
        before = row.document_sha256
        row.document = data.decode("utf-8")
        row.document_sha256 = hashlib.sha256(data).hexdigest()
        row.escalate, row.annotations = review.escalate, list(review.annotations) or None
        row.include_files, row.updated_at = include, utcnow()
        record(
            session,
            actor=actor,
            action="cybertip.revised",
            target_type="subject",
            target_id=row.subject_id,
            details={"report": report_id, "before": before, "sha256": row.document_sha256},
        )
