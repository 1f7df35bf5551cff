"""``import_package``: a verified referral package becomes a received case, audited.

The same package again changes nothing; a newer version of it (``kaitiaki referral revise`` at
the sender) is merged into the case it updates, with its differences listed; an older one is
refused. The sender's flagged files become a hash set, so the receiver's own scans and triage
match against them alongside its own sets; its subjects are deconflicted against ours at once
(``receive.hits``). Everything lands in one transaction or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from uuid import uuid4

from sqlalchemy import select
from sqlalchemy.orm import Session

from kaitiaki.audit import record
from kaitiaki.hashsets import Entry, UnknownProfileError, add_entries, get_profile, write_hash_set
from kaitiaki.hashsets.entry import EntryError, normalise_hex, parse_category
from kaitiaki.match.retro_trigger import request_retro_match
from kaitiaki.receive.cases import (
    TIERS,
    CaseConflictError,
    CaseForbiddenError,
    CaseInvalidError,
    HitView,
)
from kaitiaki.receive.differences import package_differences
from kaitiaki.receive.hits import find_hits, new_key, own_pointers
from kaitiaki.receive.package_reader import PackageError, VerifiedPackage, read_package
from kaitiaki.store import Store
from kaitiaki.store.models import (
    CaseHit,
    CaseStep,
    HashSet,
    ReceivedCase,
    ReceivedSubject,
    ReceivedVersion,
)
from kaitiaki.users.roles import Permission
from kaitiaki.users.scope import Scope

TARGET = "received_case"


@dataclass(frozen=True)
class ImportResult:
    case_id: int
    reference: str
    sender: str
    key_fingerprint: str
    outcome: Literal["created", "merged", "unchanged"]
    package_version: int
    subjects: int
    flagged_files: int
    ip_capture_events: int
    differences: list[dict[str, str]]
    hits: list[HitView]
    hash_set: str | None


def _when(text: Any) -> datetime | None:
    try:
        value = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _entries(doc: dict[str, Any]) -> list[Entry]:
    """The flagged files as hash-set entries; a bad hash is refused by subject and position."""
    entries: dict[tuple[str | None, ...], Entry] = {}
    for subject in doc["subjects"]:
        for i, f in enumerate(subject["flagged_files"]):
            try:
                entry = Entry(
                    md5=normalise_hex(f.get("md5"), "md5"),
                    sha1=normalise_hex(f.get("sha1"), "sha1"),
                    sha256=normalise_hex(f.get("sha256"), "sha256"),
                    pdq=normalise_hex(f.get("pdq"), "pdq"),
                    category=parse_category(f.get("category")),
                    series=f.get("series") if isinstance(f.get("series"), str) else None,
                    victim_identified=f.get("victim_identified")
                    if isinstance(f.get("victim_identified"), bool)
                    else None,
                )
            except EntryError as exc:
                raise PackageError(
                    f"package.json: subject {subject['subject_id']} flagged file {i + 1}: {exc}"
                ) from None
            if entry.hashes():
                entries.setdefault((entry.md5, entry.sha1, entry.sha256, entry.pdq), entry)
    return list(entries.values())


def _profile(doc: dict[str, Any]) -> str:
    """The category profile of the sender's matching hash sets, when it names one we know."""
    named = {
        h.get("profile")
        for h in (doc.get("chain_of_custody") or {}).get("hash_sets", [])
        if isinstance(h, dict)
    }
    for name in sorted(n for n in named if isinstance(n, str)):
        try:
            get_profile(name)
        except UnknownProfileError:
            continue
        return name
    return "none"


def _priority(doc: dict[str, Any]) -> tuple[str | None, float | None]:
    p = doc.get("priority") or {}
    tier = p.get("tier") if p.get("tier") in TIERS else None
    score = p.get("score") if isinstance(p.get("score"), int | float) else None
    return tier, float(score) if score is not None else None


def _case_priority(subjects: list[dict[str, Any]]) -> tuple[str | None, float | None]:
    best: tuple[str | None, float | None] = (None, None)
    for s in subjects:
        tier, score = _priority(s)
        key = (TIERS.index(tier) if tier else -1, score or 0.0)
        held = (TIERS.index(best[0]) if best[0] else -1, best[1] or 0.0)
        if key > held:
            best = (tier, score)
    return best


def _store_subjects(session: Session, case: ReceivedCase, subjects: list[dict[str, Any]]) -> None:
    held = {
        s.subject_id: s
        for s in session.scalars(select(ReceivedSubject).where(ReceivedSubject.case_id == case.id))
    }
    for doc in subjects:
        tier, score = _priority(doc)
        country = (doc.get("attribution") or {}).get("country")
        row = held.get(doc["subject_id"])
        if row is None:
            row = ReceivedSubject(case_id=case.id, subject_id=doc["subject_id"])
            session.add(row)
        row.country, row.priority_tier, row.priority_score, row.doc = country, tier, score, doc


def _hash_set(
    session: Session, case: ReceivedCase, pkg: VerifiedPackage, entries: list[Entry], actor: str
) -> None:
    if not entries:
        return
    if case.hash_set is not None:
        row = session.scalars(select(HashSet).where(HashSet.name == case.hash_set)).first()
        if row is not None:
            if add_entries(session, row, entries):
                request_retro_match(session, row, actor)
            return
    name = f"received {pkg.reference}"
    if session.scalars(select(HashSet.id).where(HashSet.name == name)).first() is not None:
        name = f"{name} (case {case.id})"
    write_hash_set(
        session,
        name,
        entries,
        profile=_profile(pkg.document),
        source=f"referral {pkg.reference} from {case.sender}",
        source_format="referral",
        source_sha256=pkg.manifest_sha256,
        actor=actor,
    )
    case.hash_set = name


