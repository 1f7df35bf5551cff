"""Jobs from the web touch only the server's evidence folders (read) and work folder (write).

Attacks through the real HTTP API: /etc, links and ``..`` out of an evidence folder, a folder
swapped for a link after the job was queued, probes for whether a path exists, and files whose
content must never come back in an error. Also: an evidence item is added to only when asked,
and audited; ``/api/priorities/compute`` is audited and held to the roots too.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web_helpers import add_role_user, jpeg, make_app, photo, sign_in

from kaitiaki.jobs import DONE, FAILED, JobRunner, get_job
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Evidence, FileInstance, Job
from kaitiaki.users import Role

# In the header of a file outside the roots: it must never appear in any answer.
SECRET = "SECRETCOLUMN7f3a"


@pytest.fixture
def roots(tmp_path: Path) -> dict[str, Path]:
    evidence = tmp_path / "evidence"
    for name, image in (("laptop", "coffee"), ("card", "chelsea")):
        (evidence / name).mkdir(parents=True)
        (evidence / name / f"{image}.jpg").write_bytes(jpeg(photo(image)))
    outside = tmp_path / "outside"
    (outside / "folder").mkdir(parents=True)
    (outside / "folder" / "astronaut.jpg").write_bytes(jpeg(photo("astronaut")))
    secret = outside / "secret.csv"
    secret.write_text(f"{SECRET},password_hash\nroot,$6$abc\n")
    # Links planted inside the evidence folder, pointing out of it.
    (evidence / "escape").symlink_to(outside / "folder")
    (evidence / "escape.csv").symlink_to(secret)
    (evidence / "op").mkdir()
    for name in ("records.csv", "accounts.csv", "catalog.csv"):
        (evidence / "op" / name).write_text("a,b\n1,2\n")
    return {"evidence": evidence, "outside": outside, "secret": secret, "work": tmp_path / "web"}


@pytest.fixture
def app(store: Store, tmp_path: Path, roots: dict[str, Path]) -> FastAPI:
    return make_app(store, tmp_path, evidence_roots=(roots["evidence"],))


@pytest.fixture
def investigator(app: FastAPI, store: Store) -> tuple[TestClient, dict[str, str]]:
    client, csrf = sign_in(app, add_role_user(store, Role.INVESTIGATOR))
    return client, {"X-CSRF-Token": csrf}


def _scan(client: TestClient, headers: dict[str, str], **body: Any) -> Any:
    return client.post("/api/scans", json={"evidence": "ev", **body}, headers=headers)


def _analyse(client: TestClient, headers: dict[str, str], **paths: Any) -> Any:
    body = {
        "records": ["op/records.csv"],
        "accounts": "op/accounts.csv",
        "catalog": "op/catalog.csv",
        "out": "analysis",
        **paths,
    }
    return client.post("/api/analyses", json=body, headers=headers)


def _jobs(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def _run_next(store: Store, job_id: int) -> Any:
    assert JobRunner(store.url).run_once() == job_id
    job = get_job(store, job_id)
    assert job is not None
    return job


OUTSIDE_EVIDENCE = "not below the server's evidence folders"


def test_a_scan_of_etc_is_refused_and_nothing_is_queued(
    investigator: tuple[TestClient, dict[str, str]], store: Store
) -> None:
    client, headers = investigator
    refused = _scan(client, headers, roots=["/etc"])
    assert refused.status_code == 422
    assert refused.json()["detail"].startswith(f"roots: {OUTSIDE_EVIDENCE}")
    assert _jobs(store) == 0
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Evidence)) == 0


def test_links_and_dotdot_out_of_the_evidence_are_refused_alike(
    investigator: tuple[TestClient, dict[str, str]], store: Store, roots: dict[str, Path]
) -> None:
    client, headers = investigator
    evidence, outside = roots["evidence"], roots["outside"]
    attempts = [
        "/etc",
        "/no/such/folder/anywhere",
        str(evidence / "escape"),  # a link inside the root to a folder outside
        "escape",
        str(evidence / "laptop" / ".." / ".." / "outside" / "folder"),
        "../outside/folder",
        "laptop/../../outside",
        str(outside / "folder"),
        str(outside / "missing"),
        "bad\x00name",
    ]
    answers = {_scan(client, headers, roots=[a]).json()["detail"] for a in attempts}
    assert len(answers) == 1, answers
    assert answers.pop().startswith(f"roots: {OUTSIDE_EVIDENCE}")
    assert _jobs(store) == 0


def test_a_refusal_tells_nothing_about_what_lies_outside(
    investigator: tuple[TestClient, dict[str, str]], store: Store, roots: dict[str, Path]
) -> None:
    client, headers = investigator
    secret, outside = roots["secret"], roots["outside"]
    answers: dict[str, set[str]] = {}
    for field in ("records", "accounts", "catalog"):
        for probe in (
            str(secret),
            str(outside / "missing.csv"),
            "escape.csv",
            "../outside/secret.csv",
        ):
            value = [probe] if field == "records" else probe
            answer = _analyse(client, headers, **{field: value})
            assert answer.status_code == 422
            assert SECRET not in answer.text
            answers.setdefault(field, set()).add(answer.json()["detail"])
    # One text per field whether the file exists, is missing, or is reached through a link.
    assert all(len(texts) == 1 for texts in answers.values()), answers
    out = _analyse(client, headers, out=str(outside / "results"))
    assert out.status_code == 422 and "work folder" in out.json()["detail"]
    assert _jobs(store) == 0


def test_a_request_cannot_set_its_own_roots(
    investigator: tuple[TestClient, dict[str, str]], store: Store
) -> None:
    client, headers = investigator
    forged = {"evidence": ["/"], "work": "/"}
    scan = _scan(client, headers, roots=["/etc"], confinement=forged)
    analysis = _analyse(client, headers, records=["/etc/passwd"], confinement=forged)
    assert scan.status_code == analysis.status_code == 422
    assert OUTSIDE_EVIDENCE in scan.text and OUTSIDE_EVIDENCE in analysis.text
    assert _jobs(store) == 0


def test_relative_roots_are_taken_below_an_evidence_folder(
    investigator: tuple[TestClient, dict[str, str]], store: Store, roots: dict[str, Path]
) -> None:
    client, headers = investigator
    queued = _scan(client, headers, roots=["laptop"])
    assert queued.status_code == 202, queued.text
    job = _run_next(store, queued.json()["id"])
    assert job.status == DONE, job.error
    with store.session() as session:
        paths = list(session.scalars(select(FileInstance.path)))
    assert paths == [str(Path(os.path.realpath(roots["evidence"])) / "laptop" / "coffee.jpg")]


def test_a_folder_swapped_for_a_link_while_queued_is_refused_when_the_job_runs(
    investigator: tuple[TestClient, dict[str, str]], store: Store, roots: dict[str, Path]
) -> None:
    client, headers = investigator
    laptop = roots["evidence"] / "laptop"
    queued = _scan(client, headers, roots=[str(laptop)])
    assert queued.status_code == 202, queued.text
    shutil.rmtree(laptop)
    laptop.symlink_to(roots["outside"] / "folder")
    job = _run_next(store, queued.json()["id"])
    assert job.status == FAILED and job.error is not None
    assert OUTSIDE_EVIDENCE in job.error
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(FileInstance)) == 0


def test_an_input_file_swapped_for_a_link_never_echoes_its_content(
    investigator: tuple[TestClient, dict[str, str]], store: Store, roots: dict[str, Path]
) -> None:
    client, headers = investigator
    op = roots["evidence"] / "op"
    queued = _analyse(
        client,
        headers,
        records=[str(op / "records.csv")],
        accounts=str(op / "accounts.csv"),
        catalog=str(op / "catalog.csv"),
        out=str(roots["work"] / "analysis"),
    )
    assert queued.status_code == 202, queued.text
    # The first file the analysis reads: the old code named its columns in the error.
    records = op / "records.csv"
    records.unlink()
    records.symlink_to(roots["secret"])
    job = _run_next(store, queued.json()["id"])
    assert job.status == FAILED and job.error is not None
    assert SECRET not in job.error and "records: " + OUTSIDE_EVIDENCE in job.error
    assert SECRET not in client.get(f"/api/jobs/{job.id}").text
    assert not (roots["work"] / "analysis").exists()


def test_without_evidence_folders_the_web_reads_no_server_files(
    store: Store, tmp_path: Path, roots: dict[str, Path]
) -> None:
    app = make_app(store, tmp_path)
    client, csrf = sign_in(app, add_role_user(store, Role.INVESTIGATOR))
    headers = {"X-CSRF-Token": csrf}
    laptop = roots["evidence"] / "laptop"
    refused = _scan(client, headers, roots=[str(laptop)])
    assert refused.status_code == 422 and "--evidence-root" in refused.json()["detail"]
    analysis = _analyse(client, headers, records=[str(laptop / "coffee.jpg")])
    assert analysis.status_code == 422 and "--evidence-root" in analysis.json()["detail"]
    assert _jobs(store) == 0


def _files_added(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.files_added"))
        )


def test_an_evidence_item_is_added_to_only_when_asked_and_audited(
    investigator: tuple[TestClient, dict[str, str]], store: Store, roots: dict[str, Path]
) -> None:
    client, headers = investigator
    card = str(roots["evidence"] / "card")
    first = _scan(client, headers, roots=[str(roots["evidence"] / "laptop")])
    assert first.status_code == 202
    assert _run_next(store, first.json()["id"]).status == DONE
    reused = _scan(client, headers, roots=[card])
    assert reused.status_code == 422
    assert "evidence item 'ev'" in reused.json()["detail"]
    assert "add_to_existing" in reused.json()["detail"]
    added = _scan(client, headers, roots=[card], add_to_existing=True)
    assert added.status_code == 202, added.text
    job = _run_next(store, added.json()["id"])
    assert job.status == DONE, job.error
    with store.session() as session:
        evidence_id = session.scalar(select(Evidence.id).where(Evidence.name == "ev"))
        instances = session.scalar(select(func.count()).select_from(FileInstance))
    assert instances == 2
    (entry,) = _files_added(store)
    assert entry.actor == "web:investigator-user"
    assert (entry.target_type, entry.target_id) == ("evidence", str(evidence_id))
    assert entry.details is not None and entry.details["roots"] == [job.params["roots"][0]]


def _computed(store: Store) -> list[AuditEvent]:
    with store.session() as session:
        return list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "priorities.computed"))
        )


def test_priorities_compute_is_audited_and_held_to_the_roots(
    investigator: tuple[TestClient, dict[str, str]], store: Store, roots: dict[str, Path]
) -> None:
    client, headers = investigator
    outside = roots["outside"]
    refusals = {
        client.post("/api/priorities/compute", json={"workspace": w}, headers=headers).text
        for w in (str(outside), str(outside / "nowhere"), "/etc", "../outside")
    }
    assert len(refusals) == 1 and "not below the server's work folder" in refusals.pop()
    assert _computed(store) == []
    # Inside the work folder the path is let through (here to a workspace with no analysis).
    (roots["work"] / "analysis" / "workspace").mkdir(parents=True)
    inside = client.post(
        "/api/priorities/compute", json={"workspace": "analysis/workspace"}, headers=headers
    )
    assert inside.status_code == 422 and "no flagged objects" in inside.text
    done = client.post("/api/priorities/compute", json={}, headers=headers)
    assert done.status_code == 200, done.text
    (entry,) = _computed(store)
    assert entry.actor == "web:investigator-user"
    assert entry.details == {"subjects": 0, "workspace": None}
