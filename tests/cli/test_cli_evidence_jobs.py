"""``kaitiaki evidence legal-basis`` and ``kaitiaki jobs list|show|cancel``, run as a user runs
them (``$KAITIAKI_USER`` set; one change per test in a process of its own, the other calls
in-process): what the web could do and the command line could not. Each change is audited as
``cli:<that user>``; on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from typer.testing import Result

from in_process import kaitiaki
from kaitiaki.jobs import CANCELLED, QUEUED, get_job, submit
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Evidence

KAITIAKI = [sys.executable, "-m", "kaitiaki"]


def _process(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KAITIAKI_DB": url, "KAITIAKI_USER": "alice", "COLUMNS": "200"}
    return subprocess.run([*KAITIAKI, *args], capture_output=True, text=True, timeout=120, env=env)


def _run(url: str, *args: str) -> Result:
    return kaitiaki(*args, env={"KAITIAKI_DB": url, "KAITIAKI_USER": "alice"})


def _head(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.max(AuditEvent.id))) or 0


def _since(store: Store, after: int) -> list[tuple[str, str, str]]:
    with store.session() as session:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
        )
        return [(e.action, e.actor, e.target_id) for e in rows]


def _basis(store: Store, evidence_id: int) -> str | None:
    with store.session() as session:
        found = session.get(Evidence, evidence_id)
        assert found is not None
        return found.legal_basis


def test_legal_basis_from_the_command_line(store: Store, store_url: str) -> None:
    with store.session() as session:
        evidence = Evidence(name="provider-export", description="", acquired_by="test")
        session.add(evidence)
        session.flush()
        evidence_id = evidence.id
    before = _head(store)
    # Three spaces and zero-width characters are no legal basis: refused, nothing written.
    blank = _run(store_url, "evidence", "legal-basis", "provider-export", "  \u200b\u200b ")
    assert blank.exit_code == 1 and "legal basis" in blank.stderr, blank.stderr
    unknown = _run(store_url, "evidence", "legal-basis", "no-such", "search warrant 2026/117")
    assert unknown.exit_code == 1 and "no-such" in unknown.stderr
    assert _since(store, before) == [] and _basis(store, evidence_id) is None
    done = _process(
        store_url, "evidence", "legal-basis", "provider-export", "search warrant 2026/117"
    )
    assert done.returncode == 0, done.stderr
    assert _basis(store, evidence_id) == "search warrant 2026/117"
    replaced = _run(
        store_url, "evidence", "legal-basis", "provider-export", "production order 2026/9"
    )
    assert replaced.exit_code == 0 and "was: search warrant 2026/117" in replaced.stdout
    assert _since(store, before) == [
        ("evidence.legal_basis", "cli:alice", str(evidence_id)),
        ("evidence.legal_basis", "cli:alice", str(evidence_id)),
    ]
    with store.session() as session:
        last = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
        assert last.details == {"previous": "search warrant 2026/117"}


def test_jobs_list_show_and_cancel_from_the_command_line(
    store: Store, store_url: str, tmp_path: Path
) -> None:
    params = {"evidence": "queued-scan", "roots": [str(tmp_path)]}
    job_id = submit(store, "scan", params, by="web:bob")
    listed = _run(store_url, "jobs", "list")
    assert listed.exit_code == 0, listed.output
    assert f"{job_id}" in listed.stdout and "web:bob" in listed.stdout and QUEUED in listed.stdout
    shown = _run(store_url, "jobs", "show", str(job_id))
    assert shown.exit_code == 0 and f"job {job_id} (scan): {QUEUED}" in shown.stdout
    before = _head(store)
    cancelled = _process(store_url, "jobs", "cancel", str(job_id))
    assert cancelled.returncode == 0, cancelled.stderr
    job = get_job(store, job_id)
    assert job is not None and job.status == CANCELLED
    assert _since(store, before) == [("job_cancelled", "cli:alice", str(job_id))]
    # Cancelling again, or a job that does not exist: a clear error, nothing written.
    again = _run(store_url, "jobs", "cancel", str(job_id))
    assert again.exit_code == 1 and "already finished" in again.stderr
    missing = _run(store_url, "jobs", "cancel", "999999")
    assert missing.exit_code == 1 and "no job 999999" in missing.stderr
    out_of_range = _run(store_url, "jobs", "cancel", str(2**63))
    assert out_of_range.exit_code == 2  # refused by the option's bound, never reaching SQL
    assert _since(store, before) == [("job_cancelled", "cli:alice", str(job_id))]
