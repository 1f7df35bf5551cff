"""Retroactive matching of an operation's catalog: a hash set imported after the analysis
flags the objects it knows, the accounts that touched them, and moves their subjects' priority.

A small operation written by hand, so every expected answer is known: four catalog objects,
four accounts (each its own person), and an analysis run while only one object was known.
"""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pyarrow.parquet as pq
from sqlalchemy import select

from kaitiaki.hashsets import import_hash_set
from kaitiaki.jobs import DONE, JobRunner, get_job
from kaitiaki.match.retro import ACTION, retro_match
from kaitiaki.operation.analyse import analyse_operation
from kaitiaki.priority import prioritise
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AuditEvent, HashSet, Job, Priority

ACTOR = "test:analyst"


def _md5(name: str) -> str:
    return hashlib.md5(name.encode()).hexdigest()


def _pdq(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def _flip(pdq: str, bits: int) -> str:
    positions = random.Random(bits).sample(range(256), bits)
    return f"{int(pdq, 16) ^ sum(1 << p for p in positions):064x}"


def _operation(root: Path) -> tuple[Path, Path, Path]:
    """Alice uploads o1 and later downloads o2; bob views o1; carol downloads o2 and shares o3;
    dave views o4, which no set ever knows."""
    catalog = root / "catalog.csv"
    catalog.write_text(
        "object_id,md5,sha1,sha256,pdq\n"
        + "".join(f"{o},{_md5(o)},,,{_pdq(o) if o == 'o3' else ''}\n" for o in ("o1", "o2"))
        + f"o3,,,,{_pdq('o3')}\no4,{_md5('o4')},,,\n"
    )
    accounts = root / "accounts.csv"
    accounts.write_text(
        "account_id,username,email,phone,device_id\n"
        + "".join(f"{a},{a},{a}@example.org,,\n" for a in ("alice", "bob", "carol", "dave"))
    )
    records = root / "records.csv"
    records.write_text(
        "timestamp,account_id,action,object_id,ip,port\n"
        "2024-03-01T10:00:00+00:00,alice,upload,o1,81.2.69.160,1000\n"
        "2024-03-20T10:00:00+00:00,alice,download,o2,81.2.69.160,1001\n"
        "2024-03-02T10:00:00+00:00,bob,view,o1,81.2.69.161,1002\n"
        "2024-03-03T10:00:00+00:00,carol,download,o2,81.2.69.162,1003\n"
        "2024-03-04T10:00:00+00:00,carol,share,o3,81.2.69.162,1004\n"
        "2024-03-05T10:00:00+00:00,dave,view,o4,81.2.69.163,1005\n"
    )
    return records, accounts, catalog


def _analysed(store: Store, root: Path) -> Path:
    known = root / "known.txt"
    known.write_text(_md5("o1") + "\n")
    import_hash_set(store, known, "known", "list", actor=ACTOR)
    records, accounts, catalog = _operation(root)
    out = root / "analysis"
    analyse_operation(store, [records], accounts, catalog, out, actor=ACTOR)
    prioritise(store, actor=ACTOR, workspace=out / "workspace")
    # The import queued a retroactive match of its own; run it (it finds no stored file).
    _run_queued(store)
    return out


def _run_queued(store: Store) -> list[dict[str, object]]:
    runner = JobRunner(store.url, workers=1, poll_interval=0.05)
    results = []
    try:
        while (job_id := runner.run_once()) is not None:
            job = get_job(store, job_id)
            assert job is not None and job.status == DONE, job and job.error
            results.append(dict(job.result or {}))
    finally:
        runner.stop()
    return results


def _accounts(store: Store) -> dict[str, tuple[int, int, str | None]]:
    with store.session() as session:
        return {
            a.account_id: (a.flagged_files, a.downloads, a.subject_id)
            for a in session.scalars(select(Account))
        }


def _scores(store: Store) -> dict[str, tuple[float, str]]:
    with store.session() as session:
        return {p.subject_id: (p.score, p.tier) for p in session.scalars(select(Priority))}


def test_an_import_flags_catalog_objects_accounts_and_moves_priorities(
    store: Store, tmp_path: Path
) -> None:
    out = _analysed(store, tmp_path)
    before = _accounts(store)
    assert set(before) == {"alice", "bob"}
    assert before["alice"][:2] == (1, 0)
    alice_subject = before["alice"][2]
    assert alice_subject is not None
    scores = _scores(store)
    assert set(scores) == {alice_subject, before["bob"][2]}

    # A month later a partner's list knows o2 by MD5 and o3 by a PDQ hash 9 bits away.
    fresh = tmp_path / "fresh.txt"
    fresh.write_text(f"{_md5('o2')}\n{_flip(_pdq('o3'), 9)}\n{_flip(_pdq('o1'), 200)}\n")
    import_hash_set(store, fresh, "fresh", "list", hex64="pdq", actor="test:importer")
    with store.session() as session:
        queued = session.scalars(select(Job).where(Job.status == "queued")).all()
        assert [(j.kind, j.params, j.created_by) for j in queued] == [
            ("retro_match", {"hash_set": "fresh"}, "test:importer")
        ]
    [result] = _run_queued(store)

    [op] = result["operations"]  # type: ignore[misc]
    assert op["analysis"] == str(out) and op["current"] is True
    assert (op["objects_matched"], op["objects_now_flagged"]) == (2, 2)
    assert op["now_flagged"] == ["o2", "o3"]
    assert (op["accounts_newly_flagged"], op["newly_flagged"]) == (1, ["carol"])
    assert op["accounts_updated"] == 1  # alice: one flagged file more, a download
    assert result["accounts_newly_flagged"] == 1
    [moved] = result["priorities_changed"]  # type: ignore[misc]
    assert moved["subject_id"] == alice_subject
    old, new = moved["score"]
    assert (old, new) == (scores[alice_subject][0], _scores(store)[alice_subject][0])
    assert new > old
    assert result["not_covered"]  # carol is not yet joined to a subject

    after = _accounts(store)
    assert after["alice"][:2] == (2, 1) and after["bob"] == before["bob"]
    assert after["carol"][:2] == (2, 1) and after["carol"][2] is None
    assert "dave" not in after
    flagged = pq.read_table(out / "workspace" / "flagged_objects.parquet").to_pylist()
    assert sorted((r["object_id"], r["hash_set"], r["signal"]) for r in flagged) == [
        ("o1", "known", "md5"),
        ("o2", "fresh", "md5"),
        ("o3", "fresh", "pdq"),
    ]
    counted = pq.read_table(out / "flagged_accounts.parquet").column("account_id").to_pylist()
    assert sorted(counted) == ["alice", "bob", "carol"]

    with store.session() as session:
        audited = session.scalars(
            select(AuditEvent).where(AuditEvent.action == ACTION).order_by(AuditEvent.id)
        ).all()
        rescored = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "priorities.rescored")
        ).all()
    assert audited[-1].actor == "test:importer"
    details = audited[-1].details or {}
    assert details["operations"][str(out)]["accounts_newly_flagged"] == ["carol"]
    assert [e.actor for e in rescored] == ["test:importer"]

    # Again: nothing new. With the watermark lost, the same entries change nothing either.
    assert retro_match(store, "fresh", actor=ACTOR).status == "nothing new"
    with store.session() as session:
        row = session.scalars(select(HashSet).where(HashSet.name == "fresh")).one()
        row.retro_matched_through = None
    again = retro_match(store, "fresh", actor=ACTOR)
    [op_again] = again.operations
    assert (op_again.objects_matched, op_again.objects_now_flagged) == (2, 0)
    assert (op_again.accounts_newly_flagged, op_again.accounts_updated) == (0, 0)
    assert again.priorities_changed == () and again.not_covered == ()
    assert _accounts(store) == after
    assert len(pq.read_table(out / "workspace" / "flagged_objects.parquet")) == 3


