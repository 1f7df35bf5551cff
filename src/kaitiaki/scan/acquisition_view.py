"""An evidence item's acquisition checks as the summary, the web API and the triage report's
chain of custody show them: one line per check, the mismatches impossible to miss."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.store.models import AcquisitionCheck


@dataclass(frozen=True, slots=True)
class CheckView:
    source: str
    method: str
    status: str
    expected: dict[str, str]
    computed: dict[str, str]
    media_size: int | None
    detail: str
    checked_by: str
    checked_at: datetime

    @property
    def mismatch(self) -> bool:
        return self.status == "mismatch"

    def digests(self) -> str:
        """``md5 expected X, read Y; ...``: both sides of each algorithm."""
        parts = []
        for algo in sorted({*self.expected, *self.computed}):
            given = self.expected.get(algo, "none stored")
            read = self.computed.get(algo, "not computed")
            parts.append(f"{algo} expected {given}, read {read}")
        return "; ".join(parts)

    def line(self) -> str:
        """One line: status, source, method, digests, media size, detail."""
        size = f"; media {self.media_size:,} bytes" if self.media_size is not None else ""
        detail = f"; {self.detail}" if self.detail else ""
        flag = "MISMATCH" if self.mismatch else self.status
        return f"{flag}: {self.source} ({self.method}): {self.digests()}{size}{detail}"


def acquisition_checks(session: Session, evidence_id: int) -> list[CheckView]:
    """Every check recorded for the item, oldest first."""
    rows = session.scalars(
        select(AcquisitionCheck)
        .where(AcquisitionCheck.evidence_id == evidence_id)
        .order_by(AcquisitionCheck.id)
    )
    return [
        CheckView(
            source=row.source,
            method=row.method,
            status=row.status,
            expected={str(k): str(v) for k, v in (row.expected or {}).items()},
            computed={str(k): str(v) for k, v in (row.computed or {}).items()},
            media_size=row.media_size,
            detail=row.detail,
            checked_by=row.checked_by,
            checked_at=_utc(row.checked_at),
        )
        for row in rows
    ]


def _utc(at: datetime) -> datetime:
    # SQLite hands back naive datetimes; the store writes UTC.
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