def _check_caller(scope: Scope, pkg: VerifiedPackage) -> None:
    agency = pkg.document["agency"]
    if not scope.covers(agency.get("country"), agency["name"]):
        where = agency.get("country") or "no country"
        raise CaseForbiddenError(
            f"{pkg.source}: addressed to {agency['name']} ({where}), "
            "not to one of your jurisdictions"
        )


def import_package(
    store: Store,
    path: Path,
    *,
    actor: str,
    scope: Scope,
    accept_unknown_reason: str | None = None,
    workspace: Path | None = None,
) -> ImportResult:
    """Verify the package at ``path`` (folder or ZIP) and create, merge into, or leave
    unchanged its received case. ``accept_unknown_reason``: a person accepts a package from a
    key not in the trust store, and why (recorded with the case and in the audit log)."""
    if not scope.can(Permission.RECEIVE_REFERRALS):
        raise CaseForbiddenError("your role may not import referral packages")
    if not actor.strip():
        raise CaseInvalidError("importing a package needs the acting user")
    reason = (accept_unknown_reason or "").strip()
    if accept_unknown_reason is not None and not reason:
        raise CaseInvalidError("accepting an unknown sender needs a reason")
    pkg = read_package(store, path, accept_unknown=bool(reason))
    _check_caller(scope, pkg)
    doc = pkg.document
    fingerprint = pkg.key_fingerprint.replace(":", "")
    entries = _entries(doc)
    key = new_key()
    ours = own_pointers(store, workspace, key)  # before our transaction holds any lock
    with store.session() as session:
        case = session.scalars(
            select(ReceivedCase).where(
                ReceivedCase.sender_fingerprint == fingerprint,
                ReceivedCase.reference == pkg.reference,
            )
        ).first()
        if case is not None:
            held = session.scalars(
                select(ReceivedVersion.id).where(
                    ReceivedVersion.case_id == case.id,
                    ReceivedVersion.manifest_sha256 == pkg.manifest_sha256,
                )
            ).first()
            if held is not None:
                return _result(session, case, pkg, "unchanged", [], entries)
            if pkg.version <= case.package_version:
                raise CaseConflictError(
                    f"{path}: version {pkg.version} of {pkg.reference} is not newer than version "
                    f"{case.package_version} already imported (case {case.id}); nothing changed"
                )
            differences = package_differences(case.document, doc)
            outcome: Literal["created", "merged"] = "merged"
        else:
            agency = doc["agency"]
            case = ReceivedCase(
                reference=pkg.reference,
                sender=pkg.sender or f"unknown sender {fingerprint[:16]}",
                sender_fingerprint=fingerprint,
                unknown_sender_reason=None if pkg.origin_proven else reason,
                country=agency.get("country"),
                agency=agency["name"],
                received_by=actor,
                status="received",
            )
            differences, outcome = [], "created"
        now = datetime.now(UTC)
        case.document, case.schema_version = doc, pkg.schema_version
        case.package_version, case.manifest_sha256 = pkg.version, pkg.manifest_sha256
        case.built_by, case.sent_at = str(doc["built_by"]), _when(doc.get("created_at"))
        case.priority_tier, case.priority_score = _case_priority(doc["subjects"])
        session.add(case)
        session.flush()
        _store_subjects(session, case, doc["subjects"])
        _hash_set(session, case, pkg, entries, actor)
        session.add(
            ReceivedVersion(
                case_id=case.id,
                package_version=pkg.version,
                manifest_sha256=pkg.manifest_sha256,
                imported_at=now,
                imported_by=actor,
                differences=differences or None,
            )
        )
        if outcome == "created":
            session.add(
                CaseStep(
                    uid=str(uuid4()),
                    case_id=case.id,
                    kind="received",
                    on=now,
                    by=actor,
                    detail=f"package {pkg.reference} v{pkg.version}",
                )
            )
        session.flush()
        find_hits(session, case, ours=ours, key=key)
        record(
            session,
            actor=actor,
            action=f"received.{outcome}",
            target_type=TARGET,
            target_id=str(case.id),
            reason=reason,
            details={
                "reference": pkg.reference,
                "sender": case.sender,
                "key_fingerprint": fingerprint,
                "origin_proven": pkg.origin_proven,
                "package_version": pkg.version,
                "manifest_sha256": pkg.manifest_sha256,
                "subjects": len(doc["subjects"]),
                "differences": len(differences),
            },
        )
        return _result(session, case, pkg, outcome, differences, entries)


def _result(
    session: Session,
    case: ReceivedCase,
    pkg: VerifiedPackage,
    outcome: Literal["created", "merged", "unchanged"],
    differences: list[dict[str, str]],
    entries: list[Entry],
) -> ImportResult:
    hits = [
        HitView(h.subject_id, h.other_type, h.other_id, h.kind)
        for h in session.scalars(
            select(CaseHit).where(CaseHit.case_id == case.id).order_by(CaseHit.subject_id)
        )
    ]
    subjects = pkg.document["subjects"]
    return ImportResult(
        case.id,
        case.reference,
        case.sender,
        pkg.key_fingerprint,
        outcome,
        pkg.version,
        len(subjects),
        len(entries),
        sum(len(s["ip_capture_events"]) for s in subjects),
        differences,
        hits,
        case.hash_set,
    )
