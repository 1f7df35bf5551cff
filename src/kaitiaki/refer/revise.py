"""``revise_referral``: a sent referral's next package version, built only when it says more.

What the store and workspace know changes after a package is sent (new events, a changed
priority). A revision rebuilds the package about the same subjects as version N+1, which the
receiving kaitiaki merges into the case it holds; a revision that would say exactly what the
last version said is refused (``NothingNewError``), so partners never receive a new version
with nothing new in it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from kaitiaki.audit import record
from kaitiaki.geo import load_agencies
from kaitiaki.refer import render
from kaitiaki.refer.gather import custody, subject_doc, workspace_data
from kaitiaki.refer.package import (
    ReferralPackage,
    accounts_of,
    package_document,
    write_package,
)
from kaitiaki.refer.signing import load_private
from kaitiaki.store import Store
from kaitiaki.store.models import Referral, ReferralEvent, ReferralSubject, Subject


def revise_referral(
    store: Store,
    workspace: Path,
    out: Path,
    referral_id: str,
    *,
    key_path: Path,
    built_by: str,
    agencies: Path | None = None,
) -> ReferralPackage:
    """Rebuild a referral's package about the same subjects from what the store and workspace
    know now (new events, a changed priority), as the next package version.

    The receiving kaitiaki merges it into the case it already holds and lists the differences.
    The folder is ``<out>/<referral id>-v<version>``, so the earlier version is never
    overwritten. ``NothingNewError`` when it would say what the last version said."""
    key = load_private(key_path)
    now = datetime.now(UTC).replace(microsecond=0)
    built_at = now.isoformat().replace("+00:00", "Z")
    table = load_agencies(agencies)
    with store.session() as session:
        referral = session.get(Referral, referral_id)
        if referral is None:
            raise LookupError(f"no referral {referral_id!r}")
        ids = list(
            session.scalars(
                select(ReferralSubject.subject_id)
                .where(ReferralSubject.referral_id == referral_id)
                .order_by(ReferralSubject.subject_id)
            )
        )
        members = accounts_of(session, ids)
    data = workspace_data(store, workspace, members)
    with store.session() as session:
        referral = session.get(Referral, referral_id)
        assert referral is not None  # read above; referrals are never deleted
        subjects = list(
            session.scalars(select(Subject).where(Subject.id.in_(ids)).order_by(Subject.id))
        )
        version = (referral.package_version or 1) + 1
        folder = out / f"{referral_id}-v{version}"
        agency = table.for_country(referral.country)
        subject_docs = [subject_doc(session, s, data) for s in subjects]
        doc = package_document(
            referral,
            referral.agency,
            agency,
            subject_docs,
            built_by,
            built_at,
            version,
            referral.manifest_sha256,
        )
        doc["chain_of_custody"] = custody(session, workspace, built_by, built_at)
        rows = [e for e in data.events if e.get("subject_id") in set(ids)]
        if _says_the_same(referral.package_path, subject_docs, rows):
            raise NothingNewError(
                f"referral {referral_id}: nothing new since version {version - 1} (the same "
                f"subjects, priority and events); no version built"
            )
        out.mkdir(parents=True, exist_ok=True)
        digest = write_package(folder, doc, rows, key)
        previous = referral.manifest_sha256
        referral.manifest_sha256, referral.package_version = digest, version
        referral.package_path = str(folder)
        session.add(
            ReferralEvent(
                referral_id=referral_id,
                status=referral.status,
                at=now,
                by=built_by,
                note=f"package version {version} built for {len(subjects)} subject(s)",
            )
        )
        record(
            session,
            actor=built_by,
            action="referral.revised",
            target_type="referral",
            target_id=referral_id,
            details={"version": version, "manifest_sha256": digest, "supersedes": previous},
        )
        return ReferralPackage(
            referral_id,
            referral.agency,
            referral.country,
            folder,
            ids,
            len(rows),
            sum(len(d["flagged_files"]) for d in subject_docs),
            digest,
        )


class NothingNewError(Exception):
    """A revision would say exactly what the last version said: none is built."""


def _says_the_same(
    folder: str | None, subject_docs: list[dict[str, Any]], rows: list[dict[str, Any]]
) -> bool:
    """Whether the last version's package (``folder``) already holds these subjects and events.

    Its package.json's subjects are compared as JSON (its build time and chain of custody
    differ every time), its events.csv byte for byte. A last version that cannot be read (moved,
    an older layout) counts as different: a new version is built, as before."""
    if not folder:
        return False
    try:
        before = json.loads((Path(folder) / "package.json").read_text(encoding="utf-8"))
        events = (Path(folder) / "events.csv").read_bytes()
    except (OSError, ValueError):
        return False
    now = json.loads(json.dumps(subject_docs, default=str))
    try:
        # In subject order: the first version listed them as its batch grouped them.
        said = sorted(before["subjects"], key=lambda d: str(d["subject_id"]))
    except (KeyError, TypeError):
        return False  # not a package this version of kaitiaki reads
    now.sort(key=lambda d: str(d["subject_id"]))
    # Bytes, not text: the CSV's lines end in \r\n, which reading as text would turn into \n.
    return bool(said == now and events == render.events_csv_text(rows).encode("utf-8"))
