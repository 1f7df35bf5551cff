"""Re-running an analysis replaces accounts and subjects, but never drops a held one."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest
from holds_samples import actions
from sqlalchemy import select

from kaitiaki.hashsets import import_hash_set
from kaitiaki.legal.holds import place_hold
from kaitiaki.operation.analyse import analyse_operation
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store
from kaitiaki.store.models import Account, Subject


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("operation")
    simulate_operation(out, accounts=300, flagged_accounts=30, events=6000, seed=5)
    return out


def _analyse(store: Store, sim: Path, records: Path, out: Path) -> None:
    analyse_operation(
        store, [records], sim / "accounts.csv", sim / "catalog.csv", out, actor="test:setup"
    )


def _state(store: Store) -> tuple[dict[str, str | None], set[str]]:
    with store.session() as s:
        rows = s.execute(select(Account.account_id, Account.subject_id))
        accounts = {a: b for a, b in rows}
        return accounts, set(s.scalars(select(Subject.id)))


def _without(sim: Path, account: str, to: Path) -> Path:
    """The access records with every row of ``account`` removed: it is no longer flagged."""
    with (sim / "records.csv").open(newline="") as src, to.open("w", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or [], quoting=csv.QUOTE_ALL)
        writer.writeheader()
        writer.writerows(r for r in reader if r["account_id"] != account)
    return to


@pytest.mark.parametrize("held", ["account", "subject", "nothing"])
def test_a_held_record_the_new_analysis_drops_is_kept(
    store: Store, simulated: Path, tmp_path: Path, held: str
) -> None:
    import_hash_set(store, simulated / "hashset.json", "operation-set", "vics", actor="test")
    _analyse(store, simulated, simulated / "records.csv", tmp_path / "first")
    accounts, _ = _state(store)
    sizes = Counter(s for s in accounts.values() if s)
    # An account alone in its subject: dropping it drops the subject too.
    account = next(a for a, s in sorted(accounts.items()) if s and sizes[s] == 1)
    subject = accounts[account]
    assert subject is not None
    other = next(a for a in sorted(accounts) if a != account)
    # A held account the new analysis still produces is replaced by its new row.
    place_hold(
        store,
        actor="cli:alice",
        target_type="account",
        target_id=other,
        basis_kind="court_order",
        basis_text="production order for the account",
    )
    if held != "nothing":
        place_hold(
            store,
            actor="cli:alice",
            target_type=held,
            target_id=account if held == "account" else subject,
            basis_kind="preservation_request",
            basis_text=BASIS,
            reference="PR-2026-1",
        )
    records = _without(simulated, account, tmp_path / "records.csv")
    _analyse(store, simulated, records, tmp_path / "second")
    after, after_subjects = _state(store)
    if held == "nothing":
        assert account not in after and subject not in after_subjects
        assert "kept_held_accounts" not in actions(store, "operation.analysed")[-1]["details"]
    else:
        # Kept as it was: the account, still attributed to its subject, and the subject.
        assert after[account] == subject and subject in after_subjects
        details = actions(store, "operation.analysed")[-1]["details"]
        assert details["kept_held_accounts"] == 1 and details["kept_held_subjects"] == 1
    assert other in after
    assert len(after) == len(accounts) - (held == "nothing")


BASIS = "preservation letter from the police, 2703(f)"
