"""Received cases on the web: a liaison imports a partner's signed package, works the case to an
arrest and downloads the signed outcome file; everyone else is held to their role and reach.

Packages are real: written and signed by ``tests/receive/package_samples.py`` as ``kaitiaki
refer`` writes them, uploaded as ZIPs, verified against the trust store. The attacks: a liaison
of another jurisdiction gets exactly the answer about a case that does not exist, on every
route; an auditor reads but changes nothing; a reviewer gets nothing; a package addressed to
another jurisdiction is refused and leaves the store as it was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from package_samples import US_AGENCY, document, key_pair, make_package, subject
from sqlalchemy import func, select
from web_helpers import add_role_user, make_app, sign_in

from kaitiaki.receive.importing import import_package
from kaitiaki.refer.envelope import OUTCOME_TYPE, open_sealed
from kaitiaki.refer.outcome_file import read_outcome_file
from kaitiaki.refer.signing import generate_key, public_path
from kaitiaki.refer.trust import add_trusted_key
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AuditEvent, CaseStep, HashSet, ReceivedCase, Subject
from kaitiaki.users import Role
from kaitiaki.users.scope import Scope

US = f"US:{US_AGENCY}"
AU = "AU:Australian Federal Police"
REFERENCE = "KAI-US-20261203-1"
SUBJECT = "S-00000000000000a1"
HOSTILE = "<script>alert('contact')</script>"


@dataclass(frozen=True)
class Partner:
    """The sending unit's key (trusted here) and the server's own key (signs outcome files)."""

    sender_key: Path
    server_public: Path
    folder: Path


@pytest.fixture
def app(store: Store, tmp_path: Path) -> FastAPI:
    # Overrides conftest's: this server has a signing key of its own, in the test's folder.
    key = generate_key(tmp_path / "server-keys" / "server.pem")
    return make_app(store, tmp_path, signing_key=key)


@pytest.fixture
def partner(store: Store, tmp_path: Path) -> Partner:
    sender_key, sender_public = key_pair(tmp_path, "lead-unit")
    add_trusted_key(store, "NZ lead unit", sender_public, actor="test:setup")
    return Partner(sender_key, public_path(tmp_path / "server-keys" / "server.pem"), tmp_path)


def _doc(reference: str = REFERENCE, **kwargs: Any) -> dict[str, Any]:
    doc = document(reference, **kwargs)
    # Hostile text from a signed package is still only text on our pages.
    doc["agency"]["contact_reference"] = HOSTILE
    return doc


def _zip(partner: Partner, name: str, key: Path | None = None, **kwargs: Any) -> bytes:
    folder = make_package(
        partner.folder / "packages" / name, key or partner.sender_key, _doc(**kwargs)
    )
    archive = shutil.make_archive(str(partner.folder / "zips" / name), "zip", folder.parent, name)
    return Path(archive).read_bytes()


def _upload(client: TestClient, csrf: str, data: bytes, **fields: str) -> Any:
    return client.post(
        "/api/received/packages",
        files={"file": ("referral package.zip", data, "application/zip")},
        data=fields,
        headers={"X-CSRF-Token": csrf},
    )


def _snapshot(store: Store) -> dict[str, Any]:
    with store.session() as s:
        return {
            "cases": sorted(
                (c.id, c.status, c.assigned_to, c.package_version)
                for c in s.scalars(select(ReceivedCase))
            ),
            "steps": s.scalar(select(func.count()).select_from(CaseStep)),
            "hash_sets": s.scalar(select(func.count()).select_from(HashSet)),
        }


def _entries(store: Store, after: int = 0) -> list[tuple[str, str, str | None]]:
    with store.session() as s:
        return [
            (e.actor, e.action, e.target_id)
            for e in s.scalars(
                select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
            )
        ]


def _head(store: Store) -> int:
    with store.session() as s:
        return s.scalar(select(func.max(AuditEvent.id))) or 0


def test_a_liaison_imports_works_and_reports_a_case(
    app: FastAPI, store: Store, login: Any, partner: Partner
) -> None:
    client, csrf = login(Role.LIAISON, US)
    officer = client.get("/api/auth/me").json()["name"]
    actor = f"web:{officer}"
    headers = {"X-CSRF-Token": csrf}
    package = _zip(partner, "v1")
    head = _head(store)

    created = _upload(client, csrf, package)
    assert created.status_code == 200, created.text
    result = created.json()
    assert result["outcome"] == "created" and result["reference"] == REFERENCE
    assert result["sender"] == "NZ lead unit" and result["subjects"] == 1
    assert result["ip_capture_events"] == 1 and result["flagged_files"] == 1
    case_id = result["case_id"]
    again = _upload(client, csrf, package)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    assert again.json()["case_id"] == case_id
    # A newer version is merged with its differences listed; an older one is refused whole.
    revised = [subject(SUBJECT, email="pat@example.org")]
    merged = _upload(client, csrf, _zip(partner, "v2", version=2, subjects=revised))
    assert merged.status_code == 200 and merged.json()["outcome"] == "merged", merged.text
    assert any("pat@example.org" in d["detail"] for d in merged.json()["differences"])
    other_v1 = [subject(SUBJECT, account="acct-other")]
    stale = _upload(client, csrf, _zip(partner, "v1-other", subjects=other_v1))
    assert stale.status_code == 409 and "not newer" in stale.text
    assert "pat@example.org" in client.get(f"/received/{case_id}").text
    # The upload is not kept: the store holds what it said and the audit log its hash.
    assert [p for p in (partner.folder / "web" / "uploads").rglob("*") if p.is_file()] == []

    [row] = client.get("/api/received").json()
    assert row["id"] == case_id and row["priority_tier"] == "high" and row["status"] == "received"
    detail = client.get(f"/api/received/{case_id}").json()
    assert detail["sender_fingerprint"] == result["key_fingerprint"].replace(":", "")
    assert detail["contact_reference"] == HOSTILE
    assert [s["subject_id"] for s in detail["subject_docs"]] == [SUBJECT]
    assert [s["kind"] for s in detail["steps"]] == ["received"]
    # The same case by the sender's reference.
    assert client.get(f"/api/received/{REFERENCE}").json()["id"] == case_id

    today = date.today().isoformat()
    refused = {
        "arrest without a count": {"kind": "arrest", "date": today},
        "unknown step": {"kind": "teleported", "date": today},
        "subject not in the case": {"kind": "arrest", "count": 1, "subject_id": "S-NOT-HERE"},
        "future date": {"kind": "legal_request", "date": "2999-01-01"},
        "no further action without a reason": {"kind": "no_further_action"},
    }
    for why, body in refused.items():
        answer = client.post(f"/api/received/{case_id}/steps", json=body, headers=headers)
        assert answer.status_code == 422, (why, answer.text)
    steps = [
        {"kind": "legal_request", "date": today, "detail": "ISP: Example Telecom, ref 77"},
        {"kind": "arrest", "date": today, "count": 1, "subject_id": SUBJECT},
        {"kind": "children_safeguarded", "date": today, "count": 2},
    ]
    statuses = []
    for body in steps:
        done = client.post(f"/api/received/{case_id}/steps", json=body, headers=headers)
        assert done.status_code == 200, done.text
        statuses.append(done.json()["status"])
    assert statuses == ["investigating", "arrest", "arrest"]
    note = client.post(
        f"/api/received/{case_id}/notes",
        json={"text": "subscriber's flat shared with a brother"},
        headers=headers,
    )
    assert note.status_code == 200 and note.json()["steps"][-1]["kind"] == "note"
    assert (
        client.post(
            f"/api/received/{case_id}/notes", json={"text": "   "}, headers=headers
        ).status_code
        == 422
    )
    auditor = add_role_user(store, Role.AUDITOR)
    cannot = client.post(f"/api/received/{case_id}/assign", json={"user": auditor}, headers=headers)
    assert cannot.status_code == 422 and "cannot work" in cannot.text
    nobody = client.post(
        f"/api/received/{case_id}/assign", json={"user": "nobody"}, headers=headers
    )
    assert nobody.status_code == 422
    assigned = client.post(
        f"/api/received/{case_id}/assign", json={"user": officer}, headers=headers
    )
    assert assigned.status_code == 200 and assigned.json()["assigned_to"] == officer

    download = client.get(f"/api/received/{case_id}/outcomes")
    assert download.status_code == 200, download.text
    assert f'filename="outcome-{REFERENCE}.json"' in download.headers["content-disposition"]
    outcome = read_outcome_file(
        Path("outcome.json"), store=None, pinned=partner.server_public, data=download.content
    )
    assert outcome.referral_id == REFERENCE and outcome.issued_by == actor
    # By date: a step dated today (midday UTC) may come before today's import.
    assert sorted(s.kind for s in outcome.steps) == [
        "arrest",
        "children_safeguarded",
        "legal_request",
        "received",
    ]
    assert dict(outcome.totals) == {
        "arrested": 1,
        "children_safeguarded": 2,
        "devices_seized": 0,
        "no_further_action": 0,
    }
    # Notes and step details stay here.
    payload = json.dumps(
        open_sealed(
            Path("outcome.json"),
            OUTCOME_TYPE,
            store=None,
            pinned=partner.server_public,
            data=download.content,
        ).payload
    )
    assert "Example Telecom" not in payload and "brother" not in payload

    written = [e for e in _entries(store, head) if e[0] != "test:setup"]  # the auditor added
    assert {a for a, _, _ in written} == {actor}
    assert [x for _, x, _ in written if x != "view"] == [
        "hashset.imported",
        "job_submitted",  # the sender's flagged files, matched against what is stored
        "received.created",
        "received.merged",
        *["received.step"] * 3,
        "received.note",
        "received.assigned",
        "received.outcomes_exported",
    ]
    assert "view" in {x for _, x, _ in written}


def test_unknown_senders_and_bad_packages_are_refused_whole(
    app: FastAPI, store: Store, login: Any, partner: Partner
) -> None:
    client, csrf = login(Role.LIAISON, US)
    stranger, _ = key_pair(partner.folder, "stranger")
    unknown = _zip(partner, "unknown", key=stranger)
    before = _snapshot(store)
    refused = _upload(client, csrf, unknown)
    assert refused.status_code == 422 and "not in the trust store" in refused.text
    # Messages name the file the person sent, never a path of the server.
    assert str(partner.folder) not in refused.text and "referral_package.zip" in refused.text
    no_reason = _upload(client, csrf, unknown, accept_unknown_sender="true", reason=" ")
    assert no_reason.status_code == 422 and "needs a reason" in no_reason.text
    not_zip = _upload(client, csrf, b"PK not really a zip at all")
    assert not_zip.status_code == 422
    # A liaison of another jurisdiction cannot import a package addressed to this one.
    other, other_csrf = login(Role.LIAISON, AU)
    elsewhere = _upload(other, other_csrf, _zip(partner, "for-us"))
    assert elsewhere.status_code == 403 and "not to one of your jurisdictions" in elsewhere.text
    assert _snapshot(store) == before

    accepted = _upload(
        client, csrf, unknown, accept_unknown_sender="true", reason="fingerprint read out by phone"
    )
    assert accepted.status_code == 200, accepted.text
    case_id = accepted.json()["case_id"]
    assert client.get(f"/api/received/{case_id}").json()["unknown_sender_reason"] == (
        "fingerprint read out by phone"
    )
    page = client.get(f"/received/{case_id}")
    assert 'data-testid="unknown-sender"' in page.text and "read out by phone" in page.text


def _case(store: Store, partner: Partner) -> int:
    folder = make_package(partner.folder / "seeded", partner.sender_key, _doc())
    return import_package(store, folder, actor="test:setup", scope=Scope.operator()).case_id


def test_other_jurisdictions_and_roles_reach_nothing(
    app: FastAPI, store: Store, login: Any, partner: Partner
) -> None:
    case_id = _case(store, partner)
    body = {"kind": "arrest", "count": 3, "date": date.today().isoformat()}
    calls = [
        ("GET", f"/api/received/{case_id}", None),
        ("POST", f"/api/received/{case_id}/steps", body),
        ("POST", f"/api/received/{case_id}/notes", {"text": "probing"}),
        ("POST", f"/api/received/{case_id}/assign", {"user": "admin-user"}),
        ("GET", f"/api/received/{case_id}/outcomes", None),
    ]
    before, head = _snapshot(store), _head(store)
    attacker, csrf = login(Role.LIAISON, AU)
    headers = {"X-CSRF-Token": csrf}
    assert attacker.get("/api/received").json() == []
    assert REFERENCE not in attacker.get("/received").text
    for method, path, json_body in [*calls, ("GET", f"/api/received/{REFERENCE}", None)]:
        answer = attacker.request(method, path, json=json_body, headers=headers)
        missing = attacker.request(
            method,
            path.replace(f"/{case_id}", "/999999").replace(REFERENCE, "KAI-US-20260101-9"),
            json=json_body,
            headers=headers,
        )
        where = f"{method} {path}: {answer.status_code} {answer.text[:200]}"
        assert answer.status_code == missing.status_code == 404, where
        assert (
            answer.json()["detail"]
            .replace(f"'{case_id}'", "'999999'")
            .replace(REFERENCE, "KAI-US-20260101-9")
            == missing.json()["detail"]
        ), where
    page = attacker.get(f"/received/{case_id}")
    assert page.status_code == 404 and US_AGENCY not in page.text and REFERENCE not in page.text

    # The auditor reads (audited), changes nothing and cannot sign for the agency.
    auditor, csrf = login(Role.AUDITOR)
    for method, path, json_body in calls:
        answer = auditor.request(method, path, json=json_body, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == (200 if path.endswith(str(case_id)) else 403), path
    seen = auditor.get(f"/received/{case_id}").text
    assert REFERENCE in seen
    assert not any(
        f'data-testid="{form}"' in seen
        for form in ("step-form", "note-form", "assign-form", "outcome-download")
    )
    assert 'data-testid="package-form"' not in auditor.get("/received").text
    assert _upload(auditor, csrf, b"PK").status_code == 403
    # A reviewer has no business with referrals at all.
    reviewer, csrf = login(Role.REVIEWER)
    for method, path, json_body in [*calls, ("GET", "/api/received", None)]:
        answer = reviewer.request(method, path, json=json_body, headers={"X-CSRF-Token": csrf})
        assert answer.status_code == 403, path
    assert reviewer.get("/received").status_code == 403
    assert 'data-testid="nav-received"' not in reviewer.get("/").text

    assert _snapshot(store) == before
    # Not one entry but the sign-ins and the auditor's looks (the attacker's 404s wrote none).
    written = [(a, x) for a, x, _ in _entries(store, head) if x != "login" and a != "test:setup"]
    assert written and set(written) == {("web:auditor-user", "view")}


def test_the_pages_show_the_case_escaped_and_hits_on_our_subject(
    app: FastAPI, store: Store, login: Any, partner: Partner
) -> None:
    # Our own subject holds the account the partner's subject used: a deconfliction hit.
    with store.session() as s:
        s.add(Subject(id="S-OURS-1", country="US", agency=US_AGENCY, reason="3 events in US"))
        s.add(Account(account_id="acct-0000a1", subject_id="S-OURS-1"))
    case_id = _case(store, partner)
    client, _ = login(Role.ADMIN)
    listed = client.get("/received").text
    assert f'data-case-id="{case_id}"' in listed and "NZ lead unit" in listed
    assert 'data-testid="package-form"' in listed and 'data-testid="nav-received"' in listed
    page = client.get(f"/received/{case_id}").text
    for shown in (
        "NZ lead unit",
        "3 of 3 IP events in US",  # the attribution's reason
        "uploaded 2 flagged files",  # the sender's priority factor
        "2026-01-02T03:04:05Z",  # an IP capture event in UTC
        "2026-01-01T22:04:05-05:00",  # and in local time
        "1" * 64,  # a flagged file's SHA-256
        "operation-set",
        "our subject",
        "S-OURS-1",
    ):
        assert shown in page, shown
    assert HOSTILE not in page and "&lt;script&gt;" in page
    assert "<img" not in page
    for form in ("step-form", "note-form", "assign-form", "outcome-download"):
        assert f'data-testid="{form}"' in page, form
    ours = client.get("/subjects/S-OURS-1").text
    assert f'href="/received/{case_id}"' in ours and "shares account" in ours
    # A liaison of the case's jurisdiction may be given it; one of another may not.
    add_role_user(store, Role.LIAISON, AU)
    us_liaison = add_role_user(store, Role.LIAISON, US)
    options = client.get(f"/received/{case_id}").text.split('data-testid="assign-user"')[1]
    options = options.split("</select>")[0]
    assert us_liaison in options and "admin-user" in options and "liaison-au" not in options


def test_a_server_without_a_signing_key_says_so(
    store: Store, tmp_path: Path, partner: Partner
) -> None:
    case_id = _case(store, partner)
    name = add_role_user(store, Role.INVESTIGATOR)
    missing = tmp_path / "no-keys" / "kaitiaki-ed25519.pem"
    broken = tmp_path / "broken.pem"
    broken.write_text("not a key\n")
    head = _head(store)
    for key, message in ((missing, "has no signing key"), (broken, "cannot be read")):
        client, _ = sign_in(make_app(store, tmp_path, signing_key=key), name)
        with client:
            answer = client.get(f"/api/received/{case_id}/outcomes")
        assert answer.status_code == 409 and message in answer.json()["detail"], answer.text
        assert str(tmp_path) not in answer.text
    assert [x for _, x, _ in _entries(store, head) if x.startswith("received.")] == []
