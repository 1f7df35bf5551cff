"""Legal holds over HTTP: placed, listed, extended and released through ``/api/holds``, each
change one audit entry as the signed-in user; the refusals the domain makes answered as 404,
409 and 422; read-only for the auditor, closed to the reviewer and the liaison; and the page and
the dashboard show them. On SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent
from kaitiaki.users import Role


def _entries(store: Store) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor, AuditEvent.target_id)
            .where(AuditEvent.action.like("hold.%"))
            .order_by(AuditEvent.id)
        )
        return [(str(a), str(b), str(c)) for a, b, c in rows]


def test_place_list_extend_and_release(
    app: FastAPI, store: Store, login: Any, scanned: dict[str, Any]
) -> None:
    client, csrf = login(Role.INVESTIGATOR)
    headers = {"X-CSRF-Token": csrf}
    preservation = {
        "target_type": "evidence",
        "target_id": "ev",
        "basis_kind": "preservation_request",
        "basis_text": "2703(f) request from the county sheriff",
        "reference": "PR-2026-0042",
    }
    placed = client.post("/api/holds", json=preservation, headers=headers)
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["standing"] and hold["target_id"] == str(scanned["evidence_id"])
    expires = dt.datetime.fromisoformat(hold["expires_at"])
    assert dt.timedelta(days=89) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(days=90)
    # The same hold again is a conflict; a preservation request without its reference, 422.
    assert client.post("/api/holds", json=preservation, headers=headers).status_code == 409
    bare = {**preservation, "reference": None}
    assert client.post("/api/holds", json=bare, headers=headers).status_code == 422
    missing = {**preservation, "target_id": "no-such-evidence"}
    assert client.post("/api/holds", json=missing, headers=headers).status_code == 404
    past = {**preservation, "basis_kind": "court_order", "expires": "2020-01-01"}
    assert client.post("/api/holds", json=past, headers=headers).status_code == 422

    order = {
        "target_type": "evidence",
        "target_id": "ev",
        "basis_kind": "court_order",
        "basis_text": "order of the district court, case 26-CR-117",
        "expires": (dt.date.today() + dt.timedelta(days=10)).isoformat(),
    }
    court = client.post("/api/holds", json=order, headers=headers).json()
    listed = client.get("/api/holds").json()
    assert [h["id"] for h in listed] == [hold["id"], court["id"]]
    soon = client.get("/api/holds", params={"expiring_within_days": 30}).json()
    assert [h["id"] for h in soon] == [court["id"]]

    extended = client.post(f"/api/holds/{hold['id']}/extend", headers=headers)
    assert extended.status_code == 200, extended.text
    assert dt.datetime.fromisoformat(extended.json()["expires_at"]) == expires + dt.timedelta(
        days=90
    )
    assert client.post(f"/api/holds/{hold['id']}/extend", headers=headers).status_code == 409
    assert client.post(f"/api/holds/{court['id']}/extend", headers=headers).status_code == 409

    reason = {"reason": "the sheriff withdrew the request in writing"}
    released = client.post(f"/api/holds/{hold['id']}/release", json=reason, headers=headers)
    assert released.status_code == 200 and not released.json()["standing"]
    assert released.json()["released_by"] == "web:investigator-user"
    again = client.post(f"/api/holds/{hold['id']}/release", json=reason, headers=headers)
    assert again.status_code == 409
    assert client.post("/api/holds/999999/release", json=reason, headers=headers).status_code == 404
    assert [h["id"] for h in client.get("/api/holds").json()] == [court["id"]]
    everything = client.get("/api/holds", params={"all": "true"}).json()
    assert [h["id"] for h in everything] == [hold["id"], court["id"]]

    actor = "web:investigator-user"
    assert _entries(store) == [
        ("hold.placed", actor, str(hold["id"])),
        ("hold.placed", actor, str(court["id"])),
        ("hold.extended", actor, str(hold["id"])),
        ("hold.released", actor, str(hold["id"])),
    ]

    # The page lists standing holds (all with the toggle); the dashboard the one expiring soon.
    page = client.get("/holds").text
    assert f'data-hold-id="{court["id"]}"' in page and f'data-hold-id="{hold["id"]}"' not in page
    assert f'data-hold-id="{hold["id"]}"' in client.get("/holds?all=true").text
    dashboard = client.get("/dashboard").text
    assert f'data-testid="expiring-hold" data-hold-id="{court["id"]}"' in dashboard


def test_auditor_reads_others_are_refused(
    app: FastAPI, store: Store, login: Any, scanned: dict[str, Any]
) -> None:
    auditor, csrf = login(Role.AUDITOR)
    assert auditor.get("/api/holds").json() == []
    page = auditor.get("/holds")
    assert page.status_code == 200 and 'data-testid="hold-form"' not in page.text
    # The dashboard says so when nothing expires soon.
    assert 'data-testid="expiring-holds-empty"' in auditor.get("/dashboard").text
    body = {
        "target_type": "evidence",
        "target_id": "ev",
        "basis_kind": "court_order",
        "basis_text": "order of the district court, case 26-CR-118",
    }
    headers = {"X-CSRF-Token": csrf}
    assert auditor.post("/api/holds", json=body, headers=headers).status_code == 403
    for role in (Role.REVIEWER, Role.LIAISON):
        other, _ = login(role)
        assert other.get("/api/holds").status_code == 403
        assert other.get("/holds").status_code == 403
    admin, admin_csrf = login(Role.ADMIN)
    placed = admin.post("/api/holds", json=body, headers={"X-CSRF-Token": admin_csrf})
    assert placed.status_code == 201 and placed.json()["expires_at"] is None
    assert 'data-testid="hold-form"' in admin.get("/holds").text
    reason = {"reason": "the order was set aside on appeal"}
    path = f"/api/holds/{placed.json()['id']}/release"
    assert auditor.post(path, json=reason, headers=headers).status_code == 403
