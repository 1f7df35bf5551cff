"""Reporting back: the signed outcome file of a received case, for the agency that sent it.

The file carries the steps and counts of our investigation, never personal data beyond the
referral's own subject ids: a step's ``detail`` (ISP, subscriber, warrant number) and notes stay
here. It is cumulative (every step so far, each with its id), so the sender can import each
file in any order and adds every step once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kaitiaki.audit import record
from kaitiaki.receive.cases import CaseForbiddenError, reachable
from kaitiaki.refer.outcome_file import SCHEMA_ID, SCHEMA_VERSION, write_outcome_file
from kaitiaki.refer.signing import load_private
from kaitiaki.store import Store
from kaitiaki.store.models import CaseStep, ReceivedSubject
from kaitiaki.users.roles import Permission
from kaitiaki.users.scope import Scope


@dataclass(frozen=True, slots=True)
class OutcomeExport:
    case_id: int
    referral_id: str
    path: Path
    sha256: str
    steps: int
    totals: dict[str, int]


def _iso(value: datetime) -> str:
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def outcome_document(
    store: Store, case_ref: str | int, *, actor: str, scope: Scope
) -> dict[str, Any]:
    """The outcome file's document for a case (what ``export_outcomes`` signs)."""
    if not scope.can(Permission.RECORD_OUTCOMES):
        raise CaseForbiddenError("your role may not report outcomes")
    with store.session() as session:
        case = reachable(session, case_ref, scope)
        subjects = sorted(
            session.scalars(
                select(ReceivedSubject.subject_id).where(ReceivedSubject.case_id == case.id)
            )
        )
        steps = [
            s
            for s in session.scalars(
                select(CaseStep)
                .where(CaseStep.case_id == case.id)
                .order_by(CaseStep.on, CaseStep.id)
            )
            if s.kind != "note"
        ]
        totals = {
            "arrested": 0,
            "children_safeguarded": 0,
            "devices_seized": 0,
            "no_further_action": 0,
        }
        for s in steps:
            if s.kind == "arrest":
                totals["arrested"] += s.count or 0
            elif s.kind in ("children_safeguarded", "devices_seized"):
                totals[s.kind] += s.count or 0
            elif s.kind == "no_further_action":
                totals["no_further_action"] += 1
        return {
            "$schema": SCHEMA_ID,
            "schema_version": SCHEMA_VERSION,
            "referral_id": case.reference,
            "package_manifest_sha256": case.manifest_sha256,
            "package_version": case.package_version,
            "agency": {"country": case.country, "name": case.agency},
            "issued_at": _iso(datetime.now(UTC)),
            "issued_by": actor,
            "subjects": subjects,
            "steps": [
                {
                    "id": s.uid,
                    "kind": s.kind,
                    "date": (s.on if s.on.tzinfo else s.on.replace(tzinfo=UTC)).date().isoformat(),
                    "subject_id": s.subject_id,
                    "count": s.count,
                    "reason": s.reason,
                }
                for s in steps
            ],
            "totals": totals,
        }


def export_outcomes(
    store: Store, case_ref: str | int, out: Path, *, key_path: Path, actor: str, scope: Scope
) -> OutcomeExport:
    """Write the case's signed outcome file to ``out``; audited as ``actor``."""
    key = load_private(key_path)
    doc = outcome_document(store, case_ref, actor=actor, scope=scope)
    # Checked as the sender's reader checks it before anything is signed or written: we never
    # send what the other side would refuse.
    digest = write_outcome_file(out, doc, key)
    with store.session() as session:
        case = reachable(session, case_ref, scope)
        record(
            session,
            actor=actor,
            action="received.outcomes_exported",
            target_type="received_case",
            target_id=str(case.id),
            details={
                "referral_id": case.reference,
                "file_sha256": digest,
                "steps": len(doc["steps"]),
                "totals": doc["totals"],
            },
        )
        return OutcomeExport(case.id, case.reference, out, digest, len(doc["steps"]), doc["totals"])
