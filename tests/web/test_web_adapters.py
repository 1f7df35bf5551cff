"""The web can do what the CLI can: import outcomes and enrichment sheets, keep the trust store
of partners' keys, and record series, victims and offenders. Each over real HTTP through the
app, audited as the signed-in user, refused to a role without the permission; an outcomes
import by a liaison holds to its jurisdictions."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from web_helpers import AGENCY

from kaitiaki.store import Store
from kaitiaki.store.models import (
    AuditEvent,
    Enrichment,
    Evidence,
    Outcome,
    Referral,
    ReferralEvent,
    Subject,
    TrustedKey,
    Victim,
)
from kaitiaki.users import Role

OWN = "KAI-NZ-OWN"
FOREIGN = "KAI-AU-FOREIGN"


def _head(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.max(AuditEvent.id))) or 0


def _since(store: Store, after: int) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
        )
        return [(e.action, e.actor, e.target_id) for e in rows]


def _upload(client: TestClient, csrf: str, path: str, name: str, data: bytes) -> Any:
    return client.post(path, files={"file": (name, data)}, headers={"X-CSRF-Token": csrf})


@pytest.fixture
def referrals(store: Store) -> None:
    with store.session() as session:
        session.add_all(
            [
                Referral(id=OWN, agency=AGENCY, country="NZ", status="sent"),
                Referral(
                    id=FOREIGN, agency="Australian Federal Police", country="AU", status="sent"
                ),
            ]
        )


def _stored_outcomes(store: Store) -> list[tuple[str | None, str, int, str]]:
    with store.session() as session:
        return sorted(
            (o.referral_id, o.kind, o.count, o.source) for o in session.scalars(select(Outcome))
        )


def test_a_liaison_imports_outcomes_of_its_jurisdiction_audited_as_itself(
    store: Store, login: Any, referrals: None
) -> None:
    client, csrf = login(Role.LIAISON)
    before = _head(store)
    sheet = f"referral_id,status,arrested,note\n{OWN},acknowledged,2,arrests made\n".encode()
    response = _upload(client, csrf, "/api/outcomes/import", "../../June outcomes.csv", sheet)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "rows": 1,
        "status_changes": 1,
        "arrested": 2,
        "children_safeguarded": 0,
    }
    assert _since(store, before) == [
        ("referral.status", "web:liaison-user", OWN),
        ("referral.outcome", "web:liaison-user", OWN),
    ]
    # The client's name, made safe, is the source: never a path of the server or the client's.
    assert _stored_outcomes(store) == [(OWN, "arrested", 2, "June_outcomes.csv")]


def test_a_liaison_cannot_import_outcomes_for_another_jurisdiction(
    store: Store, login: Any, referrals: None, tmp_path: Any
) -> None:
    client, csrf = login(Role.LIAISON)
    before = _head(store)
    # Its own row first: the whole file is refused, the own row too.
    sheet = (
        "referral_id,status,arrested,note\n"
        f"{OWN},acknowledged,1,ours\n"
        f"{FOREIGN},acknowledged,5,not ours\n"
    ).encode()
    response = _upload(client, csrf, "/api/outcomes/import", "outcomes.csv", sheet)
    assert response.status_code == 422
    detail = response.json()["detail"]
    # Refused exactly like a referral that does not exist, naming the row, not the server path.
    assert detail == f"outcomes.csv: row 2 (line 3): unknown referral {FOREIGN!r}"
    assert str(tmp_path) not in response.text
    assert _stored_outcomes(store) == []
    with store.session() as session:
        assert session.scalars(select(ReferralEvent)).all() == []
        assert {r.id: r.status for r in session.scalars(select(Referral))} == {
            OWN: "sent",
            FOREIGN: "sent",
        }
    assert _since(store, before) == []
    # The upload does not stay behind on the server.
    assert not [p for p in (tmp_path / "web" / "uploads").rglob("*") if p.is_file()]


def test_an_investigator_imports_outcomes_and_a_reviewer_is_refused(
    store: Store, login: Any, referrals: None
) -> None:
    sheet = f"referral_id,children_safeguarded\n{FOREIGN},3\n".encode()
    reviewer, csrf = login(Role.REVIEWER)
    assert _upload(reviewer, csrf, "/api/outcomes/import", "o.csv", sheet).status_code == 403
    auditor, csrf = login(Role.AUDITOR)
    assert _upload(auditor, csrf, "/api/outcomes/import", "o.csv", sheet).status_code == 403
    assert _stored_outcomes(store) == []
    investigator, csrf = login(Role.INVESTIGATOR)
    before = _head(store)
    response = _upload(investigator, csrf, "/api/outcomes/import", "o.csv", sheet)
    assert response.status_code == 200, response.text
    assert _since(store, before) == [("referral.outcome", "web:investigator-user", FOREIGN)]
    assert _stored_outcomes(store) == [(FOREIGN, "children_safeguarded", 3, "o.csv")]


def test_an_outcomes_upload_past_the_sheet_bound_is_refused_before_it_is_read(
    store: Store, login: Any, referrals: None, monkeypatch: Any
) -> None:
    from kaitiaki.web.api import imports

    monkeypatch.setattr(imports, "MAX_BYTES", 1000)
    client, csrf = login(Role.INVESTIGATOR)
    sheet = b"referral_id,note\n" + f"{OWN},{'x' * 2000}\n".encode()
    response = _upload(client, csrf, "/api/outcomes/import", "big.csv", sheet)
    assert response.status_code == 413
    assert _stored_outcomes(store) == []


def test_enrichment_imports_over_the_web_audited_and_refused_without_prioritise(
    store: Store, login: Any
) -> None:
    with store.session() as session:
        session.add(Subject(id="S-1", country="NZ", agency=AGENCY))
    sheet = b"subject_id,access_to_children,notes\nS-1,yes,coach\n"
    for role in (Role.REVIEWER, Role.LIAISON, Role.AUDITOR):
        client, csrf = login(role)
        assert _upload(client, csrf, "/api/enrichment/import", "e.csv", sheet).status_code == 403
    client, csrf = login(Role.INVESTIGATOR)
    bad = _upload(client, csrf, "/api/enrichment/import", "e.csv", b"subject_id\nS-404\n")
    assert bad.status_code == 422
    assert bad.json()["detail"] == "e.csv: row 1 (line 2): unknown subject 'S-404'"
    before = _head(store)
    response = _upload(client, csrf, "/api/enrichment/import", "partner sheet.csv", sheet)
    assert response.status_code == 200, response.text
    assert response.json() == {"rows": 1, "values": 2}
    assert _since(store, before) == [
        ("enrichment.imported", "web:investigator-user", "partner_sheet.csv")
    ]
    with store.session() as session:
        stored = {(e.indicator, e.value, e.source) for e in session.scalars(select(Enrichment))}
    assert stored == {
        ("access_to_children", "yes", "partner_sheet.csv"),
        ("notes", "coach", "partner_sheet.csv"),
    }


def _pem() -> str:
    key = Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def test_the_trust_store_over_the_web(store: Store, login: Any) -> None:
    admin, csrf = login(Role.ADMIN)
    headers = {"X-CSRF-Token": csrf}
    pem = _pem()
    body = {"name": "NZ Police DFU", "public_key_pem": pem, "note": "read over the phone"}
    before = _head(store)
    added = admin.post("/api/trust", json=body, headers=headers)
    assert added.status_code == 201, added.text
    assert added.json()["added_by"] == "web:admin-user"
    assert _since(store, before) == [("trust.key_added", "web:admin-user", "NZ Police DFU")]
    # The same key under another name, or the same name in other case: 409, nothing written.
    before = _head(store)
    again = {**body, "name": "someone else"}
    assert admin.post("/api/trust", json=again, headers=headers).status_code == 409
    other = {**body, "name": "nz police dfu", "public_key_pem": _pem()}
    assert admin.post("/api/trust", json=other, headers=headers).status_code == 409
    private = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    refused = admin.post(
        "/api/trust",
        json={**body, "name": "leaky", "public_key_pem": private.decode()},
        headers=headers,
    )
    assert refused.status_code == 422 and "private key" in refused.json()["detail"]
    junk = {**body, "name": "junk", "public_key_pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n"}
    assert admin.post("/api/trust", json=junk, headers=headers).status_code == 422
    assert _since(store, before) == []
    # The list: admins, investigators and auditors; changes: admins only.
    for role in (Role.INVESTIGATOR, Role.AUDITOR):
        listed = login(role)[0].get("/api/trust")
        assert listed.status_code == 200
        assert [k["name"] for k in listed.json()] == ["NZ Police DFU"]
    auditor, _ = login(Role.AUDITOR)
    for role in (Role.REVIEWER, Role.LIAISON):
        assert login(role)[0].get("/api/trust").status_code == 403
    for role in (Role.INVESTIGATOR, Role.REVIEWER, Role.LIAISON):
        client, token = login(role)
        assert (
            client.post("/api/trust", json=body, headers={"X-CSRF-Token": token}).status_code == 403
        )
        assert (
            client.delete("/api/trust/NZ Police DFU", headers={"X-CSRF-Token": token}).status_code
            == 403
        )
    assert auditor.delete("/api/trust/NZ Police DFU").status_code == 403
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(TrustedKey)) == 1
    assert admin.delete("/api/trust/nobody", headers=headers).status_code == 404
    before = _head(store)
    removed = admin.delete("/api/trust/NZ Police DFU", headers=headers)
    assert removed.status_code == 200, removed.text
    assert _since(store, before) == [("trust.key_removed", "web:admin-user", "NZ Police DFU")]
    assert admin.get("/api/trust").json() == []


def test_series_victims_and_offenders_over_the_web(store: Store, login: Any) -> None:
    reviewer, csrf = login(Role.REVIEWER)
    headers = {"X-CSRF-Token": csrf}
    me = "web:reviewer-user"

    def post(path: str, body: dict[str, Any]) -> Any:
        return reviewer.post(path, json=body, headers=headers)

    before = _head(store)
    made = post("/api/series", {"name": "Series-7", "description": "beach set"})
    assert made.status_code == 201, made.text
    assert made.json()["identified"] is False
    assert post("/api/series", {"name": "Series-7"}).status_code == 409
    victim = post("/api/victims", {"id": "V-7-1", "series": "Series-7", "age_band": "8-12"})
    assert victim.status_code == 201, victim.text
    assert victim.json()["series"] == "Series-7"
    assert post("/api/victims", {"id": "Jane Doe"}).status_code == 422  # a name, not an id
    assert post("/api/victims", {"id": "V-9", "series": "No-Such"}).status_code == 404
    # Identifying the only victim identifies the series: two entries, both by the reviewer.
    changed = post("/api/victims/V-7-1", {"identified": True, "reason": "safeguarded today"})
    assert changed.status_code == 200 and changed.json()["identified"] is True
    assert post("/api/victims/V-404", {"identified": True}).status_code == 404
    assert post("/api/offenders", {"id": "O-7-1", "series": "Series-7"}).status_code == 201
    assert post("/api/offenders/O-7-1", {"identified": True}).status_code == 200
    updated = post("/api/series/Series-7", {"description": "beach set, 2019"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["identified"] is True and updated.json()["victims_identified"] == 1
    assert post("/api/series/No-Such", {"identified": True}).status_code == 404
    assert _since(store, before) == [
        ("series.created", me, "Series-7"),
        ("victim.created", me, "V-7-1"),
        ("victim.updated", me, "V-7-1"),
        ("series.updated", me, "Series-7"),
        ("offender.created", me, "O-7-1"),
        ("offender.updated", me, "O-7-1"),
        ("series.updated", me, "Series-7"),
    ]
    listed = reviewer.get("/api/series").json()
    assert [(s["name"], s["victims"], s["offenders"]) for s in listed] == [("Series-7", 1, 1)]
    others = [login(role) for role in (Role.LIAISON, Role.AUDITOR)]
    before = _head(store)  # after the sign-ins, which are audited too
    for client, token in others:
        h = {"X-CSRF-Token": token}
        assert client.post("/api/series", json={"name": "X"}, headers=h).status_code == 403
        assert client.post("/api/victims/V-7-1", json={}, headers=h).status_code == 403
        assert client.post("/api/offenders", json={"id": "O-2"}, headers=h).status_code == 403
    assert _since(store, before) == []
    with store.session() as session:
        assert [v.id for v in session.scalars(select(Victim))] == ["V-7-1"]


def test_the_legal_basis_route_goes_through_the_domain(
    store: Store, login: Any, scanned: dict[str, Any]
) -> None:
    client, csrf = login(Role.INVESTIGATOR)
    evidence_id = scanned["evidence_id"]
    path = f"/api/evidence/{evidence_id}/legal-basis"
    headers = {"X-CSRF-Token": csrf}
    assert (
        client.post(
            path, json={"legal_basis": "   \u200b\u200b\u200b"}, headers=headers
        ).status_code
        == 422
    )
    before = _head(store)
    response = client.post(path, json={"legal_basis": "warrant  2026/117"}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["legal_basis"] == "warrant 2026/117"
    assert _since(store, before) == [
        ("evidence.legal_basis", "web:investigator-user", str(evidence_id))
    ]
    assert (
        client.post(
            "/api/evidence/999999/legal-basis",
            json={"legal_basis": "warrant 2026/118"},
            headers=headers,
        ).status_code
        == 404
    )
    with store.session() as session:
        assert session.get(Evidence, evidence_id).legal_basis == "warrant 2026/117"  # type: ignore[union-attr]


@given(st.text(max_size=300))
def test_an_uploaded_file_name_never_leaves_its_folder(client_name: str) -> None:
    from kaitiaki.web.api.imports import MAX_NAME, safe_name

    name = safe_name(client_name, "fallback.csv")
    folder = Path("/work-root/uploads/abc")
    assert (folder / name).parent == folder
    assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name), name
    assert len(name) <= MAX_NAME
