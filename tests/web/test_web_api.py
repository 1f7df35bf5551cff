"""Referrals and liaison isolation, audited views, the audit page on a tampered log, jobs,
user management, and the application behind a real uvicorn server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import select, update
from web_helpers import PASSWORD, add_role_user

from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Outcome, Referral, ReferralSubject, Subject
from kaitiaki.users import Role

OTHER = "Australian Federal Police"


@pytest.fixture
def referrals(store: Store) -> dict[str, str]:
    with store.session() as session:
        session.add_all(
            [
                Subject(
                    id="S-NZ", country="NZ", agency="New Zealand Police", reason="12 events in NZ"
                ),
                Subject(id="S-AU", country="AU", agency=OTHER, reason="3 events in AU"),
                Referral(id="KAI-NZ-1", agency="New Zealand Police", country="NZ", status="draft"),
                Referral(id="KAI-AU-1", agency=OTHER, country="AU", status="draft"),
            ]
        )
        session.flush()
        session.add_all(
            [
                ReferralSubject(subject_id="S-NZ", referral_id="KAI-NZ-1"),
                ReferralSubject(subject_id="S-AU", referral_id="KAI-AU-1"),
            ]
        )
    return {"own": "KAI-NZ-1", "other": "KAI-AU-1"}


def test_liaison_sees_and_updates_only_its_agency(  # type: ignore[no-untyped-def]
    login, store: Store, referrals: dict[str, str]
) -> None:
    client, csrf = login(Role.LIAISON)
    listed = [r["id"] for r in client.get("/api/referrals").json()]
    assert listed == [referrals["own"]]
    assert client.get(f"/api/referrals/{referrals['other']}").status_code == 404
    assert client.get(f"/referrals/{referrals['other']}").status_code == 404
    page = client.get("/referrals").text
    assert referrals["own"] in page and referrals["other"] not in page
    headers = {"X-CSRF-Token": csrf}
    # Sending is the sending side's act: the liaison may not send its own draft either.
    refused = client.post(
        f"/api/referrals/{referrals['own']}/status", json={"status": "sent"}, headers=headers
    )
    assert refused.status_code == 403
    with store.session() as session:
        session.execute(update(Referral).values(status="sent"))
    moved = client.post(
        f"/api/referrals/{referrals['own']}/status",
        json={"status": "acknowledged"},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.json()["status"] == "acknowledged"
    skipped = client.post(
        f"/api/referrals/{referrals['own']}/status", json={"status": "arrest"}, headers=headers
    )
    assert skipped.status_code == 409
    foreign = client.post(
        f"/api/referrals/{referrals['other']}/status", json={"status": "sent"}, headers=headers
    )
    assert foreign.status_code == 404
    outcome = {"kind": "arrested", "count": 2, "subject_id": "S-NZ"}
    recorded = client.post(
        f"/api/referrals/{referrals['own']}/outcomes", json=outcome, headers=headers
    )
    assert recorded.status_code == 200
    assert [o["kind"] for o in recorded.json()["outcomes"]] == ["arrested"]
    assert 'data-testid="outcome-form"' in client.get(f"/referrals/{referrals['own']}").text
    assert client.get("/api/subjects").status_code == 403


def test_another_agencys_liaison_cannot_record_an_outcome(  # type: ignore[no-untyped-def]
    login, store: Store, referrals: dict[str, str]
) -> None:
    client, csrf = login(Role.LIAISON, f"AU:{OTHER}")
    refused = client.post(
        f"/api/referrals/{referrals['own']}/outcomes",
        json={"kind": "children_safeguarded", "count": 3},
        headers={"X-CSRF-Token": csrf},
    )
    assert refused.status_code == 404
    assert client.get(f"/referrals/{referrals['own']}").status_code == 404
    with store.session() as session:
        assert session.scalars(select(Outcome)).all() == []
        assert (
            session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.outcome")).all()
            == []
        )
    # Its own agency's referral takes the outcome.
    assert (
        client.post(
            f"/api/referrals/{referrals['other']}/outcomes",
            json={"kind": "children_safeguarded", "count": 3},
            headers={"X-CSRF-Token": csrf},
        ).status_code
        == 200
    )


def test_sign_out_is_audited(login, store: Store) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.REVIEWER)
    assert client.post("/api/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    with store.session() as session:
        entries = [
            (e.actor, e.action, e.target_id)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action != "user.added")  # the fixture's own account
                .order_by(AuditEvent.id)
            )
        ]
    name = entries[0][2]
    assert entries == [(f"web:{name}", "login", name), (f"web:{name}", "logout", name)]
    assert client.get("/api/auth/me").status_code == 401


def test_outcomes_and_views_are_audited(login, store: Store, referrals: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.INVESTIGATOR)
    both = [r["id"] for r in client.get("/api/referrals").json()]
    assert sorted(both) == sorted(referrals.values())
    assert client.get("/api/subjects/S-NZ").json()["country_reason"] == "12 events in NZ"
    detail = client.get(f"/referrals/{referrals['own']}")
    assert 'data-testid="referral-status"' in detail.text
    recorded = client.post(
        f"/api/referrals/{referrals['own']}/outcomes",
        json={"kind": "arrested", "count": 1, "subject_id": "S-NZ", "date": "2025-03-01"},
        headers={"X-CSRF-Token": csrf},
    )
    assert recorded.status_code == 200
    assert recorded.json()["outcomes"][0]["kind"] == "arrested"
    with store.session() as session:
        actions = [
            (e.action, e.target_type, e.target_id)
            for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))
            if e.action not in ("login", "user.added")
        ]
    assert actions == [
        ("view", "subject", "S-NZ"),
        ("view", "referral", referrals["own"]),
        ("referral.outcome", "referral", referrals["own"]),
    ]


def test_audit_page_names_a_tampered_entry(login, store: Store, referrals: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    investigator, _ = login(Role.INVESTIGATOR)
    for referral in referrals.values():
        investigator.get(f"/api/referrals/{referral}")
    auditor, _ = login(Role.AUDITOR)
    # The plain page lists entries without reading the whole chain; verifying is asked for.
    listed = auditor.get("/audit").text
    assert 'data-testid="audit-verify-submit"' in listed
    assert 'data-testid="audit-ok"' not in listed and 'data-testid="audit-broken"' not in listed
    intact = auditor.get("/audit", params={"verify": 1}).text
    assert 'data-testid="audit-ok"' in intact
    with store.session() as session:
        victim = session.scalars(select(AuditEvent).where(AuditEvent.action == "view")).first()
        assert victim is not None
        session.execute(
            update(AuditEvent).where(AuditEvent.id == victim.id).values(target_id="edited")
        )
    unchecked = auditor.get("/audit").text
    assert 'data-testid="audit-broken"' not in unchecked and 'class="broken"' not in unchecked
    page = auditor.get("/audit", params={"verify": 1}).text
    assert 'data-testid="audit-broken"' in page
    assert f'data-entry-id="{victim.id}" class="broken"' in page
    check = auditor.get("/api/audit/verify").json()
    assert check["ok"] is False and check["broken_ids"] == [victim.id]


def test_the_older_link_shows_only_when_older_entries_exist(login, store: Store) -> None:  # type: ignore[no-untyped-def]
    from kaitiaki.audit import record

    auditor, _ = login(Role.AUDITOR)
    assert 'data-testid="audit-older"' not in auditor.get("/audit").text
    with store.session() as session:
        for n in range(110):
            record(session, actor="cli:test", action="note", target_type="t", target_id=str(n))
    first = auditor.get("/audit").text
    assert first.count('data-testid="audit-row"') == 100
    assert 'data-testid="audit-older"' in first
    with store.session() as session:
        oldest_shown = session.scalars(
            select(AuditEvent.id).order_by(AuditEvent.id.desc()).offset(99).limit(1)
        ).one()
        older = session.scalars(select(AuditEvent.id).where(AuditEvent.id < oldest_shown)).all()
    last = auditor.get("/audit", params={"before_id": oldest_shown}).text
    assert last.count('data-testid="audit-row"') == len(older) > 0
    assert 'data-testid="audit-older"' not in last


def test_admin_manages_users_and_disabling_ends_sessions(app: FastAPI, login, store: Store) -> None:  # type: ignore[no-untyped-def]
    admin, csrf = login(Role.ADMIN)
    headers = {"X-CSRF-Token": csrf}
    weak = {"name": "carol", "role": "reviewer", "password": "short"}
    assert admin.post("/api/users", json=weak, headers=headers).status_code == 400
    reviewer, _ = login(Role.REVIEWER)
    assert reviewer.get("/api/auth/me").status_code == 200
    disabled = admin.post("/api/users/reviewer-user/disable", headers=headers)
    assert disabled.status_code == 200 and disabled.json()["disabled"] is True
    assert reviewer.get("/api/auth/me").status_code == 401


def test_a_scan_is_queued_as_a_job(login, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, csrf = login(Role.INVESTIGATOR)
    folder = tmp_path / "to-scan"
    folder.mkdir()
    (folder / "a.txt").write_text("benign")
    queued = client.post(
        "/api/scans",
        json={"evidence": "ev-job", "roots": [str(folder)], "hash_sets": None},
        headers={"X-CSRF-Token": csrf},
    )
    assert queued.status_code == 202, queued.text
    job = client.get(f"/api/jobs/{queued.json()['id']}").json()
    assert job["kind"] == "scan" and job["status"] == "queued"
    assert job["created_by"] == "web:investigator-user"
    page = client.get(f"/jobs/{job['id']}").text
    assert 'data-testid="job-progress"' in page
    missing = client.post(
        "/api/scans",
        json={"evidence": "ev-job", "roots": [str(tmp_path / "nowhere")]},
        headers={"X-CSRF-Token": csrf},
    )
    assert missing.status_code == 422


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def served(app: FastAPI) -> Iterator[str]:
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_real_server_round_trip(served: str, store: Store) -> None:
    name = add_role_user(store, Role.AUDITOR)
    with httpx.Client(base_url=served) as client:
        assert client.get("/api/stats").status_code == 401
        signed = client.post("/api/auth/login", json={"name": name, "password": PASSWORD})
        assert signed.status_code == 200
        assert "httponly" in signed.headers["set-cookie"].lower()
        stats: dict[str, Any] = client.get("/api/stats").json()
        assert stats["referrals"] == 0
        assert client.get("/openapi.json").json()["paths"]["/api/stats"]
        assert client.get("/static/css/app.css").status_code == 200