def test_the_command_prints_what_the_catalog_match_changed(
    sqlite_store: Store, tmp_path: Path
) -> None:
    from in_process import kaitiaki

    out = _analysed(sqlite_store, tmp_path)
    fresh = tmp_path / "fresh.txt"
    fresh.write_text(f"{_md5('o2')}\n")
    import_hash_set(sqlite_store, fresh, "fresh", "list", actor=ACTOR)
    result = kaitiaki("hashset", "retro-match", "fresh", "--db", sqlite_store.url)
    assert result.exit_code == 0, result.output
    assert (
        f"operation {out}: 1 catalog objects matched, 1 newly flagged; 1 accounts newly "
        "flagged, 1 updated"
    ) in result.stdout
    assert "account newly flagged: carol" in result.stdout
    assert "priority " in result.stdout and " -> " in result.stdout
    again = kaitiaki("hashset", "retro-match", "fresh", "--db", sqlite_store.url)
    assert again.stdout.strip() == (
        "'fresh': nothing to match: no entries were added since its last retroactive match"
    )


def test_an_unreadable_workspace_is_reported_and_the_rest_still_matched(
    sqlite_store: Store, tmp_path: Path
) -> None:
    out = _analysed(sqlite_store, tmp_path)
    manifest = out / "workspace" / "records" / "ingested.json"
    manifest.write_text("{not json")
    fresh = tmp_path / "fresh.txt"
    fresh.write_text(f"{_md5('o2')}\n")
    import_hash_set(sqlite_store, fresh, "fresh", "list", actor=ACTOR)
    report = retro_match(sqlite_store, "fresh", actor=ACTOR)
    assert report.status == "matched" and report.operations == ()
    assert len(report.errors) == 1 and str(out) in report.errors[0]


def test_an_older_operation_is_reported_but_the_store_keeps_the_latest(
    sqlite_store: Store, tmp_path: Path
) -> None:
    first = _analysed(sqlite_store, tmp_path)
    _, accounts, catalog = _operation(tmp_path)
    # A second analysis of only bob's records: its accounts replace the first's in the store.
    only_bob = tmp_path / "bob.csv"
    only_bob.write_text(
        "timestamp,account_id,action,object_id,ip,port\n"
        "2024-03-02T10:00:00+00:00,bob,view,o1,81.2.69.161,1002\n"
    )
    second = tmp_path / "second"
    analyse_operation(sqlite_store, [only_bob], accounts, catalog, second, actor=ACTOR)
    fresh = tmp_path / "fresh.txt"
    fresh.write_text(f"{_md5('o2')}\n")
    import_hash_set(sqlite_store, fresh, "fresh", "list", actor=ACTOR)
    report = retro_match(sqlite_store, "fresh", actor=ACTOR)
    by_folder = {o.analysis: o for o in report.operations}
    # The latest analysis never saw o2 accessed: it matches the object but flags nobody.
    assert by_folder[str(second)].current and by_folder[str(second)].newly_flagged == ()
    older_op = by_folder[str(first)]
    assert not older_op.current and older_op.newly_flagged == ("carol",)
    assert set(_accounts(sqlite_store)) == {"bob"}
