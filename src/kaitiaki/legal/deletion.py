"""Deleting the store's records of an account, a subject, an evidence item or a report, guarded
by legal holds and audited in the deleting transaction.

Only records in the store go: kaitiaki never modifies evidence, so the files an evidence item
was read from stay on disk untouched (their path is not even looked at here). A subject in a
referral is kept whatever the policy says: the referral, its outcomes and any revision refer
to it, and an agency may still ask. So are the accounts attributed to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import CursorResult, Executable, delete, or_, select, update
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.legal.coverage import HoldError, ensure_deletable, lock_holds
from kaitiaki.legal.holds import HoldNotFoundError
from kaitiaki.store.models import (
    Account,
    AccountLink,
    AcquisitionCheck,
    Classification,
    CyberTipReport,
    CyberTipReportFile,
    Enrichment,
    Evidence,
    File,
    FileGroup,
    FileInstance,
    Match,
    Priority,
    ReferralSubject,
    ReviewDecision,
    Scan,
    SeriesLink,
    Subject,
)

ACTION: Final = "retention.deleted"
# A report mid-submission (submitting ... finishing) belongs to the submitter until it ends.
DELETABLE_REPORT_STATES: Final = ("draft", "finished", "retracted", "failed")
# Files whose SHA-256 is still named by any of these are kept with their File row.
_FILE_REFERENCES: Final = (
    FileInstance.sha256,
    Match.sha256,
    Classification.sha256,
    FileGroup.sha256,
    ReviewDecision.sha256,
    SeriesLink.sha256,
    CyberTipReportFile.sha256,
)
_CHUNK: Final = 500


class ReferredError(HoldError):
    """A subject (or an account of one) that is in a referral: kept, not deleted."""


@dataclass(frozen=True, slots=True)
class Deleted:
    target_type: str
    target_id: str
    counts: dict[str, int]


def _gone(session: Session, statement: Executable) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount or 0)


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def referred_subjects(session: Session, subject_ids: Iterable[str] | None = None) -> set[str]:
    query = select(ReferralSubject.subject_id)
    if subject_ids is not None:
        query = query.where(ReferralSubject.subject_id.in_(sorted(set(subject_ids))))
    return set(session.scalars(query))


def _account(session: Session, account_id: str) -> dict[str, int]:
    subjects = set(
        session.scalars(
            select(Account.subject_id).where(
                Account.account_id == account_id, Account.subject_id.is_not(None)
            )
        )
    )
    if referred := referred_subjects(session, [s for s in subjects if s]):
        raise ReferredError(f"account {account_id} belongs to referred subject {min(referred)}")
    accounts = _gone(session, delete(Account).where(Account.account_id == account_id))
    if not accounts:
        raise HoldNotFoundError(f"no account {account_id!r}")
    touching = or_(AccountLink.account_a == account_id, AccountLink.account_b == account_id)
    return {
        "accounts": accounts,
        "account_links": _gone(session, delete(AccountLink).where(touching)),
    }


def _subject(session: Session, subject_id: str) -> dict[str, int]:
    if referred_subjects(session, [subject_id]):
        raise ReferredError(f"subject {subject_id} is in a referral")
    if session.get(Subject, subject_id) is None:
        raise HoldNotFoundError(f"no subject {subject_id!r}")
    # Accounts still attributed to it stay, unattributed: they have a retention of their own.
    unattributed = _gone(
        session,
        update(Account)
        .where(Account.subject_id == subject_id)
        .values(subject_id=None)
        .execution_options(synchronize_session=False),
    )
    counts = {
        "priorities": _gone(session, delete(Priority).where(Priority.subject_id == subject_id)),
        "enrichments": _gone(
            session, delete(Enrichment).where(Enrichment.subject_id == subject_id)
        ),
        "accounts_unattributed": unattributed,
    }
    counts["subjects"] = _gone(session, delete(Subject).where(Subject.id == subject_id))
    return counts


def _evidence_id(session: Session, target: str) -> int:
    found = session.scalar(select(Evidence.id).where(Evidence.name == target))
    if found is None and target.isdigit() and len(target) < 10:
        found = session.scalar(select(Evidence.id).where(Evidence.id == int(target)))
    if found is None:
        raise HoldNotFoundError(f"no evidence item {target!r}")
    return int(found)


def _evidence(session: Session, evidence_id: int) -> dict[str, int]:
    shas: set[str | None] = set(
        session.scalars(
            select(FileInstance.sha256)
            .where(FileInstance.evidence_id == evidence_id, FileInstance.sha256.is_not(None))
            .distinct()
        )
    )
    instances = select(FileInstance.id).where(FileInstance.evidence_id == evidence_id)
    # The database would set these to NULL itself; said here so it does not depend on it.
    _gone(
        session,
        update(CyberTipReportFile)
        .where(CyberTipReportFile.instance_id.in_(instances))
        .values(instance_id=None)
        .execution_options(synchronize_session=False),
    )
    counts: dict[str, int] = {}
    for name, model in (
        ("classifications", Classification),
        ("file_groups", FileGroup),
        ("review_decisions", ReviewDecision),
        ("acquisition_checks", AcquisitionCheck),
        ("file_instances", FileInstance),
        ("scans", Scan),
    ):
        column = model.__table__.c.evidence_id
        counts[name] = _gone(session, delete(model).where(column == evidence_id))
    named = sorted(s for s in shas if s)
    counts["files"] = sum(_unreferenced_files(session, batch) for batch in _chunks(named))
    counts["evidence"] = _gone(session, delete(Evidence).where(Evidence.id == evidence_id))
    return counts


def _unreferenced_files(session: Session, shas: list[str]) -> int:
    """Delete the File rows among ``shas`` that nothing in the store names any more."""
    still: set[str] = set()
    for column in _FILE_REFERENCES:
        still.update(s for s in session.scalars(select(column).where(column.in_(shas))) if s)
    orphans = sorted(set(shas) - still)
    return _gone(session, delete(File).where(File.sha256.in_(orphans))) if orphans else 0


def _report(session: Session, target: str) -> dict[str, int]:
    report = session.get(CyberTipReport, int(target)) if target.isdigit() else None
    if report is None or len(target) >= 10:
        raise HoldNotFoundError(f"no CyberTipline report {target!r}")
    if report.state not in DELETABLE_REPORT_STATES:
        raise HoldError(f"report {report.id} is {report.state}: wait until its submission ends")
    files = _gone(
        session, delete(CyberTipReportFile).where(CyberTipReportFile.report_id == report.id)
    )
    reports = _gone(session, delete(CyberTipReport).where(CyberTipReport.id == report.id))
    return {"report_files": files, "reports": reports}


def delete_record(
    session: Session,
    target_type: str,
    target_id: str,
    *,
    actor: str,
    reason: str = "",
    at: datetime | None = None,
) -> Deleted:
    """Delete one record and what belongs to it, in ``session``'s transaction, unless a
    standing hold covers it (``HeldError``) or it is referred (``ReferredError``); audited as
    ``retention.deleted`` with the counts of rows removed."""
    if not actor.strip():
        raise HoldError("actor: a deletion needs the name of who (or what) deletes")
    lock_holds(session)
    target = str(target_id).strip()
    ensure_deletable(session, target_type, target, at=at)
    if target_type == "account":
        counts = _account(session, target)
    elif target_type == "subject":
        counts = _subject(session, target)
    elif target_type == "evidence":
        number = target.isdigit() and len(target) < 10
        if not number or session.get(Evidence, int(target)) is None:
            raise HoldNotFoundError(f"no evidence item {target!r} (by number)")
        counts = _evidence(session, int(target))
    elif target_type == "report":
        counts = _report(session, target)
    else:  # ensure_deletable refused unknown types already
        raise HoldError(f"unknown target type {target_type!r}")
    record(
        session,
        actor=actor,
        action=ACTION,
        target_type=target_type,
        target_id=target,
        reason=reason,
        details={"deleted": f"{target_type} {target}", "counts": counts},
    )
    return Deleted(target_type, target, counts)


def delete_account(session: Session, account_id: str, *, actor: str) -> Deleted:
    return delete_record(session, "account", account_id, actor=actor)


def delete_subject(session: Session, subject_id: str, *, actor: str) -> Deleted:
    return delete_record(session, "subject", subject_id, actor=actor)


def delete_evidence(session: Session, evidence: str | int, *, actor: str) -> Deleted:
    """By number (an int) or by name (a name made of digits is a name first)."""
    number = evidence if isinstance(evidence, int) else _evidence_id(session, evidence)
    return delete_record(session, "evidence", str(number), actor=actor)


def delete_report(session: Session, report_id: int | str, *, actor: str) -> Deleted:
    return delete_record(session, "report", str(report_id), actor=actor)
