"""Shared helpers for the referral tests: a simulated, analysed operation (synthetic data only)."""

from __future__ import annotations

import sys
from pathlib import Path

from kaitiaki.hashsets import import_hash_set
from kaitiaki.operation.analyse import analyse_operation
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store

# The CLI group as the lead will mount it, without depending on app.py registering it yet.
CLI = [
    sys.executable,
    "-c",
    "import typer; from kaitiaki.cli import keys, refer; "
    "app = typer.Typer(); refer.register(app); keys.register(app); app()",
]
JPEG, PNG = b"\xff\xd8\xff", b"\x89PNG"


def simulate(out: Path) -> Path:
    # Large enough for referrals to several agencies, INTERPOL's among them, and to series;
    # packages, not attribution accuracy, are what these tests check (tests/operation does).
    simulate_operation(out, accounts=300, flagged_accounts=30, events=3000, seed=3)
    return out


def analyse(store: Store, sim: Path, out: Path) -> Path:
    """Analyse the simulated operation into ``out``; returns its workspace."""
    import_hash_set(store, sim / "hashset.json", "operation-set", "vics", actor="cli:tester")
    analyse_operation(
        store,
        [sim / "records.csv"],
        sim / "accounts.csv",
        sim / "catalog.csv",
        out,
        actor="test:setup",
    )
    return out / "workspace"
