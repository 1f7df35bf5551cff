"""``build_referrals``: one signed package per receiving agency about its not-yet-referred subjects.

Subjects are grouped by (country, agency): an INTERPOL NCB is one office per country, so the
country is part of the recipient. Unattributed subjects go to the INTERPOL General Secretariat
under the code ``ZZ`` (ISO 3166 "unknown"). The ``ReferralSubject`` row is claimed before any file
is written, and its primary key is the subject id: a subject is never referred twice, even by two
runs at once; one already referred is skipped and reported.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any, Final

from sqlalchemy import select

from kaitiaki import __version__
from kaitiaki.audit import record
from kaitiaki.geo import load_agencies
from kaitiaki.refer import render
from kaitiaki.refer.gather import SubjectData, custody, subject_doc, workspace_data
from kaitiaki.refer.signing import load_private, write_signed_manifest
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Account,
    AccountLink,
    Priority,
    Referral,
    ReferralEvent,
    ReferralSubject,
    Subject,
)

SCHEMA_VERSION: Final = "1.1"
SCHEMA_ID: Final = "https://kaitiaki.example/schema/referral-package-v1.json"
UNKNOWN_CC: Final = "ZZ"
TIERS: Final = ("low", "medium", "high", "very_high")


def schema() -> dict[str, Any]:
    text = files("kaitiaki.refer").joinpath("schema/referral-package-v1.json").read_text()
    doc: dict[str, Any] = json.loads(text)
    return doc


@dataclass
class ReferralPackage:
    referral_id: str
    agency: str
    country: str | None
    folder: Path
    subjects: list[str]
    events: int
    flagged_files: int
    manifest_sha256: str


class ReferralBatch(list[ReferralPackage]):
    """The packages built, plus the subjects skipped because they were already referred."""

    already_referred: dict[str, str]

    def __init__(self, items: Iterable[ReferralPackage] = ()) -> None:
        super().__init__(items)
        self.already_referred = {}


def package_document(
    referral: Referral,
    agency_name: str,
    agency: Any,
    subject_docs: list[dict[str, Any]],
    built_by: str,
    built_at: str,
    version: int,
    supersedes: str | None,
) -> dict[str, Any]:
    return {
        "$schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "package_id": referral.id,
        "package_version": version,
        "supersedes": supersedes,
        "created_at": built_at,
        "built_by": built_by,
        "tool_version": __version__,
        "agency": {
            "name": agency_name,
            "unit": agency.unit,
            "country": referral.country,
            "country_name": agency.country_name,
            "contact_reference": agency.contact_reference,
        },
        "subjects": subject_docs,
    }


def write_package(folder: Path, doc: dict[str, Any], events: list[dict[str, Any]], key: Any) -> str:
    """Write and sign the package folder (which must not exist); returns the manifest's
    SHA-256. A failure removes the half-written folder."""
    try:
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(
            json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8"
        )
        render.write_events_csv(folder / "events.csv", events)
        (folder / "report.html").write_text(render.render_html(doc), encoding="utf-8")
        render.render_pdf(doc, folder / "report.pdf")
        _, digest = write_signed_manifest(
            folder,
            key,
            {
                "package_id": doc["package_id"],
                "package_version": str(doc["package_version"]),
                "created": doc["created_at"],
                "schema_version": SCHEMA_VERSION,
            },
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # The rows roll back with the session.
        raise
    return digest


def _next_id(session: Any, cc: str, day: str) -> str:
    prefix = f"KAI-{cc}-{day}-"
    used = session.scalars(select(Referral.id).where(Referral.id.like(prefix + "%")))
    numbers = [int(i.rsplit("-", 1)[1]) for i in used if i.rsplit("-", 1)[1].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1}"


def build_referrals(
    store: Store,
    workspace: Path,
    out: Path,
    *,
    key_path: Path,
    built_by: str,
    subject_ids: Sequence[str] | None = None,
    tier_at_least: str | None = None,
    agencies: Path | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> ReferralBatch:
    """Build, sign and record one package per (country, agency); see the module docstring.

    ``on_progress(done, total)`` is called with packages built so far, before the first and
    after each (each package is committed by then, so the callback may raise to stop).
    """
    key = load_private(key_path)
    now = datetime.now(UTC).replace(microsecond=0)
    built_at = now.isoformat().replace("+00:00", "Z")
    table = load_agencies(agencies)
    batch = ReferralBatch()
    with store.session() as session:
        query = select(Subject).order_by(Subject.id)
        if subject_ids is not None:
            query = query.where(Subject.id.in_(list(subject_ids)))
        subjects = list(session.scalars(query))
        # Not dict(result): a Result has .keys(), so dict() would treat it as a mapping.
        referred = {
            sid: rid
            for sid, rid in session.execute(
                select(ReferralSubject.subject_id, ReferralSubject.referral_id)
            )
        }
        if tier_at_least is not None:
            floor = TIERS.index(tier_at_least)
            tiers = {
                p.subject_id: p.override_tier or p.tier for p in session.scalars(select(Priority))
            }
            subjects = [
                s
                for s in subjects
                if tiers.get(s.id) in TIERS and TIERS.index(str(tiers[s.id])) >= floor
            ]
        batch.already_referred = {s.id: referred[s.id] for s in subjects if s.id in referred}
        subjects = [s for s in subjects if s.id not in referred]
        members = accounts_of(session, [s.id for s in subjects])
    data = workspace_data(store, workspace, members)
    groups: dict[tuple[str, str], list[Subject]] = defaultdict(list)
    for s in subjects:
        groups[(s.country or UNKNOWN_CC, s.agency or table.for_country(s.country).agency)].append(s)
    out.mkdir(parents=True, exist_ok=True)
    if on_progress:
        on_progress(0, len(groups))
    for (cc, agency_name), members_of in sorted(groups.items()):
        batch.append(
            _build_one(
                store,
                workspace,
                out,
                key,
                cc,
                agency_name,
                members_of,
                data,
                built_by,
                now,
                built_at,
                table,
            )
        )
        if on_progress:
            on_progress(len(batch), len(groups))
    return batch


def accounts_of(session: Any, subject_ids: list[str]) -> set[str]:
    """The subjects' accounts plus those one kept link away (what the package describes)."""
    members = set(
        session.scalars(select(Account.account_id).where(Account.subject_id.in_(subject_ids)))
    )
    for near, far in (
        (AccountLink.account_a, AccountLink.account_b),
        (AccountLink.account_b, AccountLink.account_a),
    ):
        members |= set(
            session.scalars(select(far).where(near.in_(members), AccountLink.rejected.is_(False)))
        )
    return members


