"""The retention policy deletes exactly what it says, keeps what is held or referred, and a
dry run changes nothing; the job kind runs it through the real job runner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from holds_samples import actions, add_hold, small_world, table_counts
from sqlalchemy import select, update

from kaitiaki.jobs import DONE, JobRunner, get_job, submit
from kaitiaki.jobs.params import JobParamsError
from kaitiaki.legal.retention import (
    DEFAULT_POLICY,
    RetentionError,
    RetentionPolicy,
    apply_retention,
    load_policy,
    policy_from_env,
    queue_due_retention,
)
from kaitiaki.store import Store
from kaitiaki.store.models import (
    Account,
    CyberTipReport,
    Evidence,
    Job,
    Referral,
    ReferralSubject,
    Subject,
)

YEAR = RetentionPolicy(
    accounts_days=365, subjects_days=365, evidence_days=365, reports_days=365, drafts_days=30
)


def _refer(store: Store, subject: str) -> None:
    with store.session() as s:
        s.add(Referral(id=f"REF-{subject}", agency="NZ Police"))
        s.flush()
        s.add(ReferralSubject(subject_id=subject, referral_id=f"REF-{subject}"))


def _left(store: Store) -> dict[str, set[str]]:
    with store.session() as s:
        return {
            "account": set(s.scalars(select(Account.account_id))),
            "subject": set(s.scalars(select(Subject.id))),
            "evidence": {str(i) for i in s.scalars(select(Evidence.id))},
            "report": {str(i) for i in s.scalars(select(CyberTipReport.id))},
        }


def test_policy_files(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text("[retention]\naccounts_days = 365\nevidence_days = 730\ndrafts_days = 30\n")
    assert load_policy(path) == RetentionPolicy(
        accounts_days=365, evidence_days=730, drafts_days=30
    )
    assert DEFAULT_POLICY.keeps_everything and not load_policy(path).keeps_everything
    assert policy_from_env({}) == DEFAULT_POLICY
    assert policy_from_env({"KAITIAKI_RETENTION_POLICY": str(path)}).evidence_days == 730
    for text, why in [
        ("[retention]\naccount_days = 1\n", "unknown setting"),
        ("[retention]\naccounts_days = 0\n", "between 1 and"),
        ("[retention]\naccounts_days = true\n", "whole number"),
        ("[retention]\naccounts_days = '1'\n", "whole number"),
        ("accounts_days = 1\n", r"\[retention\] table"),
        ("[retention\n", "cannot read"),
    ]:
        path.write_text(text)
        with pytest.raises(RetentionError, match=why):
            load_policy(path)


def test_retention_deletes_exactly_what_the_policy_says(store: Store) -> None:
    world = small_world(store)
    held = add_hold(store, "account", "acct-1")  # covers acct-1 and its subject S-1
    _refer(store, "S-2")  # keeps S-2 and its account acct-3
    before = table_counts(store)

    dry = apply_retention(store, YEAR, actor="cli:alice", dry_run=True)
    after = table_counts(store)
    assert after.pop("audit_events") == before.pop("audit_events") + 1
    assert after == before
    plan = {k: (r.to_delete, r.held, r.referred) for k, r in dry.kinds.items()}
    evidence = sorted([str(world.laptop), str(world.phone)], key=lambda v: (len(v), v))
    assert plan == {
        "account": (["acct-2", "acct-4"], {"acct-1": [held]}, ["acct-3"]),
        "subject": ([], {"S-1": [held]}, ["S-2"]),
        "evidence": (evidence, {}, []),
        "report": ([str(world.report)], {}, []),
    }
    (entry,) = actions(store, "retention.dry_run")
    assert entry["actor"] == "cli:alice"
    assert entry["details"]["counts"]["account"] == {
        "to_delete": 2,
        "deleted": 0,
        "held": 1,
        "referred": 1,
    }

    done = apply_retention(store, YEAR, actor="cli:alice", dry_run=False)
    assert {k: r.deleted for k, r in done.kinds.items()} == {
        "account": ["acct-2", "acct-4"],
        "subject": [],
        "evidence": evidence,
        "report": [str(world.report)],
    }
    assert _left(store) == {
        "account": {"acct-1", "acct-3"},
        "subject": {"S-1", "S-2"},
        "evidence": set(),
        "report": set(),
    }
    deleted = [e["target"] for e in actions(store, "retention.deleted")]
    assert deleted == [
        ("account", "acct-2"),
        ("account", "acct-4"),
        *(("evidence", e) for e in evidence),
        ("report", str(world.report)),
    ]
    assert all(e["actor"] == "cli:alice" for e in actions(store, "retention.deleted"))
    (applied,) = actions(store, "retention.applied")
    assert applied["details"]["counts"]["evidence"]["deleted"] == 2


def test_a_subject_goes_once_its_accounts_are_gone(store: Store) -> None:
    small_world(store)
    # Recent activity on acct-2 keeps S-1 by "last activity"; acct-4 has no subject.
    recent = datetime.now(UTC) - timedelta(days=10)
    with store.session() as s:
        s.execute(update(Account).where(Account.account_id == "acct-2").values(last_seen=recent))
    result = apply_retention(
        store, RetentionPolicy(accounts_days=365, subjects_days=365), actor="t", dry_run=False
    )
    assert result.kinds["account"].deleted == ["acct-1", "acct-3", "acct-4"]
    assert result.kinds["subject"].deleted == ["S-2"]
    assert _left(store)["subject"] == {"S-1"}


def test_what_is_young_or_unconfigured_stays(store: Store) -> None:
    small_world(store, old=datetime.now(UTC) - timedelta(days=100))
    before = _left(store)
    assert not any(
        r.to_delete for r in apply_retention(store, YEAR, actor="t", dry_run=False).kinds.values()
    )
    result = apply_retention(store, DEFAULT_POLICY, actor="t", dry_run=False)
    assert not any(r.to_delete for r in result.kinds.values())
    assert _left(store) == before and actions(store, "retention.deleted") == []


def test_a_hold_placed_during_the_run_still_counts(store: Store) -> None:
    small_world(store)
    placed: list[int] = []

    def hold_the_next(done: int, total: int, message: str) -> None:
        if message == "account acct-1":
            placed.append(add_hold(store, "account", "acct-2"))

    result = apply_retention(
        store,
        RetentionPolicy(accounts_days=365),
        actor="t",
        dry_run=False,
        progress=hold_the_next,
    )
    assert result.kinds["account"].deleted == ["acct-1", "acct-3", "acct-4"]
    assert result.kinds["account"].held == {"acct-2": placed}
    assert _left(store)["account"] == {"acct-2"}


def test_the_job_kind_runs_through_the_real_runner(store: Store) -> None:
    world = small_world(store)
    add_hold(store, "evidence", str(world.laptop))
    with pytest.raises(JobParamsError, match="keeps everything"):
        submit(store, "retention", {}, by="cli:alice")
    with pytest.raises(JobParamsError, match="unknown parameter"):
        submit(store, "retention", {"evidence_days": 1, "days": 3}, by="cli:alice")
    job_id = submit(store, "retention", {"evidence_days": 365}, by="cli:alice")
    runner = JobRunner(store.url, workers=1)
    try:
        assert runner.run_once() == job_id
    finally:
        runner.stop()
    job = get_job(store, job_id)
    assert job is not None and job.status == DONE, job and job.error
    assert job.result is not None
    assert job.result["counts"]["evidence"] == {
        "to_delete": 1,
        "deleted": 1,
        "held": 1,
        "referred": 0,
    }
    assert _left(store)["evidence"] == {str(world.laptop)}
    assert [e["actor"] for e in actions(store, "retention.deleted")] == ["cli:alice"]


def test_the_daily_schedule_queues_one_job_a_day(store: Store) -> None:
    assert queue_due_retention(store, policy=DEFAULT_POLICY) is None
    policy = RetentionPolicy(drafts_days=30)
    first = queue_due_retention(store, policy=policy)
    assert first is not None
    assert queue_due_retention(store, policy=policy) is None  # queued already
    with store.session() as s:
        s.execute(update(Job).where(Job.id == first).values(status="done"))
    assert queue_due_retention(store, policy=policy) is None  # ran today
    later = datetime.now(UTC) + timedelta(days=1, minutes=1)
    second = queue_due_retention(store, policy=policy, now=later)
    assert second is not None and second != first
    with store.session() as s:
        job = s.get(Job, second)
        assert job is not None and job.created_by == "kaitiaki:scheduler"
        assert job.params["drafts_days"] == 30 and job.params["dry_run"] is False
    submitted = actions(store, "job_submitted")
    assert [e["actor"] for e in submitted] == ["kaitiaki:scheduler"] * 2
