"""Partners' outcome updates from CSV: status changes, arrests, children safeguarded, notes.

Columns: ``referral_id`` (required), ``subject_id``, ``status``, ``date`` (ISO), ``arrested``,
``children_safeguarded`` (whole numbers >= 0), ``note``. A status follows the referral
lifecycle; rows for one referral apply in file order. The import is one transaction: a bad
row rejects the file, naming the row, and nothing already stored changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from kaitiaki.records.partner import PartnerCsvError, read_partner_csv
from kaitiaki.refer.lifecycle import LifecycleError, apply_status, normalise_status
from kaitiaki.store import Store
from kaitiaki.store.models import Outcome, Referral, ReferralSubject

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
    return value


def _rows(path: Path) -> list[tuple[str, dict[str, str]]]:
    try:
        return read_partner_csv(path, key="referral_id", known=COLUMNS)
    except PartnerCsvError as exc:
        raise OutcomesError(str(exc)) from exc


def import_outcomes(store: Store, path: Path, *, by: str = "partner") -> OutcomesResult:
    """Import a partner's updates all-or-nothing; returns what was recorded."""
    rows = _rows(path)
    changes = arrested = safeguarded = 0
    with store.session() as session:
        members: dict[str, set[str]] = {}
        for link in session.scalars(select(ReferralSubject)):
            members.setdefault(link.referral_id, set()).add(link.subject_id)
        # Any error below raises out of the session, which rolls the whole file back.
        for where, row in rows:
            referral_id = row["referral_id"]
            try:
                if not referral_id:
                    raise ValueError("empty referral_id")
                if session.get(Referral, referral_id) is None:
                    raise ValueError(f"unknown referral {referral_id!r}")
                subject = row.get("subject_id") or None
                if subject and subject not in members.get(referral_id, set()):
                    raise ValueError(f"subject {subject!r} is not in referral {referral_id!r}")
                when = _date(row["date"]) if row.get("date") else None
                counts = {k: _count(k, row[k]) for k in COUNTS if row.get(k)}
                note = row.get("note", "")
                if row.get("status"):
                    apply_status(
                        session,
                        referral_id,
                        normalise_status(row["status"]),
                        by=by,
                        note=note,
                        at=when,
                    )
                    changes += 1
            except (ValueError, LifecycleError) as exc:
                raise OutcomesError(f"{where}: {exc}") from None
            for kind, count in counts.items():
                if count:
                    session.add(
                        Outcome(
                            referral_id=referral_id,
                            subject_id=subject,
                            kind=kind,
                            count=count,
                            date=when,
                            note=note,
                            source=path.name,
                        )
                    )
            if note and not any(counts.values()) and not row.get("status"):
                session.add(
                    Outcome(
                        referral_id=referral_id,
                        subject_id=subject,
                        kind="note",
                        count=0,
                        date=when,
                        note=note,
                        source=path.name,
                    )
                )
            arrested += counts.get("arrested", 0)
            safeguarded += counts.get("children_safeguarded", 0)
    return OutcomesResult(len(rows), changes, arrested, safeguarded)