def _build_one(
    store: Store,
    workspace: Path,
    out: Path,
    key: Any,
    cc: str,
    agency_name: str,
    subjects: list[Subject],
    data: SubjectData,
    built_by: str,
    now: datetime,
    built_at: str,
    table: Any,
) -> ReferralPackage:
    with store.session() as session:
        referral_id = _next_id(session, cc, now.strftime("%Y%m%d"))
        folder = out / referral_id
        referral = Referral(
            id=referral_id,
            agency=agency_name,
            country=None if cc == UNKNOWN_CC else cc,
            status="draft",
            created_at=now,
            created_by=built_by,
            package_path=str(folder),
        )
        session.add(referral)
        session.flush()
        # Claimed first: a concurrent run referring the same subject fails here, before writing.
        session.add_all(ReferralSubject(subject_id=s.id, referral_id=referral_id) for s in subjects)
        session.add(
            ReferralEvent(
                referral_id=referral_id,
                status="draft",
                at=now,
                by=built_by,
                note=f"package built for {len(subjects)} subject(s)",
            )
        )
        session.flush()
        agency = table.for_country(None if cc == UNKNOWN_CC else cc)
        subject_docs = [subject_doc(session, s, data) for s in subjects]
        doc = package_document(
            referral, agency_name, agency, subject_docs, built_by, built_at, 1, None
        )
        doc["chain_of_custody"] = custody(session, workspace, built_by, built_at)
        ids = {s.id for s in subjects}
        rows = [e for e in data.events if e.get("subject_id") in ids]
        digest = write_package(folder, doc, rows, key)
        referral.manifest_sha256 = digest
        record(
            session,
            actor=built_by,
            action="referral.built",
            target_type="referral",
            target_id=referral_id,
            details={
                "agency": agency_name,
                "country": referral.country,
                "subjects": sorted(s.id for s in subjects),
                "manifest_sha256": digest,
            },
        )
        return ReferralPackage(
            referral_id,
            agency_name,
            referral.country,
            folder,
            [s.id for s in subjects],
            len(rows),
            sum(len(d["flagged_files"]) for d in subject_docs),
            digest,
        )
