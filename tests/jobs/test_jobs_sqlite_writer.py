"""A job whose own work holds SQLite's one write lock (a hash-set import writing its entries in
one transaction) still reports progress: the progress write waits, and when SQLite gives up
waiting, that report is skipped, never the job failed for it. (Seen in CI: an import under
load outlasted the 30 s busy timeout and the job failed on its progress row.)"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from kaitiaki.jobs import DONE, JobContext, JobKind, JobRunner, get_job, register, submit
from kaitiaki.jobs.kinds import unregister
from kaitiaki.store import Store, db, open_store


def _hold_the_writer(ctx: JobContext, params: dict[str, Any]) -> dict[str, Any]:
    with ctx.store.session() as session:
        # The job's own write transaction, open while it reports (as an import's is).
        session.execute(text("CREATE TABLE IF NOT EXISTS scratch (n INTEGER)"))
        session.execute(text("INSERT INTO scratch (n) VALUES (1)"))
        ctx.stage("writing", 1, 3)  # written at once: waits on the lock the job holds
        ctx.progress(2, 3)
    ctx.stage("written", 3, 3)
    return {"rows": 1}


@pytest.fixture
def short_busy_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    # The store waits 30 s for a busy database; a tenth of a second here shows the same.
    pragmas = db._sqlite_pragmas

    def shorter(connection: Any, record: Any) -> None:
        pragmas(connection, record)
        cursor = connection.cursor()
        cursor.execute("PRAGMA busy_timeout=100")
        cursor.close()

    monkeypatch.setattr(db, "_sqlite_pragmas", shorter)


@pytest.fixture
def kind() -> Iterator[str]:
    register(
        JobKind("test_hold_writer", "holds the writer", False, lambda s, p: p, _hold_the_writer)
    )
    yield "test_hold_writer"
    unregister("test_hold_writer")


def test_progress_is_skipped_while_the_job_holds_the_writer(
    tmp_path: Path, short_busy_wait: None, kind: str
) -> None:
    store: Store = open_store(f"sqlite:///{tmp_path / 'k.db'}")
    job_id = submit(store, kind, {}, by="alice")
    runner = JobRunner(store.url, workers=1, lease=2.0, progress_interval=0.0)
    assert runner.run_once() == job_id
    job = get_job(store, job_id)
    assert job is not None and job.status == DONE, job.error if job else None
    assert job.result == {"rows": 1}
    # The reports made after the write committed went through.
    assert (job.done, job.total) == (3, 3)
    with store.session() as session:
        assert session.execute(text("SELECT n FROM scratch")).scalars().all() == [1]
