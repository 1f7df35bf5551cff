"""The queue: submit, claim, report, finish and cancel, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from jobs_samples import Counting, audit_actions, registered
from sqlalchemy import update

from kaitiaki.audit import verify_log
from kaitiaki.jobs import (
    CANCELLED,
    DONE,
    QUEUED,
    RUNNING,
    JobParamsError,
    JobRunner,
    cancel,
    claims,
    get_job,
    list_jobs,
    submit,
)
from kaitiaki.store import Store
from kaitiaki.store.models import Job


@pytest.fixture
def counting() -> Iterator[Counting]:
    with registered(Counting()) as kind:
        yield kind


def test_submit_claim_report_finish(store: Store, counting: Counting) -> None:
    job_id = submit(store, "test_count", {"n": 3}, by="alice")
    queued = get_job(store, job_id)
    assert queued is not None and queued.status == QUEUED and queued.params == {"n": 3, "fail": ""}
    assert queued.created_by == "alice" and queued.created_at.tzinfo is not None

    claim = claims.claim_next(store)
    assert claim is not None and claim.id == job_id and claim.attempt == 1
    assert claims.claim_next(store) is None, "one queued job is claimed once"
    running = get_job(store, job_id)
    assert running is not None and running.status == RUNNING and running.started_at is not None

    assert claims.report(store, claim, 2, 3, "two of three")
    mid = get_job(store, job_id)
    assert mid is not None and (mid.done, mid.total, mid.message) == (2, 3, "two of three")
    assert mid.fraction == pytest.approx(2 / 3)

    assert claims.finish(store, claim, DONE, message="done", done=3, total=3, result={"x": 1})
    done = get_job(store, job_id)
    assert done is not None and done.status == DONE and done.result == {"x": 1}
    assert done.finished and done.finished_at is not None and done.fraction == 1.0
    assert not claims.report(store, claim, 3, 3, "late"), "a finished job takes no more progress"
    assert audit_actions(store, job_id) == [
        ("job_submitted", "alice"),
        ("job_start", "alice"),
        ("job_done", "alice"),
    ]
    assert verify_log(store).ok


def test_list_jobs_newest_first(store: Store, counting: Counting) -> None:
    ids = [submit(store, "test_count", {"n": 1}, by=f"user{i}") for i in range(4)]
    assert [j.id for j in list_jobs(store)] == ids[::-1]
    assert [j.id for j in list_jobs(store, limit=2)] == ids[:1:-1]
    assert get_job(store, 10_000) is None


@pytest.mark.parametrize(
    ("kind", "params", "field"),
    [
        ("no_such_kind", {}, "kind"),
        ("test_count", {"n": 0}, "n"),
        ("scan", {"roots": ["/"]}, "evidence"),
        ("scan", {"evidence": "e"}, "roots"),
        ("scan", {"evidence": "e", "roots": ["/no/such/place"]}, "roots"),
        ("scan", {"evidence": "e", "roots": ["/" + "x" * 5000]}, "roots"),
        ("scan", {"evidence": "e", "roots": ["/"], "workers": True}, "workers"),
        ("scan", {"evidence": "e", "roots": ["/"], "workers": 0}, "workers"),
        ("scan", {"evidence": "e", "roots": ["/"], "hash_sets": ["nope"]}, "hash_sets"),
        ("scan", {"evidence": "e", "roots": ["/"], "rootz": ["/"]}, "rootz"),
        ("scan", {"evidence": "", "roots": ["/"]}, "evidence"),
        (
            "analyse",
            {"records": "/no/file", "accounts": "a", "catalog": "c", "out": "o"},
            "records",
        ),
        (
            "analyse",
            {"records": __file__, "accounts": __file__, "catalog": __file__, "out": "o"}
            | {"engine": "hadoop"},
            "engine",
        ),
        ("refer", {"analysis": "/no/such/analysis", "out": "o"}, "analysis"),
        ("import_hash_set", {"name": "x"}, "path"),
    ],
)
def test_bad_params_are_refused_at_submit(
    store: Store, counting: Counting, kind: str, params: dict[str, object], field: str
) -> None:
    with pytest.raises(ValueError, match=rf"^{field}: ") as raised:
        submit(store, kind, params, by="alice")
    assert isinstance(raised.value, JobParamsError) and raised.value.field == field
    assert list_jobs(store) == [], "nothing is stored for a refused job"


def test_import_params_name_the_field(store: Store, tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    listing.write_text("d41d8cd98f00b204e9800998ecf8427e\n")
    base = {"path": str(listing), "name": "set"}
    for extra, field in (
        ({"format": "xml"}, "format"),
        ({"profile": "nonsense"}, "profile"),
        ({"threshold": 999}, "threshold"),
        ({"path": str(tmp_path / "missing.txt")}, "path"),
    ):
        with pytest.raises(JobParamsError, match=rf"^{field}: "):
            submit(store, "import_hash_set", base | extra, by="alice")
    with pytest.raises(ValueError, match=r"^by: "):
        submit(store, "import_hash_set", base, by=" ")


def test_people_with_nothing_running_go_first(store: Store, counting: Counting) -> None:
    first, second = (submit(store, "test_count", {"n": 1}, by="alice") for _ in range(2))
    bobs = submit(store, "test_count", {"n": 1}, by="bob")
    claimed = claims.claim_next(store)
    assert claimed is not None and claimed.id == first
    following = claims.claim_next(store)
    assert following is not None and following.id == bobs, "bob does not wait behind alice"
    last = claims.claim_next(store)
    assert last is not None and last.id == second


def test_cancel_a_queued_job_it_never_runs(store: Store, counting: Counting) -> None:
    job_id = submit(store, "test_count", {"n": 2}, by="alice")
    assert cancel(store, job_id, by="bob")
    assert not cancel(store, job_id, by="bob"), "a finished job cannot be cancelled again"
    assert JobRunner(store.url).run_once() is None
    job = get_job(store, job_id)
    assert job is not None and job.status == CANCELLED and "bob" in job.message
    assert counting.runs[job_id] == 0
    assert audit_actions(store, job_id)[-1] == ("job_cancelled", "bob")
    assert not cancel(store, 9999, by="bob")


def test_a_runner_presumed_dead_loses_its_job(store: Store, counting: Counting) -> None:
    """The attempt number fences off a runner whose job was recovered and claimed again."""
    job_id = submit(store, "test_count", {"n": 2}, by="alice")
    old = claims.claim_next(store)
    assert old is not None
    with store.session() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(heartbeat_at=claims.now() - timedelta(minutes=10))
        )
    runner = JobRunner(store.url, lease=60)
    assert runner.recover() == [job_id]
    new = claims.claim_next(store)
    assert new is not None and new.attempt == old.attempt + 1
    assert not claims.report(store, old, 1, 2, "stale runner")
    assert not claims.heartbeat(store, old)
    assert not claims.finish(store, old, DONE, message="done", done=2, total=2)
    assert claims.finish(store, new, DONE, message="done", done=2, total=2)
    job = get_job(store, job_id)
    assert job is not None and job.status == DONE and job.attempts == 2
    runner.stop()
