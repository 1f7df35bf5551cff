"""Helpers for the signed outcome file tests: two sent referrals, partner keys, documents."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from kaitiaki.refer.outcome_file import SCHEMA_ID, totals
from kaitiaki.refer.signing import generate_key, load_private, public_path
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import Store
from kaitiaki.store.models import (
    AuditEvent,
    Outcome,
    OutcomeFile,
    Referral,
    ReferralEvent,
    ReferralSubject,
    Subject,
)

AFP = "Australian Federal Police"
NZP = "New Zealand Police"
REF = "KAI-AU-20261102-1"  # sent to the AFP, subjects S1 and S2
OTHER = "KAI-NZ-20261102-1"  # sent to NZ Police, subject S3
DRAFT = "KAI-AU-20261102-2"  # never sent, subject S4
MANIFEST = "ab" * 32
SENT_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def seed(store: Store) -> None:
    with store.session() as session:
        session.add_all(
            [
                Subject(id="S1", country="AU"),
                Subject(id="S2", country="AU"),
                Subject(id="S3", country="NZ"),
                Subject(id="S4", country="AU"),
                Referral(id=REF, agency=AFP, country="AU", status="sent", manifest_sha256=MANIFEST),
                Referral(id=OTHER, agency=NZP, country="NZ", status="sent"),
                Referral(id=DRAFT, agency=AFP, country="AU", status="draft"),
            ]
        )
        session.flush()
        session.add_all(
            [
                ReferralSubject(subject_id="S1", referral_id=REF),
                ReferralSubject(subject_id="S2", referral_id=REF),
                ReferralSubject(subject_id="S3", referral_id=OTHER),
                ReferralSubject(subject_id="S4", referral_id=DRAFT),
                ReferralEvent(referral_id=REF, status="sent", at=SENT_AT, by="cli:lead"),
            ]
        )


def key(folder: Path, name: str) -> tuple[Ed25519PrivateKey, Path]:
    """A new key pair in ``folder``: the private key and the public key's file."""
    private = generate_key(folder / f"{name}.key")
    return load_private(private), public_path(private)


def trust(store: Store, name: str, public: Path, *jurisdictions: str) -> None:
    add_trusted_key(store, name, public, actor="cli:lead", jurisdictions=jurisdictions)


def step(
    kind: str, day: str, subject: str | None = None, count: int | None = None, reason: str = ""
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "date": day,
        "subject_id": subject,
        "count": count,
        "reason": reason,
    }


def document(steps: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "$schema": SCHEMA_ID,
        "schema_version": "1.0",
        "referral_id": REF,
        "package_manifest_sha256": MANIFEST,
        "package_version": 1,
        "agency": {"country": "AU", "name": AFP},
        "issued_at": "2026-12-03T12:00:00Z",
        "issued_by": "web:afp-liaison",
        "subjects": ["S1", "S2"],
        "steps": steps,
        "totals": totals(steps),
    }
    doc.update(changes)
    return doc


def rows(store: Store) -> dict[str, Any]:
    """What an import may change: row counts and every referral's status."""
    with store.session() as session:
        counted = {
            model.__name__: session.scalar(select(func.count()).select_from(model))
            for model in (Outcome, OutcomeFile, ReferralEvent, AuditEvent)
        }
        statuses = {i: s for i, s in session.execute(select(Referral.id, Referral.status))}
    return {**counted, "statuses": statuses}
