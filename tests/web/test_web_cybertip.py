"""The provider's desk over HTTP: a CyberTipline report drafted from a really analysed simulated
operation, revised, its document downloaded and checked against NCMEC's XSD, submitted (a job,
run by the real job runner against the stand-in NCMEC on loopback) until it is finished and on
a year's legal hold; and who may do what. On SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_server import analyse
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from kaitiaki.cybertip.credentials import set_credentials
from kaitiaki.cybertip.profile import set_profile
from kaitiaki.cybertip.schema import annotation_names, validate
from kaitiaki.cybertip.standin import StandIn, serve_in_thread
from kaitiaki.jobs import DONE, JobRunner, get_job
from kaitiaki.legal.holds import list_holds
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AuditEvent
from kaitiaki.users import Role

USER, PASSWORD = "esp-web-user", "Not-A-Real-Password-web-7c1"


@pytest.fixture
def analysis(store: Store, simulated_operation: Path, tmp_path: Path) -> Path:
    """The simulated operation analysed into the app's store, under the server's work root
    (where the draft form's analysis folder is allowed to be)."""
    return analyse(store, simulated_operation, tmp_path / "web" / "analysis")


@pytest.fixture
def standin(
    store: Store, monkeypatch: pytest.MonkeyPatch, credential_keys: None
) -> Iterator[StandIn]:
    """NCMEC's stand-in served on loopback, its URL and credentials set as a provider sets them."""
    served = StandIn(USER, PASSWORD)
    with serve_in_thread(served.app) as url:
        monkeypatch.setenv("KAITIAKI_CYBERTIP_URL", url)
        set_credentials(store, USER, PASSWORD, production=False, actor="test:setup")
        yield served


def _profile(store: Store) -> None:
    set_profile(
        store,
        actor="test:setup",
        first_name="Ana",
        last_name="Trust",
        email="ana.trust@example.org",
        esp_name="ExampleCloud",
        esp_service="Example Drive",
    )


def _subjects(store: Store) -> list[str]:
    with store.session() as session:
        found = session.scalars(
            select(Account.subject_id).where(Account.subject_id.is_not(None)).distinct()
        )
        return sorted(str(s) for s in found)


def _draft(client: TestClient, csrf: str, store: Store, analysis: Path, **extra: Any) -> Any:
    """Draft the first subject that has events on flagged files (the domain says which not)."""
    for subject in _subjects(store):
        body = {"subject_id": subject, "analysis": str(analysis), **extra}
        response = client.post("/api/cybertip/reports", json=body, headers={"X-CSRF-Token": csrf})
        if response.status_code == 201:
            return response.json()
        assert response.status_code == 422, response.text
    raise AssertionError("no subject of the analysis could be reported")


def _run_jobs(store: Store) -> None:
    runner = JobRunner(store.url, workers=1)
    while runner.run_once() is not None:
        pass


def test_draft_revise_download_submit_and_hold(
    app: FastAPI, store: Store, login: Any, analysis: Path, standin: StandIn
) -> None:
    client, csrf = login(Role.INVESTIGATOR)
    headers = {"X-CSRF-Token": csrf}
    # No provider profile yet: the answer names the command that sets one.
    subject = _subjects(store)[0]
    body = {"subject_id": subject, "analysis": str(analysis)}
    refused = client.post("/api/cybertip/reports", json=body, headers=headers)
    assert refused.status_code == 422 and "kaitiaki report profile set" in refused.text
    _profile(store)

    report = _draft(client, csrf, store, analysis, escalate="the child is at immediate risk")
    assert report["state"] == "draft" and report["escalate"].startswith("the child")
    assert report["files"] and all(len(f["sha256"]) == 64 for f in report["files"])
    report_id = report["id"]
    listed = client.get("/api/cybertip/reports", params={"state": "draft"}).json()
    assert [r["id"] for r in listed] == [report_id]
    assert client.get("/api/cybertip/reports", params={"state": "finished"}).json() == []

    names = list(annotation_names("reportAnnotations"))[:2]
    revised = client.post(
        f"/api/cybertip/reports/{report_id}/revise",
        json={"annotations": names, "remove_escalation": True},
        headers=headers,
    )
    assert revised.status_code == 200, revised.text
    assert revised.json()["annotations"] == names and revised.json()["escalate"] is None
    assert revised.json()["document_sha256"] != report["document_sha256"]

    document = client.get(f"/api/cybertip/reports/{report_id}/document")
    assert document.status_code == 200
    assert document.headers["content-type"].startswith("application/xml")
    validate(document.content, what="report")  # NCMEC's own XSD
    assert all(f"<{n}" in document.text for n in names)
    assert "escalateToHighPriority" not in document.text

    queued = client.post(f"/api/cybertip/reports/{report_id}/submit", headers=headers)
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["id"]
    assert queued.json()["kind"] == "cybertip"
    _run_jobs(store)
    job = get_job(store, job_id)
    assert job is not None and job.status == DONE, job
    finished = client.get(f"/api/cybertip/reports/{report_id}").json()
    assert finished["state"] == "finished"
    assert finished["ncmec_report_id"] in standin.reports
    assert standin.reports[finished["ncmec_report_id"]].document == document.content
    held = [
        h for h in list_holds(store) if (h.target_type, h.target_id) == ("report", str(report_id))
    ]
    assert (
        len(held) == 1
        and held[0].basis == "ncmec_report"
        and held[0].created_by == "web:investigator-user"
    )
    on_page = client.get("/api/holds").json()
    assert [h["id"] for h in on_page] == [held[0].id]

    # A finished report is not changed, sent again or retracted.
    for path, json_body in (("revise", {"annotations": []}), ("submit", None), ("retract", None)):
        again = client.post(
            f"/api/cybertip/reports/{report_id}/{path}", json=json_body, headers=headers
        )
        assert again.status_code == 409, (path, again.text)

    # The pages show what the API says, the document escaped for review.
    page = client.get(f"/reports/{report_id}")
    assert page.status_code == 200
    assert 'data-testid="report-state">finished<' in page.text
    assert "&lt;report" in page.text and "<report " not in page.text
    assert f'data-report-id="{report_id}"' in client.get("/reports").text
    assert f"report {report_id}" in client.get("/holds").text
    with store.session() as session:
        viewed = session.scalars(
            select(AuditEvent.target_id).where(
                AuditEvent.action == "view", AuditEvent.target_type == "cybertip_report"
            )
        ).all()
    assert str(report_id) in viewed


def test_unknown_reports_bad_folders_and_bad_annotations(
    app: FastAPI, store: Store, login: Any, analysis: Path, tmp_path: Path
) -> None:
    _profile(store)
    client, csrf = login(Role.ADMIN)
    headers = {"X-CSRF-Token": csrf}
    assert client.get("/api/cybertip/reports/424242").status_code == 404
    assert client.get("/api/cybertip/reports/424242/document").status_code == 404
    assert client.post("/api/cybertip/reports/424242/submit", headers=headers).status_code == 404
    assert client.get("/reports/424242").status_code == 404
    subject = _subjects(store)[0]
    for folder in (
        "/etc",
        str(tmp_path / "nowhere"),
        str(tmp_path),
    ):  # outside; absent; no workspace
        body = {"subject_id": subject, "analysis": folder}
        response = client.post("/api/cybertip/reports", json=body, headers=headers)
        assert response.status_code == 422, (folder, response.text)
    body = {"subject_id": subject, "analysis": str(analysis), "annotations": ["notAnAnnotation"]}
    response = client.post("/api/cybertip/reports", json=body, headers=headers)
    assert response.status_code == 422
    # No credentials: submit says how to set them rather than queueing a job bound to fail.
    report = _draft(client, csrf, store, analysis)
    response = client.post(f"/api/cybertip/reports/{report['id']}/submit", headers=headers)
    assert response.status_code == 422 and "kaitiaki report credentials" in response.text
    annotations = client.get("/api/cybertip/annotations").json()
    assert annotations["report"] == list(annotation_names("reportAnnotations"))


def test_who_may_read_and_who_may_file(
    app: FastAPI, store: Store, login: Any, analysis: Path
) -> None:
    _profile(store)
    investigator, csrf = login(Role.INVESTIGATOR)
    report_id = _draft(investigator, csrf, store, analysis)["id"]
    auditor, auditor_csrf = login(Role.AUDITOR)
    assert auditor.get("/api/cybertip/reports").status_code == 200
    assert auditor.get(f"/api/cybertip/reports/{report_id}").status_code == 200
    assert auditor.get(f"/reports/{report_id}").status_code == 200
    # The auditor reads; the page offers no change, and the API refuses one.
    assert 'data-testid="submit-form"' not in auditor.get(f"/reports/{report_id}").text
    assert 'data-testid="draft-form"' not in auditor.get("/reports").text
    for path in ("revise", "submit", "retract"):
        response = auditor.post(
            f"/api/cybertip/reports/{report_id}/{path}",
            json={},
            headers={"X-CSRF-Token": auditor_csrf},
        )
        assert response.status_code == 403, path
    for role in (Role.REVIEWER, Role.LIAISON):
        other, other_csrf = login(role)
        assert other.get("/api/cybertip/reports").status_code == 403
        assert other.get(f"/api/cybertip/reports/{report_id}/document").status_code == 403
        assert other.get(f"/reports/{report_id}").status_code == 403
        response = other.post(
            f"/api/cybertip/reports/{report_id}/submit", headers={"X-CSRF-Token": other_csrf}
        )
        assert response.status_code == 403
    assert 'data-testid="submit-form"' in investigator.get(f"/reports/{report_id}").text
