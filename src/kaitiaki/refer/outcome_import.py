"""Applying a partner's signed outcome file to the referral it reports on (the lead unit's side).

What the file says counts only if the partner may say it: the signer is a trusted key bound to
the referral's (country, agency) (``kaitiaki keys trust add ... --jurisdiction``), so one
partner can never report on a referral sent to another; the referral is within the caller's
reach, was sent, and the file's agency, package version and subjects are the referral's own.

Each step is applied once, whatever file carries it (files are cumulative: each repeats the
earlier steps): a step becomes an ``Outcome`` whose ``external_id`` is the step's id, counted
steps with their counts (arrested, children safeguarded, devices seized), "no further action"
with its reason, the other steps with count 0, so the referral shows the partner's whole
history. The referral moves forward to the furthest status the steps imply, one history row per
status reached, skipping those no step reports (the lifecycle's ``allow_skip``), never back.
One transaction: a refused file leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Final

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.refer.lifecycle import NEXT, NO_FURTHER_ACTION, PATH, apply_status
from kaitiaki.refer.outcome_file import (
    TOTALS,
    OutcomeDocument,
    OutcomeFileError,
    OutcomeStep,
    read_outcome_file,
)
from kaitiaki.refer.service import ReferralForbiddenError, ReferralNotFoundError
from kaitiaki.refer.steps import COUNTED, LABELS, STATUS_OF
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Outcome,
    OutcomeFile,
    Referral,
    ReferralEvent,
    ReferralSubject,
    TrustedKey,
)
from kaitiaki.users.roles import Permission
from kaitiaki.users.scope import Jurisdiction, JurisdictionError, Scope, parse_jurisdiction

NFA_STEP: Final = "no_further_action"
_CHUNK: Final = 500  # ids per IN (...) query, well under SQLite's bound on parameters


@dataclass(frozen=True, slots=True)
class OutcomeFileResult:
    file: str
    sha256: str
    sender: str  # the trust store's name of the partner
    key_fingerprint: str
    referral_id: str
    already_imported: bool  # this very file was imported before: nothing changed
    steps: int  # in the file
    new_steps: int  # applied now (not seen in an earlier file)
    statuses: tuple[str, ...]  # the statuses reached by this import, in order
    status: str  # the referral's status afterwards
    added: dict[str, int] = field(default_factory=dict)  # TOTALS kinds: what the new steps add


def import_outcome_file(
    store: Store,
    path: Path,
    *,
    actor: str,
    scope: Scope,
    pinned: Path | None = None,
    data: bytes | None = None,
) -> OutcomeFileResult:
    """Verify ``path`` (or ``data`` received under that name) and apply it, audited as
    ``actor``. Raises ``EnvelopeError`` (bad or unknown signature), ``OutcomeFileError`` (a file
    this partner may not send, or a bad document), ``ReferralNotFoundError`` (no such referral
    within ``scope``) or ``ReferralForbiddenError`` (the role may not record outcomes)."""
    if not scope.can(Permission.RECORD_OUTCOMES):
        raise ReferralForbiddenError(f"a {scope.role} may not record outcomes")
    document = read_outcome_file(path, store=store, pinned=pinned, data=data)
    try:
        with store.session() as session:
            return _apply(session, document, actor=actor, scope=scope)
    except IntegrityError:
        # Another import of this file (or one with the same steps) committed first.
        raise OutcomeFileError(
            f"{document.where}: imported by someone else at the same moment; import it again "
            "to see what it changed"
        ) from None


def _partner(session: Session, document: OutcomeDocument) -> tuple[str, tuple[str, ...]]:
    """The signer's trust-store name and jurisdictions; a pinned key must be trusted too, as
    the trust store is what binds a key to the referrals it may report on."""
    signer = document.signer
    if signer.source == "trusted":
        return signer.name, signer.jurisdictions
    row = session.scalar(select(TrustedKey).where(TrustedKey.fingerprint == signer.fingerprint))
    if row is None:
        raise OutcomeFileError(
            f"{document.where}: signed by the pinned key (fingerprint {signer.fingerprint}), "
            "which is not in the trust store; add it with `kaitiaki keys trust add NAME FILE "
            "--jurisdiction CC:Agency` so its outcomes are bound to the referrals it received"
        )
    return row.name, tuple(row.jurisdictions or ())


def _bound(jurisdictions: Sequence[str]) -> list[Jurisdiction]:
    pairs = []
    for text in jurisdictions:
        try:
            pairs.append(parse_jurisdiction(text))
        except JurisdictionError:
            continue  # a stored value this version cannot read binds to nothing
    return pairs


def _check(session: Session, document: OutcomeDocument, referral: Referral) -> None:
    where, ref = document.where, referral.id
    if referral.status == "draft":
        raise OutcomeFileError(
            f"{where}: referral {ref} was never sent (it is a draft): no partner can report on it"
        )
    if not Jurisdiction(document.agency_country, document.agency_name).covers(
        referral.country, referral.agency
    ):
        raise OutcomeFileError(
            f"{where}: the file speaks for {document.agency_name} ({document.agency_country}), "
            f"but referral {ref} went to {referral.agency} ({referral.country or 'no country'})"
        )
    if document.package_version > referral.package_version:
        raise OutcomeFileError(
            f"{where}: reports on package version {document.package_version} of {ref}; "
            f"version {referral.package_version} is the newest sent"
        )
    if (
        document.package_version == referral.package_version
        and referral.manifest_sha256
        and document.package_manifest_sha256 != referral.manifest_sha256
    ):
        raise OutcomeFileError(
            f"{where}: the package manifest it names ({document.package_manifest_sha256}) is not "
            f"the one sent as version {referral.package_version} of {ref}"
        )
    members = set(
        session.scalars(
            select(ReferralSubject.subject_id).where(ReferralSubject.referral_id == ref)
        )
    )
    strangers = [s for s in document.subjects if s not in members]
    if strangers:
        raise OutcomeFileError(
            f"{where}: subject {strangers[0]!r} is not in referral {ref}"
            + (f" (and {len(strangers) - 1} more)" if len(strangers) > 1 else "")
        )


def _known_steps(session: Session, document: OutcomeDocument) -> set[str]:
    """The file's step ids already applied; a step id already used by another referral's
    outcome is refused (a partner cannot take over, or block, another referral's step)."""
    ids = [s.id for s in document.steps]
    owner: dict[str, str | None] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = session.execute(
            select(Outcome.external_id, Outcome.referral_id).where(Outcome.external_id.in_(chunk))
        )
        owner.update((str(external), referral) for external, referral in rows)
    for step in document.steps:
        if step.id in owner and owner[step.id] != document.referral_id:
            raise OutcomeFileError(
                f"{document.where}: step {step.number}: its id {step.id} is already a step of "
                "another referral"
            )
    return set(owner)


def _midnight(step: OutcomeStep) -> datetime:
    return datetime.combine(step.date, time(), tzinfo=UTC)


def _aware(at: datetime | None) -> datetime | None:
    # SQLite hands back naive values, which were written as UTC.
    if at is None:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _targets(steps: Sequence[OutcomeStep], current: str) -> list[tuple[str, OutcomeStep]]:
    """The statuses to reach from ``current``, in lifecycle order, each with the first step
    (by date) that implies it; then "no further action" when the partner's last step is that."""
    ordered = sorted(steps, key=lambda s: (s.date, s.number))
    first: dict[str, OutcomeStep] = {}
    for step in ordered:
        status = STATUS_OF.get(step.kind)
        if status is not None and status != NO_FURTHER_ACTION:
            first.setdefault(status, step)
    if current not in PATH[1:]:  # a draft (refused earlier) or a final "no further action"
        return []
    later = PATH[PATH.index(current) + 1 :]
    out = [(status, first[status]) for status in later if status in first]
    end = out[-1][0] if out else current
    # One subject's "no further action" before another's arrest does not close the referral:
    # only a case whose last step is "no further action" ends there.
    if ordered and ordered[-1].kind == NFA_STEP and NO_FURTHER_ACTION in NEXT.get(end, ()):
        out.append((NO_FURTHER_ACTION, ordered[-1]))
    return out


def _apply(
    session: Session, document: OutcomeDocument, *, actor: str, scope: Scope
) -> OutcomeFileResult:
    where = document.where
    referral = session.get(Referral, document.referral_id)
    if (
        referral is None
        or not scope.can(Permission.VIEW_REFERRALS)
        or not scope.covers(referral.country, referral.agency)
    ):
        raise ReferralNotFoundError(f"{where}: no referral {document.referral_id!r}")
    partner, jurisdictions = _partner(session, document)
    bound = _bound(jurisdictions)
    if not bound:
        raise OutcomeFileError(
            f"{where}: the key of {partner!r} is bound to no jurisdiction, so it may report on "
            "no referral; trust it for the agencies it answers for with `kaitiaki keys trust add "
            "NAME FILE --jurisdiction CC:Agency` (remove it first)"
        )
    if not any(j.covers(referral.country, referral.agency) for j in bound):
        raise OutcomeFileError(
            f"{where}: {partner} did not receive referral {referral.id} (its key answers for "
            f"{', '.join(str(j) for j in bound)}): a partner reports only on referrals sent to it"
        )
    _check(session, document, referral)
    result = OutcomeFileResult(
        file=where,
        sha256=document.sha256,
        sender=partner,
        key_fingerprint=document.signer.fingerprint,
        referral_id=referral.id,
        already_imported=True,
        steps=len(document.steps),
        new_steps=0,
        statuses=(),
        status=referral.status,
        added=dict.fromkeys(TOTALS, 0),
    )
    if session.scalar(select(OutcomeFile.id).where(OutcomeFile.sha256 == document.sha256)):
        return result
    source = f"outcome file {document.sha256[:12]} from {partner}"
    known = _known_steps(session, document)
    fresh = [s for s in document.steps if s.id not in known]
    targets = _targets(document.steps, referral.status)
    if targets and not scope.can(Permission.UPDATE_REFERRAL):
        raise ReferralForbiddenError(f"a {scope.role} may not change a referral's status")
    added = dict.fromkeys(TOTALS, 0)
    for step in fresh:
        kind = COUNTED.get(step.kind, step.kind)
        count = step.count if step.count is not None else int(step.kind == NFA_STEP)
        if kind in added:
            added[kind] += count
        _add(session, referral.id, step, kind, count, source=source, actor=actor, file=document)
    # History rows keep lifecycle order: a partner's date-only step can sort before our
    # "sent" of the same day, so a status is dated no earlier than the history's last row.
    last = _aware(
        session.scalar(
            select(func.max(ReferralEvent.at)).where(ReferralEvent.referral_id == referral.id)
        )
    )
    reached = []
    for status, step in targets:
        at = max(_midnight(step), last) if last else _midnight(step)
        note = (
            f"{partner} reports {LABELS[step.kind]!r} on {step.date} (step {step.number} of "
            f"{source})" + (f": {step.reason}" if step.reason else "")
        )
        apply_status(session, referral.id, status, actor=actor, note=note, at=at, allow_skip=True)
        reached.append(status)
        last = at
    session.add(
        OutcomeFile(
            sha256=document.sha256,
            referral_id=referral.id,
            sender=partner,
            key_fingerprint=document.signer.fingerprint,
            schema_version=document.schema_version,
            issued_at=document.issued_at,
            steps=len(document.steps),
            new_steps=len(fresh),
            imported_by=actor,
        )
    )
    record(
        session,
        actor=actor,
        action="outcomes.file_imported",
        target_type="referral",
        target_id=referral.id,
        details={
            "file": Path(where).name,
            "sha256": document.sha256,
            "sender": partner,
            "key_fingerprint": document.signer.fingerprint,
            "key_source": document.signer.source,
            "schema_version": document.schema_version,
            "issued_at": document.issued_at.isoformat(),
            "issued_by": document.issued_by,
            "steps": len(document.steps),
            "new_steps": len(fresh),
            "statuses": reached,
            "added": added,
        },
    )
    session.flush()  # the unique sha256 and step ids are settled here, inside the transaction
    return OutcomeFileResult(
        file=where,
        sha256=document.sha256,
        sender=partner,
        key_fingerprint=document.signer.fingerprint,
        referral_id=referral.id,
        already_imported=False,
        steps=len(document.steps),
        new_steps=len(fresh),
        statuses=tuple(reached),
        status=referral.status,
        added=added,
    )


def _add(
    session: Session,
    referral_id: str,
    step: OutcomeStep,
    kind: str,
    count: int,
    *,
    source: str,
    actor: str,
    file: OutcomeDocument,
) -> None:
    when = _midnight(step)
    session.add(
        Outcome(
            referral_id=referral_id,
            subject_id=step.subject_id,
            kind=kind,
            count=count,
            date=when,
            note=step.reason,
            source=source,
            external_id=step.id,
        )
    )
    record(
        session,
        actor=actor,
        action="referral.outcome",
        target_type="referral",
        target_id=referral_id,
        reason=step.reason,
        details={
            "kind": kind,
            "count": count,
            "subject_id": step.subject_id,
            "date": step.date.isoformat(),
            "step": step.kind,
            "step_id": step.id,
            "sha256": file.sha256,
            "file": Path(file.where).name,
        },
    )
