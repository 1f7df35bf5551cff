"""Commands that find nothing to do say why, in one line, instead of doing nothing silently; the
exit status stays what it was (nothing to do is no error) (issue 18)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from in_process import kaitiaki
from kaitiaki.hashsets import import_hash_set
from kaitiaki.hashsets.enabled import NO_ENABLED_SET
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store
from kaitiaki.store.models import AuditEvent, Referral

MD5 = "d41d8cd98f00b204e9800998ecf8427e"


def _md5_set(store: Store, tmp_path: Path, name: str = "bank") -> None:
    listing = tmp_path / f"{name}.txt"
    listing.write_text(f"{MD5}\n")
    import_hash_set(store, listing, name, "list", actor="test:setup")


def test_match_with_no_enabled_set_says_so(sqlite_store: Store, tmp_path: Path) -> None:
    db = sqlite_store.url
    done = kaitiaki("match", "f" * 64, "--db", db)
    assert done.exit_code == 0 and done.stdout == ""
    assert done.stderr.strip() == f"nothing to match against: {NO_ENABLED_SET}"
    # A disabled set does not count; a wrong query is still an error.
    _md5_set(sqlite_store, tmp_path)
    assert kaitiaki("hashset", "disable", "bank", "--db", db).exit_code == 0
    again = kaitiaki("match", "f" * 64, "--db", db)
    assert again.exit_code == 0 and "no enabled hash set" in again.stderr
    wrong = kaitiaki("match", "not-a-file-nor-hash", "--db", db)
    assert wrong.exit_code == 1 and "neither a file nor a 64-hex PDQ hash" in wrong.stderr


def test_scan_and_triage_with_nothing_known_say_so(sqlite_store: Store, tmp_path: Path) -> None:
    db = sqlite_store.url
    folder = tmp_path / "device"
    folder.mkdir()
    (folder / "notes.txt").write_text("nothing known here\n")
    scanned = kaitiaki("scan", str(folder), "-e", "dev", "-w", "1", "--db", db)
    assert scanned.exit_code == 0, scanned.output
    assert f"note: {NO_ENABLED_SET}; the files are hashed and stored" in scanned.stderr
    report = tmp_path / "triage.html"
    triaged = kaitiaki("triage", "-e", "dev", "-o", str(report), "--db", db)
    assert triaged.exit_code == 0, triaged.output
    assert report.is_file()
    assert (
        f"note: no file of evidence 'dev' matched a hash set as known material; {NO_ENABLED_SET}"
        in triaged.stdout
    )


def test_retro_match_of_a_disabled_set_says_how_to_enable_it(
    sqlite_store: Store, tmp_path: Path
) -> None:
    _md5_set(sqlite_store, tmp_path)
    kaitiaki("hashset", "disable", "bank", "--db", sqlite_store.url)
    done = kaitiaki("hashset", "retro-match", "bank", "--db", sqlite_store.url)
    assert done.exit_code == 0
    assert done.stdout.strip() == (
        "'bank': nothing to match: the set is disabled; enable it with "
        "'kaitiaki hashset enable bank' first"
    )


def test_priority_compute_with_no_subjects_says_so(sqlite_store: Store) -> None:
    done = kaitiaki("priority", "compute", "--db", sqlite_store.url)
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == (
        "no subjects to score: 'kaitiaki operation analyse' makes them from flagged accounts"
    )


def test_exchange_fetch_due_says_why_nothing_is_due(sqlite_store: Store) -> None:
    db = sqlite_store.url
    none = kaitiaki("exchange", "fetch", "--due", "--db", db)
    assert none.exit_code == 0
    assert none.stdout.strip() == (
        "no exchange is due: there are no exchanges (add one with 'kaitiaki exchange add')"
    )
    assert kaitiaki("exchange", "add", "manual", "--api", "sample", "--db", db).exit_code == 0
    by_hand = kaitiaki("exchange", "fetch", "--due", "--db", db)
    assert "no exchange is due: none is enabled with a schedule" in by_hand.stdout


@pytest.fixture(scope="module")
def operation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("operation")
    simulate_operation(out, accounts=80, flagged_accounts=8, events=800, seed=5)
    return out


def _analyse(operation: Path, out: Path, db: str) -> Any:
    inputs = ["-r", str(operation / "records.csv"), "--accounts", str(operation / "accounts.csv")]
    analysed = kaitiaki(
        "operation", "analyse", *inputs, "--catalog", str(operation / "catalog.csv"), "-o",
        str(out), "--db", db,
    )  # fmt: skip
    assert analysed.exit_code == 0, analysed.output
    return analysed


def test_analyse_flagging_nobody_and_refer_say_why(
    sqlite_store: Store, operation: Path, tmp_path: Path
) -> None:
    db = sqlite_store.url
    out = tmp_path / "analysis"
    analysed = _analyse(operation, out, db)
    assert (
        f"no account is flagged: no catalog object could be flagged: {NO_ENABLED_SET}; there "
        "are no subjects to refer"
    ) in " ".join(analysed.stdout.split())
    env = {"KAITIAKI_KEYS": str(tmp_path / "keys")}
    assert kaitiaki("keys", "generate", env=env).exit_code == 0
    refer = ["refer", "--analysis", str(out), "-o", str(tmp_path / "packages"), "--db", db]
    nobody = kaitiaki(*refer, env=env)
    assert nobody.exit_code == 0, nobody.output
    assert "nothing new to refer: there are no subjects" in nobody.stdout
    high = kaitiaki(*refer, "--tier-at-least", "high", env=env)
    assert high.exit_code == 0, high.output
    assert "nothing new to refer: no subject is at tier high or above" in high.stdout


def test_revise_with_nothing_new_says_so(
    sqlite_store: Store, operation: Path, tmp_path: Path
) -> None:
    db = sqlite_store.url
    listing = ["hashset", "import", str(operation / "hashset.json"), "--name", "op", "--db", db]
    assert kaitiaki(*listing).exit_code == 0
    out = tmp_path / "analysis"
    _analyse(operation, out, db)
    env = {"KAITIAKI_KEYS": str(tmp_path / "keys")}
    assert kaitiaki("keys", "generate", env=env).exit_code == 0
    refer = ["refer", "--analysis", str(out), "-o", str(tmp_path / "packages"), "--db", db]
    assert kaitiaki(*refer, env=env).exit_code == 0
    with sqlite_store.session() as session:
        first = session.scalar(select(Referral.id).order_by(Referral.id).limit(1))
        audited = session.scalar(select(func.count()).select_from(AuditEvent))
    assert first is not None
    revised = tmp_path / "revised"
    revise = ["referral", "revise", first, "-o", str(revised), "--analysis", str(out), "--db", db]
    again = kaitiaki(*revise, env=env)
    assert again.exit_code == 0 and again.stdout == "", again.output
    assert again.stderr.strip() == (
        f"referral {first}: nothing new since version 1 (the same subjects, priority and "
        "events); no version built"
    )
    assert not revised.exists()
    with sqlite_store.session() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == audited
        referral = session.get(Referral, first)
        assert referral is not None and referral.package_version in (None, 1)
