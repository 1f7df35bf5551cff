"""Scheduled exchange fetches: durations, defaults per API, the job runner queueing each due fetch
exactly once however many runners look, ``exchange fetch --due`` for cron, and the schedule and
next fetch on the command line. The package's sample exchange and list files: no network."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from in_process import kaitiaki
from kaitiaki.exchanges import ExchangeError, add_exchange, exchange_status
from kaitiaki.exchanges.manage import set_exchange_enabled
from kaitiaki.exchanges.schedule import SCHEDULER, queue_due, set_schedule, take_due
from kaitiaki.exchanges.timing import describe, parse_every
from kaitiaki.jobs import DONE, JobRunner
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Exchange, Job, utcnow

ACTOR = "test:analyst"


@pytest.fixture(autouse=True)
def _keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAITIAKI_KEYS", str(tmp_path / "keys"))
    monkeypatch.delenv("KAITIAKI_SECRET_KEY", raising=False)


def _fetch_jobs(store: Store) -> list[tuple[str, str]]:
    """(exchange, created_by) of every fetch_exchange job, oldest first."""
    with store.session() as session:
        rows = session.execute(
            select(Job.params, Job.created_by).where(Job.kind == "fetch_exchange").order_by(Job.id)
        )
        return [(params["exchange"], by) for params, by in rows]


def _fetch_statuses(store: Store) -> list[str]:
    with store.session() as session:
        query = select(Job.status).where(Job.kind == "fetch_exchange").order_by(Job.id)
        return list(session.scalars(query))


def _age(store: Store, name: str, seconds: int) -> None:
    """Make the exchange's last fetch start ``seconds`` ago."""
    with store.session() as session:
        row = session.scalars(select(Exchange).where(Exchange.name == name)).one()
        row.last_fetch_started = utcnow() - timedelta(seconds=seconds)


def test_durations_are_read_as_people_write_them() -> None:
    assert [parse_every(t) for t in ("15m", "1h", "1d", "2w", "90s", "120", " 2H ")] == [
        900,
        3600,
        86400,
        1209600,
        90,
        120,
        7200,
    ]
    assert [describe(s) for s in (900, 3600, 86400, 90, None)] == [
        "15m",
        "1h",
        "1d",
        "90s",
        "by hand",
    ]
    for bad in ("", "soon", "1y", "-5m", "1.5h", "30s", "400d"):
        with pytest.raises(ExchangeError):
            parse_every(bad)


def test_network_exchanges_default_to_hourly_and_files_to_by_hand(
    store: Store, tmp_path: Path
) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text("pdq " + "a" * 64 + "\n")
    assert add_exchange(store, "sample", "sample", actor=ACTOR).fetch_every_s is None
    assert (
        add_exchange(store, "file", "local_file", path=str(listed), actor=ACTOR).fetch_every_s
        is None
    )
    ncmec = add_exchange(
        store,
        "ncmec",
        "ncmec",
        config={"environment": "NGO"},
        credentials="user:secret-password",
        actor=ACTOR,
    )
    assert ncmec.fetch_every_s == 3600
    # Never fetched: due at once.
    assert ncmec.next_fetch_at is not None and ncmec.next_fetch_at <= utcnow()
    hourly = add_exchange(store, "hourly-sample", "sample", every=3600, actor=ACTOR)
    assert hourly.fetch_every_s == 3600
    with pytest.raises(ExchangeError, match="between"):
        add_exchange(store, "too-often", "sample", every=5, actor=ACTOR)


def test_two_runners_queue_each_due_fetch_exactly_once(store: Store) -> None:
    add_exchange(store, "a", "sample", every=3600, actor=ACTOR)
    add_exchange(store, "b", "sample", every=900, actor=ACTOR)
    add_exchange(store, "by-hand", "sample", actor=ACTOR)
    add_exchange(store, "off", "sample", every=900, actor=ACTOR)
    set_exchange_enabled(store, "off", False, actor=ACTOR)

    # Two servers' runners sharing the database look at the same moment, twice over.
    runners = [JobRunner(store.url, periodic=(queue_due,)) for _ in range(2)]
    start = threading.Barrier(len(runners))

    def look(runner: JobRunner) -> None:
        start.wait()
        runner.run_periodic()
        runner.run_periodic()

    threads = [threading.Thread(target=look, args=(r,)) for r in runners]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(_fetch_jobs(store)) == [("a", SCHEDULER), ("b", SCHEDULER)]
        # Queued and not yet run: not due again whatever the clock says.
        _age(store, "b", 10_000)
        assert take_due(store, queue_as=SCHEDULER) == []
        queued = exchange_status(store, "b").job
        assert queued is not None and queued.status == "queued"
        shown = kaitiaki("exchange", "status", "b", "--db", store.url).stdout
        assert f"job: job {queued.id} queued" in shown
        assert "next fetch: after the queued fetch" in shown

        # Run both; b's schedule (15 minutes) comes round before a's (an hour).
        while runners[0].run_once() is not None:
            pass
        assert set(_fetch_statuses(store)) == {DONE}
        assert [exchange_status(store, n).last_fetch_status for n in "ab"] == ["ok", "ok"]
        assert take_due(store, queue_as=SCHEDULER) == []
        later = utcnow() + timedelta(seconds=901)
        assert [t.name for t in take_due(store, now=later, queue_as=SCHEDULER)] == ["b"]
        assert [t.name for t in take_due(store, now=later, queue_as=SCHEDULER)] == []
    finally:
        for runner in runners:
            runner.stop()
    with store.session() as session:
        submitted = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "job_submitted")
        ).all()
    assert submitted and set(submitted) == {SCHEDULER}


