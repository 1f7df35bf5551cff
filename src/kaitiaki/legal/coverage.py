"""What a legal hold covers, and the guard every deletion passes: ``ensure_deletable``.

A hold names one record, but preserving that record alone would not preserve the case:

* a subject hold covers the subject and every account attributed to it;
* an account hold covers the account and its subject (the attribution is part of the account's
  story), not the subject's other accounts;
* a CyberTipline report hold covers the report, its subject, that subject's accounts, and the
  evidence items holding the report's files (by the file's instance, or by its SHA-256 found
  in an item), since the files' provenance is what NCMEC may later ask for;
* an evidence hold covers the evidence item.

Only standing holds count: not released, and with no expiry or one still in the future. The
whole set of covered records is computed from the standing holds at once (``protected``), so a
retention run asks once rather than once per record; holds are few, covered records fewer.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit.log import _lock_log, utc
from kaitiaki.store.models import (
    Account,
    CyberTipReport,
    CyberTipReportFile,
    FileInstance,
    LegalHold,
)

TARGET_TYPES: Final = ("account", "subject", "evidence", "report")


class HoldError(ValueError):
    """A hold request that cannot be done (the CLI prints it; the web answers 4xx)."""


class HeldError(HoldError):
    """A deletion refused because standing legal holds cover the record; names them."""

    def __init__(self, target_type: str, target_id: str, holds: list[LegalHold]) -> None:
        named = ", ".join(
            f"hold {h.id} ({h.basis}{f' {h.reference}' if h.reference else ''}"
            f" on {h.target_type} {h.target_id})"
            for h in holds
        )
        super().__init__(f"{target_type} {target_id} is under legal hold: {named}")
        self.target_type = target_type
        self.target_id = target_id
        self.hold_ids = [h.id for h in holds]


def standing(hold: LegalHold, at: datetime) -> bool:
    """Whether ``hold`` stands at ``at``: not released and not past its expiry."""
    if hold.released_at is not None:
        return False
    return hold.expires_at is None or utc(hold.expires_at) > utc(at)


def lock_holds(session: Session) -> None:
    """Serialise hold changes and guarded deletions until this transaction ends.

    Without it, on PostgreSQL a deletion could check the holds just before a concurrent
    transaction commits a new hold on the same record, and delete it anyway. Every writer of a
    hold and every guarded deletion calls this first, so one waits for the other and the check
    that follows sees every hold committed before it. It is the audit log's own lock, which all
    of these take anyway to write their entry: one lock, so no two transactions can take two
    locks in opposite orders and deadlock (``place_report_hold`` runs inside a transaction that
    may have written audit entries already). Taking it again in one transaction is harmless."""
    _lock_log(session)


@dataclass
class Protected:
    """Every record covered by a standing hold: (target type, id) -> the covering holds' ids."""

    holds: dict[int, LegalHold] = field(default_factory=dict)
    covered: dict[tuple[str, str], set[int]] = field(default_factory=lambda: defaultdict(set))

    def add(self, target_type: str, target_ids: Iterable[object], hold: LegalHold) -> None:
        for target_id in target_ids:
            self.covered[(target_type, str(target_id))].add(hold.id)

    def hold_ids(self, target_type: str, target_id: object) -> list[int]:
        return sorted(self.covered.get((target_type, str(target_id)), ()))

    def ids(self, target_type: str) -> set[str]:
        return {i for t, i in self.covered if t == target_type}


