"""Analysed simulated operations for the provider-report and deconfliction tests (synthetic)."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds
from sqlalchemy import select

from kaitiaki.accounts import normalise_email
from kaitiaki.hashsets import import_hash_set
from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation
from kaitiaki.records import ingested_files
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import Account

KEY = b"agreed-between-agencies-0123456789"
OTHER_KEY = b"a-different-secret-9876543210abcd"
# The provider commands on a root of their own, as ``kaitiaki`` would run them once registered.
PROVIDER_CLI = (
    "import typer; from kaitiaki.cli import provider; "
    "app = typer.Typer(); provider.register(app); app()"
)


@dataclass
class Analysed:
    sim: Path
    out: Path
    db: str
    store: Store

    @property
    def workspace(self) -> Path:
        return self.out / "workspace"


def analyse(root: Path, *, seed: int, size: int, reviewer_flags: Path | None = None) -> Analysed:
    sim, out = root / "sim", root / "results"
    if not sim.is_dir():
        simulate_operation(
            sim, accounts=size, flagged_accounts=size // 10, events=size * 20, seed=seed
        )
    db = f"sqlite:///{root / 'k.db'}"
    store = open_store(db)
    if not (root / ".imported").exists():
        import_hash_set(store, sim / "hashset.json", "operation-set", "vics", actor="cli:tester")
        (root / ".imported").touch()
    analyse_operation(
        store,
        [sim / "records.csv"],
        sim / "accounts.csv",
        sim / "catalog.csv",
        out,
        AnalysisOptions(reviewer_flags=reviewer_flags),
        actor="test:setup",
    )
    return Analysed(sim, out, db, store)


def subject_accounts(store: Store) -> dict[str, list[str]]:
    """subject id -> its flagged accounts, from the store."""
    found: dict[str, list[str]] = {}
    with store.session() as session:
        for account, subject in session.execute(
            select(Account.account_id, Account.subject_id).where(Account.subject_id.is_not(None))
        ):
            found.setdefault(str(subject), []).append(account)
    return found


def account_rows(workspace: Path, accounts: list[str]) -> list[dict[str, str | None]]:
    table = ds.dataset([str(p) for p in ingested_files(workspace, "accounts")]).to_table(
        columns=["account_id", "username", "email", "phone", "device_id"],
        filter=pc.field("account_id").isin(accounts),
    )
    return list(table.to_pylist())


def an_email_of_a_subject(analysed: Analysed) -> tuple[str, str, str]:
    """(subject id, account id, raw email) of some subject account with a valid email."""
    for subject, accounts in sorted(subject_accounts(analysed.store).items()):
        for row in account_rows(analysed.workspace, accounts):
            if row["email"] and normalise_email(row["email"]):
                return subject, str(row["account_id"]), row["email"]
    raise AssertionError("no subject account with an email")


def flagged_truth_account(sim: Path) -> str:
    truth = json.loads((sim / "ground_truth.json").read_text())
    return str(truth["flagged_accounts"][0]["account_id"])


def add_account_row(sim: Path, account_id: str, email: str) -> None:
    """Give an account one more identifier row (providers keep history rows like this)."""
    with (sim / "accounts.csv").open("a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow([account_id, "", email, "", ""])
