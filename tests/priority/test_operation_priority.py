"""Priorities over a simulated operation, with records: new material and reach from DuckDB."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from kaitiaki.hashsets import import_hash_set
from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation
from kaitiaki.priority import PriorityError, prioritise
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store, open_store

CLI = (
    "import sys, typer; from kaitiaki.cli import priority; "
    "app = typer.Typer(); priority.register(app); app()"
)


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, set[str]]:
    base = tmp_path_factory.mktemp("priority-op")
    sim = base / "sim"
    simulate_operation(
        sim, accounts=1500, flagged_accounts=150, events=30_000, seed=3, formats=("csv",)
    )
    # A reviewer categorises a few uploaded objects: any no hash set knew are "new material".
    with (sim / "records.csv").open() as handle:
        uploaded = sorted(
            {r["object_id"] for r in csv.DictReader(handle) if r["action"] == "upload"}
        )
    reviewed = set(uploaded[:40])
    flags = base / "reviewer.csv"
    flags.write_text("object_id,category\n" + "".join(f"{o},1\n" for o in sorted(reviewed)))
    url = f"sqlite:///{base / 'kaitiaki.db'}"
    store = open_store(url)
    try:
        import_hash_set(store, sim / "hashset.json", "operation-set", "vics", actor="cli:tester")
        analyse_operation(
            store,
            [sim / "records.csv"],
            sim / "accounts.csv",
            sim / "catalog.csv",
            base / "out",
            AnalysisOptions(reviewer_flags=flags),
            actor="test:setup",
        )
    finally:
        store.close()
    return url, base / "out" / "workspace", reviewed


def test_records_add_new_material_and_reach(analysed: tuple[str, Path, set[str]]) -> None:
    url, workspace, _ = analysed
    store: Store = open_store(url)
    try:
        results = prioritise(store, workspace=workspace, actor="test:setup")
    finally:
        store.close()
    assert len(results) > 50
    factors = [{f["factor"]: f for f in r.factors} for r in results]
    assert any(f["reach"]["value"] > 0 for f in factors)
    producers = [f for f in factors if f["new_material"]["value"] > 0]
    assert producers, "some reviewer-flagged uploads were unknown to the hash set"
    # A producer of new material is at least high priority under the default weights.
    top = {r.subject_id: r for r in results}
    assert all(
        top[r.subject_id].tier in {"very high", "high"}
        for r, f in zip(results, factors, strict=True)
        if f["new_material"]["value"] > 0
    )
    assert len({r.tier for r in results}) >= 2


def test_missing_workspace_is_a_clear_error(sqlite_store: Store, tmp_path: Path) -> None:
    with pytest.raises(PriorityError, match="no flagged objects or records"):
        prioritise(sqlite_store, workspace=tmp_path, actor="test:setup")


def test_cli_compute_show_override(analysed: tuple[str, Path, set[str]]) -> None:
    url, workspace, _ = analysed

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", CLI, *args, "--db", url],
            capture_output=True,
            text=True,
            env={"COLUMNS": "200", "PATH": ""},
            check=False,
        )

    done = run("priority", "compute", "--workspace", str(workspace), "--top", "3")
    assert done.returncode == 0, done.stderr
    assert "decides nothing" in done.stdout
    refused = run("priority", "override", "nobody", "high", "--reason", "seen at interview")
    assert refused.returncode == 1 and "priority compute" in refused.stderr
    assert "Traceback" not in refused.stderr
