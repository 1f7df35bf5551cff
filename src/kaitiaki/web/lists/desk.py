"""The provider's desk: CyberTipline reports and legal holds, paged by their domain readers
(``cybertip.reports.page_reports``, ``legal.holds.page_holds``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select

from kaitiaki.cybertip import reports
from kaitiaki.legal import holds as legal_holds
from kaitiaki.legal.coverage import TARGET_TYPES
from kaitiaki.store import Store
from kaitiaki.store.models import CyberTipReport, LegalHold
from kaitiaki.web.api import cybertip, holds
from kaitiaki.web.listing import (
    Filter,
    Found,
    ListQuery,
    ListSpec,
    cells,
    contains,
    domain_list,
    equals,
)

REPORTS = ListSpec(
    name="reports",
    sorts={
        "id": CyberTipReport.id,
        "state": CyberTipReport.state,
        "ncmec": CyberTipReport.ncmec_report_id,
        "subject": CyberTipReport.subject_id,
        "files": reports.FILE_COUNT,
        "environment": CyberTipReport.environment,
        "created": CyberTipReport.created_at,
        "by": CyberTipReport.created_by,
    },
    default_sort="id",
    tiebreak=CyberTipReport.id,
    filters={
        "q": Filter(contains(CyberTipReport.subject_id, CyberTipReport.created_by)),
        "state": Filter(equals(CyberTipReport.state), choices=reports.STATES),
        "subject_id": Filter(equals(CyberTipReport.subject_id), max_length=40),
    },
    columns=cells(
        "id",
        "state",
        "ncmec_report_id",
        "subject_id",
        "files",
        "environment",
        "created_at",
        "created_by",
    ),
)


def report_list(store: Store, query: ListQuery) -> Found:
    def read(offset: int, limit: int | None) -> tuple[int, list[cybertip.ReportRow]]:
        total, found = reports.page_reports(store, shape=query.shape, offset=offset, limit=limit)
        return total, [cybertip._row(v) for v in found]

    return domain_list(query, read)


HOLDS = ListSpec(
    name="holds",
    sorts={
        "expires": LegalHold.expires_at,
        "id": LegalHold.id,
        "target": (LegalHold.target_type, LegalHold.target_id),
        "basis": LegalHold.basis,
        "reference": LegalHold.reference,
        "created": LegalHold.created_at,
    },
    # Soonest expiry first; holds without one (a court order until released) last.
    default_sort="expires",
    tiebreak=LegalHold.id,
    filters={
        "q": Filter(contains(LegalHold.target_id, LegalHold.reference, LegalHold.basis_text)),
        "basis": Filter(equals(LegalHold.basis), choices=legal_holds.BASES),
        "target_type": Filter(equals(LegalHold.target_type), choices=tuple(TARGET_TYPES)),
    },
    columns=cells(
        "id",
        "target_type",
        "target_id",
        "basis",
        "basis_text",
        "reference",
        "expires_at",
        "extended_at",
        "extended_by",
        "created_at",
        "created_by",
        "standing",
        "released_at",
        "released_by",
        "release_reason",
    ),
    keep=("all",),
)


def hold_list(store: Store, query: ListQuery, *, show_all: bool) -> Found:
    now = datetime.now(UTC)

    def shape(base: Select[Any]) -> Select[Any]:
        # Standing holds only, unless all are asked for: decided at one instant for every page.
        return query.shape(base if show_all else base.where(legal_holds.standing_clause(now)))

    def read(offset: int, limit: int | None) -> tuple[int, list[holds.HoldOut]]:
        total, found = legal_holds.page_holds(
            store, shape=shape, offset=offset, limit=limit, at=now
        )
        return total, [holds.HoldOut.model_validate(h, from_attributes=True) for h in found]

    return domain_list(query, read)
