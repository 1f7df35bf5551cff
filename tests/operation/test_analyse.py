"""The whole attribution chain on a simulated operation, scored against its ground truth."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from in_process import kaitiaki
from kaitiaki.hashsets import import_hash_set
from kaitiaki.operation.analyse import analyse_operation
from kaitiaki.operation.evaluate import evaluate
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import Account, AccountLink, Subject


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("operation")
    simulate_operation(
        out, accounts=1500, flagged_accounts=150, events=30_000, seed=3, formats=("csv", "jsonl")
    )
    return out


def _analyse(store: Store, sim: Path, out: Path, **kwargs: object) -> None:
    import_hash_set(store, sim / "hashset.json", "operation-set", "vics", actor="cli:tester")
    analyse_operation(
        store,
        [sim / "records.csv"],
        sim / "accounts.csv",
        sim / "catalog.csv",
        out,
        actor="test:setup",
        **kwargs,  # type: ignore[arg-type]
    )


def test_analysis_meets_the_accuracy_targets(store: Store, simulated: Path, tmp_path: Path) -> None:
    out = tmp_path / "results"
    _analyse(store, simulated, out)
    scored = evaluate(out, simulated / "ground_truth.json")
    assert scored.flagged_exactly, scored.flagged_mismatches[:5]
    assert scored.precision >= 0.99
    assert scored.recall >= 0.95
    assert scored.country_accuracy >= 0.98
    assert scored.vpn_total > 0 and scored.vpn_flagged == scored.vpn_total
    assert scored.vpn_silently_attributed == 0
    assert scored.malformed_rejected == scored.malformed_expected > 0

    with (out / "subjects.csv").open() as handle:
        subjects = list(csv.DictReader(handle))
    assert set(subjects[0]) >= {
        "subject_id",
        "account_ids",
        "country",
        "confidence",
        "agency",
        "vpn_or_hosting",
    }
    for row in subjects:
        assert row["agency"], "every subject is routed, unattributed ones to INTERPOL"
        if row["country"]:
            assert 0 < float(row["confidence"]) <= 1
    with (out / "links.csv").open() as handle:
        links = list(csv.DictReader(handle))
    assert links and all(r["reason"].split("=")[0] in {"email", "phone", "device"} for r in links)
    with (out / "rejects.csv").open() as handle:
        assert next(csv.reader(handle)) == ["file", "row", "reason"]
    with (out / "flagged_accounts.csv").open() as handle:
        assert next(csv.reader(handle))[:10] == [
            "account_id",
            "flagged_files",
            "uploads",
            "downloads",
            "views",
            "shares",
            "first_seen",
            "last_seen",
            "ips",
            "countries",
        ]

    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(Account)) == scored.flagged_found
        assert session.scalar(select(func.count()).select_from(Subject)) == len(subjects)
        assert session.scalar(select(func.count()).select_from(AccountLink)) == len(links)


def test_an_undone_link_splits_the_subject_on_the_next_run(
    sqlite_store: Store, simulated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    _analyse(sqlite_store, simulated, out)
    with (out / "subjects.csv").open() as handle:
        pair = next(r for r in csv.DictReader(handle) if r["account_ids"].count(";") == 1)
    a, b = pair["account_ids"].split(";")
    analyse_operation(
        sqlite_store,
        [simulated / "records.csv"],
        simulated / "accounts.csv",
        simulated / "catalog.csv",
        out,
        rejected_links=[(a, b)],
        actor="test:setup",
    )
    with (out / "subjects.csv").open() as handle:
        groups = [r["account_ids"].split(";") for r in csv.DictReader(handle)]
    assert not any(a in g and b in g for g in groups)


def test_reingesting_the_same_export_adds_nothing(
    sqlite_store: Store, simulated: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    _analyse(sqlite_store, simulated, out)
    first = (out / "flagged_accounts.csv").read_text()
    again = analyse_operation(
        sqlite_store,
        [simulated / "records.csv"],
        simulated / "accounts.csv",
        simulated / "catalog.csv",
        out,
        actor="test:setup",
    )
    assert all(f.status == "skipped" for i in again.ingests for f in i.files)
    assert (out / "flagged_accounts.csv").read_text() == first


def test_jsonl_records_give_the_same_flagged_accounts(
    sqlite_store: Store, simulated: Path, tmp_path: Path
) -> None:
    import_hash_set(
        sqlite_store, simulated / "hashset.json", "operation-set", "vics", actor="cli:tester"
    )
    analyse_operation(
        sqlite_store,
        [simulated / "records.jsonl"],
        simulated / "accounts.csv",
        simulated / "catalog.csv",
        tmp_path / "jsonl",
        actor="test:setup",
    )
    scored = evaluate(tmp_path / "jsonl", simulated / "ground_truth.json")
    assert scored.flagged_exactly, scored.flagged_mismatches[:5]


def test_cli_chain(simulated: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"

    def run(*args: str) -> str:
        # In-process: a start-up each would cost seconds. The last step runs as a process.
        done = kaitiaki(*args)
        assert done.exit_code == 0, done.output
        return done.stdout

    def process(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "kaitiaki", *args], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("hashset", "import", str(simulated / "hashset.json"), "--name", "op", "--db", db)
    out = tmp_path / "results"
    summary = run(
        "operation",
        "analyse",
        "-r",
        str(simulated / "records.csv"),
        "--accounts",
        str(simulated / "accounts.csv"),
        "--catalog",
        str(simulated / "catalog.csv"),
        "-o",
        str(out),
        "--db",
        db,
    )
    assert "flagged accounts" in summary and "subjects" in summary
    # The simulated set marks its series' victims as not identified.
    assert "series met: SIM-" in summary and "victim NOT identified" in summary
    scores = run(
        "operation", "evaluate", "-o", str(out), "--truth", str(simulated / "ground_truth.json")
    )
    assert "subjects precision" in scores
    joined = (s["account_ids"] for s in csv.DictReader((out / "subjects.csv").open()))
    a, b = next(ids for ids in joined if ";" in ids).split(";")[:2]
    why = "checked: two different people"
    process("operation", "unlink", a, b, "--reason", why, "--by", "Supervisor S", "--db", db)
    store = open_store(db)
    with store.session() as session:
        rejected = session.scalars(select(AccountLink).where(AccountLink.rejected)).all()
        assert next((r.decided_by, r.decision_reason) for r in rejected) == ("Supervisor S", why)
    assert json.loads((simulated / "ground_truth.json").read_text())["people"]
