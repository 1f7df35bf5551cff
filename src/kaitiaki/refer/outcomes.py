"""Partners' outcome updates from CSV: status changes, arrests, children safeguarded, notes.

Columns: ``referral_id`` (required), ``subject_id``, ``status``, ``date`` (ISO), ``arrested``,
``children_safeguarded`` (whole numbers >= 0), ``note``. A status follows the referral
lifecycle; rows for one referral apply in file order. The import is one transaction: a bad
row rejects the file, naming the row, and nothing already stored changes.

This module reads and checks the file; ``refer.service.import_outcomes`` applies it, audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from kaitiaki.records.partner import PartnerCsvError, read_partner_csv
from kaitiaki.refer.lifecycle import LifecycleError, normalise_status

COLUMNS = (
    "referral_id",
    "subject_id",
    "status",
    "date",
    "arrested",
    "children_safeguarded",
    "note",
)
COUNTS = ("arrested", "children_safeguarded")
MAX_COUNT = 1_000_000


class OutcomesError(ValueError):
    """An outcomes file that cannot be imported; names the file, row and reason."""


@dataclass(frozen=True, slots=True)
class OutcomesResult:
    rows: int
    status_changes: int
    arrested: int
    children_safeguarded: int


def _date(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"date {text!r} is not an ISO date (YYYY-MM-DD)") from None
    if isinstance(parsed, date) and parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _count(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{name} = {text!r} is not a whole number") from None
    if value < 0:
        raise ValueError(f"{name} = {value} is negative")
    if value > MAX_COUNT:
        # Beyond any real operation, and past what the store's integer column holds.
        raise ValueError(f"{name} = {value} is more than {MAX_COUNT:,}")
    return value


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One row, checked on its own; whether its referral exists and is within reach is the
    application layer's question (``refer.service.import_outcomes``)."""

    where: str  # "file: row N (line M)", for messages
    referral_id: str
    subject_id: str | None
    status: str | None  # normalised lifecycle status
    date: datetime | None
    counts: dict[str, int]  # only the non-zero ones
    note: str


def read_outcomes(path: Path) -> list[OutcomeRow]:
    """Every row of a partner's outcomes CSV, or OutcomesError naming the file, row and reason."""
    try:
        rows = read_partner_csv(path, key="referral_id", known=COLUMNS)
    except PartnerCsvError as exc:
        raise OutcomesError(str(exc)) from exc
    parsed = []
    for where, row in rows:
        try:
            referral_id = row["referral_id"]
            if not referral_id:
                raise ValueError("empty referral_id")
            counts = {k: _count(k, row[k]) for k in COUNTS if row.get(k)}
            parsed.append(
                OutcomeRow(
                    where=where,
                    referral_id=referral_id,
                    subject_id=row.get("subject_id") or None,
                    status=normalise_status(row["status"]) if row.get("status") else None,
                    date=_date(row["date"]) if row.get("date") else None,
                    counts={k: v for k, v in counts.items() if v},
                    note=row.get("note", ""),
                )
            )
        except (ValueError, LifecycleError) as exc:
            raise OutcomesError(f"{where}: {exc}") from None
    return parsed
