"""`POST /api/referrals/outcome-files`: a partner's signed outcome file uploaded at the lead unit,
applied within the caller's reach and audited as the user; its figures on the dashboard."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_helpers import AGENCY, JURISDICTION

from kaitiaki.refer.outcome_file import SCHEMA_ID, totals, write_outcome_file
from kaitiaki.refer.signing import generate_key, load_private, public_path
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Outcome, Referral, ReferralSubject, Subject
from kaitiaki.users import Role

REF = "KAI-NZ-20261102-1"
URL = "/api/referrals/outcome-files"
IMPORT_ACTIONS = ("referral.status", "referral.outcome", "outcomes.file_imported")


def _step(kind: str, day: str, count: int | None = None, reason: str = "") -> dict[str, Any]:
    subject = "S1" if count is not None or reason else None
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "date": day,
        "subject_id": subject,
        "count": count,
        "reason": reason,
    }


STEPS = [
    _step("received", "2026-11-03"),
    _step("arrest", "2026-11-21", 1),
    _step("children_safeguarded", "2026-11-22", 2),
]


@pytest.fixture
def outcome_file(store: Store, tmp_path: Path) -> bytes:
    """A sent referral to NZ Police, its partner's key trusted for it, and the file it signed."""
    with store.session() as session:
        session.add(Subject(id="S1", country="NZ"))
        session.add(Referral(id=REF, agency=AGENCY, country="NZ", status="sent"))
        session.flush()
        session.add(ReferralSubject(subject_id="S1", referral_id=REF))
    private = generate_key(tmp_path / "keys" / "nzp.key")
    add_trusted_key(
        store, "NZ Police", public_path(private), actor="cli:lead", jurisdictions=[JURISDICTION]
    )
    doc = {
        "$schema": SCHEMA_ID,
        "schema_version": "1.0",
        "referral_id": REF,
        "package_manifest_sha256": "ab" * 32,
        "package_version": 1,
        "agency": {"country": "NZ", "name": AGENCY},
        "issued_at": "2026-12-03T12:00:00Z",
        "issued_by": "web:nz-liaison",
        "subjects": ["S1"],
        "steps": STEPS,
        "totals": totals(STEPS),
    }
    path = tmp_path / "signed" / "outcome.json"
    write_outcome_file(path, doc, load_private(private))
    return path.read_bytes()


def _upload(client: TestClient, csrf: str, name: str, data: bytes) -> Any:
    return client.post(URL, files={"file": (name, data)}, headers={"X-CSRF-Token": csrf})


def _changes(store: Store) -> tuple[int, int, str]:
    with store.session() as session:
        # Only what an import writes: signing in and adding users audit too.
        audit = (
            session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action.in_(IMPORT_ACTIONS))
            )
            or 0
        )
        outcomes = session.scalar(select(func.count()).select_from(Outcome)) or 0
        status = session.get_one(Referral, REF).status
    return audit, outcomes, status


def test_a_liaison_imports_its_partners_signed_outcomes(
    store: Store, login: Any, outcome_file: bytes, tmp_path: Path
) -> None:
    before = _changes(store)
    # Another jurisdiction's liaison: the referral is not found, and nothing changes.
    foreign, csrf = login(Role.LIAISON, "AU:Australian Federal Police")
    refused = _upload(foreign, csrf, "outcome.json", outcome_file)
    assert refused.status_code == 404 and REF in refused.json()["detail"]
    reviewer, csrf = login(Role.REVIEWER)
    assert _upload(reviewer, csrf, "outcome.json", outcome_file).status_code == 403
    # Altered after signing: 422, naming the file as sent, never a server path.
    envelope = json.loads(outcome_file)
    payload = base64.b64decode(envelope["payload"]).replace(b'"count": 1', b'"count": 7')
    envelope["payload"] = base64.b64encode(payload).decode()
    liaison, csrf = login(Role.LIAISON)
    tampered = _upload(liaison, csrf, "../June outcome.json", json.dumps(envelope).encode())
    assert tampered.status_code == 422
    assert tampered.json()["detail"].startswith("June_outcome.json: not signed by any key")
    assert str(tmp_path) not in tampered.text
    assert _changes(store) == before

    done = _upload(liaison, csrf, "outcome.json", outcome_file)
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["referral_id"], body["sender"], body["already_imported"]) == (
        REF,
        "NZ Police",
        False,
    )
    assert (body["new_steps"], body["statuses"], body["status"]) == (
        3,
        ["acknowledged", "arrest"],
        "arrest",
    )
    assert body["added"]["arrested"] == 1 and body["added"]["children_safeguarded"] == 2
    with store.session() as session:
        imported = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "outcomes.file_imported")
        ).one()
    assert (imported.actor, imported.target_id) == ("web:liaison-user", REF)
    after = _changes(store)
    again = _upload(liaison, csrf, "outcome.json", outcome_file)
    assert again.status_code == 200 and again.json()["already_imported"] is True
    assert _changes(store) == after
    assert not [p for p in (tmp_path / "web" / "uploads").rglob("*") if p.is_file()]

    investigator, _ = login(Role.INVESTIGATOR)
    figures = investigator.get("/api/stats").json()
    assert (figures["arrests"], figures["children_safeguarded"]) == (1, 2)
    assert (figures["no_further_action"], figures["devices_seized"]) == (0, 0)
    nz = next(row for row in figures["by_country"] if row["country"] == "NZ")
    assert (nz["arrests"], nz["no_further_action"]) == (1, 0)
    november = next(row for row in figures["by_month"] if row["month"] == "2026-11")
    assert (november["arrests"], november["children_safeguarded"]) == (1, 2)
    page = investigator.get("/dashboard")
    assert page.status_code == 200
    assert 'data-testid="figure-no-further-action"' in page.text
    assert '<tr data-month="2026-11"><td>2026-11</td><td>0</td><td>1</td><td>2</td>' in page.text


def test_the_trust_store_binds_a_key_to_jurisdictions(login: Any, tmp_path: Path) -> None:
    admin, csrf = login(Role.ADMIN)
    private = generate_key(tmp_path / "afp.key")
    body = {
        "name": "AFP",
        "public_key_pem": public_path(private).read_text(),
        "jurisdictions": ["au:Australian  Federal Police"],
    }
    added = admin.post("/api/trust", json=body, headers={"X-CSRF-Token": csrf})
    assert added.status_code == 201, added.text
    assert added.json()["jurisdictions"] == ["AU:Australian Federal Police"]
    assert admin.get("/api/trust").json()[0]["jurisdictions"] == ["AU:Australian Federal Police"]
    bad = {**body, "name": "bad", "jurisdictions": ["Australia"]}
    refused = admin.post("/api/trust", json=bad, headers={"X-CSRF-Token": csrf})
    assert refused.status_code == 422 and "COUNTRY:AGENCY" in refused.json()["detail"]