def test_the_runner_a_server_starts_fetches_due_exchanges_by_itself(sqlite_store: Store) -> None:
    add_exchange(sqlite_store, "sample", "sample", every=3600, actor=ACTOR)
    runner = JobRunner(
        sqlite_store.url,
        workers=1,
        poll_interval=0.05,
        periodic=(queue_due,),
        periodic_interval=0.05,
    )
    runner.start()
    try:
        deadline = time.monotonic() + 120
        while exchange_status(sqlite_store, "sample").last_fetch_status != "ok":
            assert time.monotonic() < deadline, "the scheduled fetch did not run"
            time.sleep(0.05)
    finally:
        assert runner.stop()
    view = exchange_status(sqlite_store, "sample")
    assert view.items > 0
    # One fetch: the runner kept looking, and the exchange was not due again for an hour.
    assert _fetch_jobs(sqlite_store) == [("sample", SCHEDULER)]
    assert view.next_fetch_at is not None and view.next_fetch_at > utcnow() + timedelta(minutes=55)
    assert _fetch_statuses(sqlite_store) == [DONE]


def test_schedule_command_changes_and_audits_the_schedule(store: Store) -> None:
    add_exchange(store, "sample", "sample", actor=ACTOR)
    env = {"KAITIAKI_USER": "alice"}
    done = kaitiaki("exchange", "schedule", "sample", "--every", "15m", "--db", store.url, env=env)
    assert done.exit_code == 0, done.stderr
    assert "every 15m" in done.stdout
    assert exchange_status(store, "sample").fetch_every_s == 900
    shown = kaitiaki("exchange", "status", "sample", "--db", store.url)
    assert "schedule: every 15m" in shown.stdout
    assert "next fetch: due now" in shown.stdout
    listed = kaitiaki("exchange", "list", "--db", store.url)
    assert "due now" in listed.stdout

    off = kaitiaki("exchange", "schedule", "sample", "--off", "--db", store.url, env=env)
    assert off.exit_code == 0, off.stderr
    assert exchange_status(store, "sample").fetch_every_s is None
    for wrong in (["--every", "soon"], [], ["--every", "1h", "--off"]):
        refused = kaitiaki("exchange", "schedule", "sample", *wrong, "--db", store.url)
        assert refused.exit_code == 1 and "error:" in refused.stderr
    with store.session() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.details).where(
                AuditEvent.action == "exchange.scheduled"
            )
        ).all()
    assert [(a, d["fetch_every_s"]) for a, d in rows] == [("cli:alice", 900), ("cli:alice", None)]
    # Setting the schedule it already has changes nothing, and writes nothing.
    set_schedule(store, "sample", None, actor=ACTOR)
    with store.session() as session:
        count = session.scalars(
            select(AuditEvent.id).where(AuditEvent.action == "exchange.scheduled")
        ).all()
    assert len(count) == 2


def test_add_takes_every_and_fetch_due_serves_cron(store: Store) -> None:
    env = {"KAITIAKI_USER": "cron"}
    added = kaitiaki(
        "exchange", "add", "sample", "--api", "sample", "--every", "1h", "--db", store.url
    )
    assert added.exit_code == 0, added.stderr
    assert "every 1h" in added.stdout
    kaitiaki("exchange", "add", "manual", "--api", "sample", "--db", store.url)
    assert exchange_status(store, "manual").fetch_every_s is None

    first = kaitiaki("exchange", "fetch", "--due", "--db", store.url, env=env)
    assert first.exit_code == 0, first.stderr
    assert "fetched sample" in first.stdout and "manual" not in first.stdout
    assert exchange_status(store, "sample").last_fetch_status == "ok"
    assert exchange_status(store, "manual").last_fetch_status is None
    again = kaitiaki("exchange", "fetch", "--due", "--db", store.url, env=env)
    assert again.exit_code == 0
    assert "no exchange is due: the next is sample at " in again.stdout
    with store.session() as session:
        actors = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "exchange.fetched")
        ).all()
    assert actors == ["cli:cron"]
    for wrong in ([], ["sample", "--due"]):
        refused = kaitiaki("exchange", "fetch", *wrong, "--db", store.url)
        assert refused.exit_code == 1 and "either" in refused.stderr


def test_a_disabled_exchange_is_not_scheduled_but_fetches_by_hand(store: Store) -> None:
    add_exchange(store, "sample", "sample", every=900, actor=ACTOR)
    set_exchange_enabled(store, "sample", False, actor=ACTOR)
    view = exchange_status(store, "sample")
    assert view.next_fetch_at is None
    assert take_due(store, queue_as=SCHEDULER) == []
    assert take_due(store) == []
    assert "disabled" in kaitiaki("exchange", "list", "--db", store.url).stdout

    fetched = kaitiaki("exchange", "fetch", "sample", "--db", store.url)
    assert fetched.exit_code == 0, fetched.stderr
    view = exchange_status(store, "sample")
    assert view.last_fetch_status == "ok" and view.items > 0
    assert _fetch_jobs(store) == []
