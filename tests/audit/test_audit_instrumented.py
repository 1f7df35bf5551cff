"""Actions that change records write one entry in their own transaction; failures write none."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from audit_samples import cli, entries

from kaitiaki.audit import verify_log
from kaitiaki.hashsets import import_hash_set
from kaitiaki.hashsets.entry import HashSetError
from kaitiaki.priority.score import PriorityError, override, prioritise
from kaitiaki.refer.service import ReferralConflictError, change_status
from kaitiaki.store import Store
from kaitiaki.store.models import Account, Referral, Subject
from kaitiaki.users import Scope


def _subject(store: Store, subject_id: str) -> None:
    at = datetime(2020, 1, 1, tzinfo=UTC)
    with store.session() as session:
        session.add(Subject(id=subject_id, country="NZ", reason="synthetic"))
        session.add(
            Account(
                account_id=f"acct-{subject_id}",
                subject_id=subject_id,
                views=1,
                flagged_files=1,
                categories="1",
                first_seen=at,
                last_seen=at,
            )
        )


def test_priority_override_is_audited(store: Store) -> None:
    _subject(store, "S1")
    prioritise(store, actor="test:setup")
    before = len(entries(store))
    with pytest.raises(PriorityError):
        override(store, "S1", "high", " ", "alice")
    assert len(entries(store)) == before
    override(store, "S1", "very-high", "disclosed abuse in interview", "alice")
    [event] = entries(store)[before:]
    assert (event.actor, event.action, event.target_type, event.target_id) == (
        "alice",
        "priority.override",
        "subject",
        "S1",
    )
    assert event.reason == "disclosed abuse in interview"
    assert event.details is not None and event.details["tier"] == "very high"
    assert verify_log(store).ok


def test_status_change_is_audited_and_a_refused_skip_is_not(store: Store) -> None:
    with store.session() as session:
        session.add(Referral(id="REF-1", agency="Synthetic Police", country="NZ"))
    operator = Scope.operator()
    change_status(
        store, "REF-1", "sent", actor="liaison", scope=operator, note="sent by secure mail"
    )
    with pytest.raises(ReferralConflictError):
        change_status(
            store, "REF-1", "arrest", actor="liaison", scope=operator, note="skipping ahead"
        )
    [event] = entries(store)
    assert (event.actor, event.action, event.target_id) == ("liaison", "referral.status", "REF-1")
    assert event.reason == "sent by secure mail"
    assert event.details is not None
    assert (event.details["from"], event.details["to"]) == ("draft", "sent")
    assert verify_log(store).ok


def test_hash_set_import_is_audited_and_a_failed_one_is_not(
    sqlite_store: Store, tmp_path: Path
) -> None:
    good = tmp_path / "set.txt"
    good.write_text("d41d8cd98f00b204e9800998ecf8427e\n0cc175b9c0f1b6a831c399e269772661\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(HashSetError):
        import_hash_set(sqlite_store, empty, "empty", "list", actor="cli:bob")
    assert entries(sqlite_store) == []
    row = import_hash_set(sqlite_store, good, "own", "list", actor="cli:bob")
    # The import, then the retroactive match it queues for the new entries.
    event, queued = entries(sqlite_store)
    assert (queued.actor, queued.action) == ("cli:bob", "job_submitted")
    assert (event.actor, event.action, event.target_id) == (
        "cli:bob",
        "hashset.imported",
        str(row.id),
    )
    assert event.details is not None and event.details["entries"] == 2
    assert event.details["name"] == "own"


def test_hash_set_import_on_the_cli_is_audited_as_the_cli_user(
    sqlite_store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "set.txt"
    path.write_text("d41d8cd98f00b204e9800998ecf8427e\n")
    done = subprocess.run(
        [
            *cli("hashset"),
            "hashset",
            "import",
            str(path),
            "--name",
            "own",
            "--format",
            "list",
            "--db",
            sqlite_store.url,
        ],
        env={**os.environ, "KAITIAKI_USER": "carol"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [(e.actor, e.action) for e in entries(sqlite_store)] == [
        ("cli:carol", "hashset.imported"),
        ("cli:carol", "job_submitted"),
    ]


def test_unlink_is_audited_with_the_cli_user(sqlite_store: Store) -> None:
    env = {**os.environ, "KAITIAKI_USER": "alice"}
    args = ["operation", "unlink", "acct-b", "acct-a", "--reason", "checked: two different people"]
    args += ["--by", "dave"]
    done = subprocess.run(
        [*cli("operation"), *args, "--db", sqlite_store.url],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [event] = entries(sqlite_store)
    assert (event.actor, event.action, event.target_type) == (
        "cli:alice",
        "link.rejected",
        "account_link",
    )
    assert event.target_id == "acct-a|acct-b" and event.reason == "checked: two different people"
    assert event.details == {"decided_by": "dave", "reasons": ["manual"]}


def test_each_referral_built_is_audited(sqlite_store: Store, tmp_path: Path) -> None:
    from kaitiaki.operation.analyse import analyse_operation
    from kaitiaki.refer.package import build_referrals
    from kaitiaki.refer.signing import generate_key
    from kaitiaki.simulate.operation import simulate_operation

    sim = tmp_path / "sim"
    # Small: a handful of referrals shows each one audited as well as many would.
    simulate_operation(sim, accounts=100, flagged_accounts=10, events=1000, seed=5)
    import_hash_set(sqlite_store, sim / "hashset.json", "operation-set", "vics", actor="cli:t")
    out = tmp_path / "analysis"
    analyse_operation(
        sqlite_store,
        [sim / "records.csv"],
        sim / "accounts.csv",
        sim / "catalog.csv",
        out,
        actor="test:setup",
    )
    key = generate_key(tmp_path / "k.pem")
    batch = build_referrals(
        sqlite_store, out / "workspace", tmp_path / "packages", key_path=key, built_by="tester"
    )
    built = [e for e in entries(sqlite_store) if e.action == "referral.built"]
    assert len(batch) > 0
    assert sorted(e.target_id for e in built) == sorted(p.referral_id for p in batch)
    assert {e.actor for e in built} == {"tester"}
    assert verify_log(sqlite_store).ok
