"""The operation's figures on a small store; charts as real PNG and SVG; the CLI."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from kaitiaki.refer.stats import operation_stats, write_charts
from kaitiaki.store import Store, open_store
from kaitiaki.store.models import (
    Account,
    Outcome,
    Priority,
    Referral,
    ReferralSubject,
    Subject,
)
from kaitiaki.users import Role, Scope, jurisdiction

OPERATOR = Scope.operator()
CLI = (
    "import typer; from kaitiaki.cli import tracking; "
    "app = typer.Typer(); tracking.register(app); app()"
)


def _fill(store: Store) -> None:
    with store.session() as session:
        session.add_all(
            [
                Subject(id="S1", country="NZ"),
                Subject(id="S2", country="NZ"),
                Subject(id="S3", country="AU"),
                Subject(id="S4", country=None),
            ]
        )
        for n, month in enumerate((1, 1, 3)):
            seen = datetime(2020, month, 5, tzinfo=UTC)
            session.add(Account(account_id=f"a{n}", first_seen=seen, last_seen=seen))
        session.add_all(
            [
                Referral(id="R-NZ", agency="NZ Police", country="NZ", status="arrest"),
                Referral(id="R-AU", agency="AFP", country="AU", status="sent"),
            ]
        )
        session.flush()
        session.add_all(
            [
                ReferralSubject(subject_id="S1", referral_id="R-NZ"),
                ReferralSubject(subject_id="S3", referral_id="R-AU"),
                Outcome(
                    referral_id="R-NZ",
                    subject_id="S1",
                    kind="arrested",
                    count=1,
                    date=datetime(2021, 2, 1, tzinfo=UTC),
                ),
                Outcome(referral_id="R-NZ", subject_id="S1", kind="children_safeguarded", count=4),
                Priority(subject_id="S1", score=70, tier="very high", factors=[]),
                Priority(subject_id="S2", score=5, tier="low", factors=[], override_tier="high"),
            ]
        )


def test_figures(store: Store) -> None:
    _fill(store)
    stats = operation_stats(store, scope=OPERATOR)
    assert (stats.accounts, stats.subjects, stats.countries, stats.referrals) == (3, 4, 2, 2)
    assert (stats.arrests, stats.children_safeguarded) == (1, 4)
    assert stats.referrals_by_status == {"arrest": 1, "sent": 1}
    nz = stats.by_country["NZ"]
    assert (nz.subjects, nz.referrals, nz.arrests, nz.children_safeguarded) == (2, 1, 1, 4)
    assert (nz.referred, stats.by_country["AU"].referred) == (1, 1)
    assert stats.by_country["??"].subjects == 1
    assert stats.activity_by_month == {"2020-01": 2, "2020-03": 1}
    assert stats.arrests_by_month == {"2021-02": 1}
    assert stats.priority_tiers == {"very high": 1, "high": 1}


def test_a_liaisons_figures_hold_only_its_jurisdiction(store: Store) -> None:
    _fill(store)
    with store.session() as session:
        # Same agency name as R-NZ, another country: must not be counted for the NZ liaison.
        session.add(Subject(id="S5", country="TO"))
        session.add(Referral(id="R-TO", agency="NZ Police", country="TO", status="sent"))
        session.flush()
        session.add(ReferralSubject(subject_id="S5", referral_id="R-TO"))
        session.add(Outcome(referral_id="R-TO", subject_id="S5", kind="arrested", count=7))
    nz = Scope(Role.LIAISON, frozenset({jurisdiction("NZ", "nz police")}))
    stats = operation_stats(store, scope=nz)
    assert (stats.referrals, stats.subjects, stats.arrests) == (1, 1, 1)
    assert stats.referrals_by_status == {"arrest": 1}
    assert set(stats.by_country) == {"NZ"}
    assert (stats.accounts, stats.activity_by_month) == (0, {})
    assert stats.priority_tiers == {"very high": 1}
    assert operation_stats(store, scope=Scope(Role.LIAISON)).referrals == 0
    assert operation_stats(store, scope=OPERATOR).arrests == 8


def test_charts_are_real_png_and_svg(sqlite_store: Store, tmp_path: Path) -> None:
    _fill(sqlite_store)
    written = write_charts(operation_stats(sqlite_store, scope=OPERATOR), tmp_path / "charts")
    names = {p.name for p in written}
    for chart in ("referrals_by_country", "activity_over_time", "priority_tiers"):
        assert {f"{chart}.png", f"{chart}.svg"} <= names
        assert (tmp_path / "charts" / f"{chart}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert b"<svg" in (tmp_path / "charts" / f"{chart}.svg").read_bytes()[:2000]
    # An empty store still draws (an empty operation is not an error).
    empty = open_store(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert len(write_charts(operation_stats(empty, scope=OPERATOR), tmp_path / "empty")) == 6
    finally:
        empty.close()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, *args],
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "", "KAITIAKI_USER": "ops.lead"},
        check=False,
    )


def test_cli_stats_and_refused_status_change(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    store = open_store(url)
    try:
        _fill(store)
    finally:
        store.close()
    done = _cli("stats", "--charts", str(tmp_path / "charts"), "--db", url)
    assert done.returncode == 0, done.stderr
    assert "children safeguarded" in done.stdout and "2020-01" in done.stdout
    assert (tmp_path / "charts" / "priority_tiers.svg").is_file()
    refused = _cli("referral", "status", "R-AU", "arrest", "--db", url)
    assert refused.returncode == 1
    assert "cannot go from 'sent' to 'arrest'" in refused.stderr
    assert "'acknowledged'" in refused.stderr and "Traceback" not in refused.stderr
    ok = _cli("referral", "status", "R-AU", "acknowledged", "--note", "received", "--db", url)
    assert ok.returncode == 0, ok.stderr
    forged = _cli("referral", "status", "R-AU", "investigating", "--by", "someone", "--db", url)
    assert forged.returncode == 2  # no option left to name another actor
    shown = _cli("referral", "history", "R-AU", "--db", url)
    assert "acknowledged" in shown.stdout and "received" in shown.stdout
    assert "cli:ops.lead" in shown.stdout  # the operator at the keyboard, not "investigator"
