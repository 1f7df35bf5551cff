"""``kaitiaki hold`` and ``kaitiaki retention`` in-process, audited as the operator.

Run on a Typer root of their own (``kaitiaki.cli.legal.register``), as ``kaitiaki`` runs them
once ``cli/app.py`` registers the module; the same calls then work through ``in_process``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from pathlib import Path

import typer
from holds_samples import actions, small_world
from typer.testing import CliRunner, Result

from kaitiaki.cli import legal
from kaitiaki.legal.holds import list_holds
from kaitiaki.store import Store


@cache
def _root() -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def main() -> None:
        """kaitiaki (legal commands only)."""

    legal.register(root)
    return root


def run(store: Store, *args: str) -> Result:
    env = {"KAITIAKI_USER": "alice", "COLUMNS": "200", "KAITIAKI_RETENTION_POLICY": ""}
    return CliRunner().invoke(_root(), [*args, "--db", store.url], env=env)


def test_hold_add_list_extend_release(store: Store) -> None:
    world = small_world(store)
    added = run(
        store,
        *("hold", "add", "--account", "acct-1", "--kind", "preservation_request"),
        *("--basis", "preservation letter, 2703(f)", "--reference", "PR-1"),
    )
    assert added.exit_code == 0, added.output
    assert "hold 1: account acct-1 held (preservation_request PR-1) until 20" in added.stdout
    order = run(
        store,
        *("hold", "add", "--evidence", "laptop", "--kind", "court_order"),
        *("--basis", "order of the district court", "--expires", "2099-01-31"),
    )
    assert order.exit_code == 0, order.output
    assert f"evidence {world.laptop} held (court_order) until 2099-01-31T23:59:59Z" in order.stdout

    listed = run(store, "hold", "list")
    assert listed.exit_code == 0 and "acct-1" in listed.stdout and "PR-1" in listed.stdout
    assert "2099-01-31T23:59:59Z" in listed.stdout and "standing" in listed.stdout
    soon = run(store, "hold", "list", "--expiring-within", "100")
    assert "acct-1" in soon.stdout and "2099" not in soon.stdout

    assert run(store, "hold", "extend", "1").exit_code == 0
    again = run(store, "hold", "extend", "1")
    assert again.exit_code == 1 and "extended already" in again.stderr
    not_a_request = run(store, "hold", "extend", "2")
    assert not_a_request.exit_code == 1 and "only a preservation request" in not_a_request.stderr

    no_reason = run(store, "hold", "release", "2", "--reason", "done")
    assert no_reason.exit_code == 1 and "reason must say why" in no_reason.stderr
    released = run(store, "hold", "release", "2", "--reason", "the order was set aside")
    assert released.exit_code == 0 and "hold 2 released" in released.stdout
    assert "no holds" not in run(store, "hold", "list").stdout
    every = run(store, "hold", "list", "--all").stdout
    assert "released" in every
    assert [v.id for v in list_holds(store)] == [1]
    written = [
        (e["actor"], a)
        for a in ("hold.placed", "hold.extended", "hold.released")
        for e in actions(store, a)
    ]
    assert written == [
        ("cli:alice", "hold.placed"),
        ("cli:alice", "hold.placed"),
        ("cli:alice", "hold.extended"),
        ("cli:alice", "hold.released"),
    ]


def test_hold_add_mistakes_are_one_line(store: Store) -> None:
    small_world(store)
    for args, why in [
        ((), "exactly one of"),
        (("--account", "acct-1", "--subject", "S-1"), "exactly one of"),
        (("--account", "acct-1"), "needs an expiry"),
        (("--account", "nobody", "--kind", "court_order"), "no account 'nobody'"),
        (("--subject", "S-1", "--expires", "next week"), "not an ISO date"),
    ]:
        result = run(store, "hold", "add", *args, "--basis", "order of the district court")
        assert result.exit_code == 1, result.output
        assert why in result.stderr and "Traceback" not in result.output


def test_retention_apply_dry_run_then_for_real(store: Store, tmp_path: Path) -> None:
    small_world(store)
    policy = tmp_path / "policy.toml"
    policy.write_text("[retention]\naccounts_days = 365\n")
    held = run(
        store,
        *("hold", "add", "--account", "acct-1", "--kind", "court_order"),
        *("--basis", "order of the district court"),
    )
    assert held.exit_code == 0
    dry = run(store, "retention", "apply", "--dry-run", "--policy", str(policy))
    assert dry.exit_code == 0, dry.output
    assert "acct-2, acct-3, acct-4" in dry.stdout and "acct-1 (hold 1)" in dry.stdout
    assert "dry run: 3 records would be deleted" in dry.stdout
    assert actions(store, "retention.deleted") == []
    done = run(store, "retention", "apply", "--policy", str(policy))
    assert done.exit_code == 0 and "3 records deleted" in done.stdout
    assert [e["actor"] for e in actions(store, "retention.deleted")] == ["cli:alice"] * 3
    nothing = run(store, "retention", "apply")
    assert nothing.exit_code == 0 and "keeps everything" in nothing.stdout
    policy.write_text("[retention]\naccounts = 1\n")
    bad = run(store, "retention", "apply", "--policy", str(policy))
    assert bad.exit_code == 1 and "unknown setting" in bad.stderr


def test_dates_print_in_utc() -> None:
    local = datetime(2026, 1, 2, 13, 0, tzinfo=UTC).astimezone(timezone(timedelta(hours=13)))
    assert legal.iso(local) == "2026-01-02T13:00:00Z"
    assert legal.parse_date("2026-03-04T05:06:07+02:00") == datetime(
        2026, 3, 4, 3, 6, 7, tzinfo=UTC
    )