def _subjects_of_accounts(session: Session, account_ids: list[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    if account_ids:
        query = select(Account.account_id, Account.subject_id).where(
            Account.account_id.in_(account_ids), Account.subject_id.is_not(None)
        )
        for account_id, subject_id in session.execute(query):
            found[account_id].add(str(subject_id))
    return found


def _accounts_of_subjects(session: Session, subject_ids: set[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    if subject_ids:
        query = select(Account.subject_id, Account.account_id).where(
            Account.subject_id.in_(sorted(subject_ids))
        )
        for subject_id, account_id in session.execute(query):
            found[str(subject_id)].add(account_id)
    return found


def _report_evidence(session: Session, report_ids: list[int]) -> dict[int, set[int]]:
    """Report id -> the evidence items holding its files (by instance, or by SHA-256)."""
    found: dict[int, set[int]] = defaultdict(set)
    if not report_ids:
        return found
    by_instance = (
        select(CyberTipReportFile.report_id, FileInstance.evidence_id)
        .join(FileInstance, FileInstance.id == CyberTipReportFile.instance_id)
        .where(CyberTipReportFile.report_id.in_(report_ids))
    )
    by_sha = (
        select(CyberTipReportFile.report_id, FileInstance.evidence_id)
        .join(FileInstance, FileInstance.sha256 == CyberTipReportFile.sha256)
        .where(CyberTipReportFile.report_id.in_(report_ids))
    )
    for query in (by_instance, by_sha):
        for report_id, evidence_id in session.execute(query):
            found[report_id].add(evidence_id)
    return found


def _numeric(values: Iterable[str]) -> list[int]:
    # A hold's target id is text; evidence and reports are numbered. A non-number names nothing.
    return [int(v) for v in values if v.isdigit() and len(v) < 19]


def protected(session: Session, *, at: datetime | None = None) -> Protected:
    """Every record the standing holds cover at ``at`` (now by default)."""
    when = at or datetime.now(UTC)
    rows = session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None))).all()
    holds = [h for h in rows if standing(h, when)]
    result = Protected(holds={h.id: h for h in holds})
    by_type: dict[str, list[LegalHold]] = defaultdict(list)
    for hold in holds:
        by_type[hold.target_type].append(hold)

    subjects_of = _subjects_of_accounts(session, [h.target_id for h in by_type["account"]])
    reports = {
        r.id: r
        for r in session.scalars(
            select(CyberTipReport).where(
                CyberTipReport.id.in_(_numeric(h.target_id for h in by_type["report"]))
            )
        )
    }
    report_subject = {
        str(h.id): reports[int(h.target_id)].subject_id
        for h in by_type["report"]
        if h.target_id.isdigit() and int(h.target_id) in reports
    }
    wanted = {h.target_id for h in by_type["subject"]} | set(report_subject.values())
    accounts_of = _accounts_of_subjects(session, wanted)
    evidence_of = _report_evidence(session, list(reports))

    for hold in holds:
        target = hold.target_id
        if hold.target_type == "account":
            result.add("account", [target], hold)
            result.add("subject", subjects_of.get(target, ()), hold)
        elif hold.target_type == "subject":
            result.add("subject", [target], hold)
            result.add("account", accounts_of.get(target, ()), hold)
        elif hold.target_type == "evidence":
            result.add("evidence", [target], hold)
        elif hold.target_type == "report":
            result.add("report", [target], hold)
            subject = report_subject.get(str(hold.id))
            if subject is not None:
                result.add("subject", [subject], hold)
                result.add("account", accounts_of.get(subject, ()), hold)
            if target.isdigit():
                result.add("evidence", evidence_of.get(int(target), ()), hold)
    return result


def covering_holds(
    session: Session, target_type: str, target_id: object, *, at: datetime | None = None
) -> list[LegalHold]:
    """The standing holds covering one record, oldest first."""
    if target_type not in TARGET_TYPES:
        raise HoldError(f"unknown target type {target_type!r}; expected one of {TARGET_TYPES}")
    found = protected(session, at=at)
    return [found.holds[i] for i in found.hold_ids(target_type, target_id)]


def ensure_deletable(
    session: Session, target_type: str, target_id: object, *, at: datetime | None = None
) -> None:
    """Raise ``HeldError`` naming the standing holds that cover the record, if any.

    Call it inside the deleting transaction, after ``lock_holds``."""
    holds = covering_holds(session, target_type, target_id, at=at)
    if holds:
        raise HeldError(target_type, str(target_id), holds)
