"""``kaitiaki hashset``: import, list, export, enable, disable and remove hash sets, and match a
set's new entries against everything already stored (``retro-match``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.audit import cli_actor
from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.hashset_import import hashset_session, register_import
from kaitiaki.cli.options import DbOption
from kaitiaki.hashsets import store as hashsets
from kaitiaki.hashsets.export import export_hash_set
from kaitiaki.hashsets.profiles import PROFILES

if TYPE_CHECKING:
    from kaitiaki.match.retro import RetroReport

app = typer.Typer(
    name="hashset", help="Import, list and export known hash sets.", no_args_is_help=True
)
register_import(app)


class ExportFormat(StrEnum):
    vics = "vics"
    list = "list"


@app.command("create")
def create_cmd(
    name: Annotated[str, typer.Argument(help="Name of the new hash set.")],
    from_evidence: Annotated[
        str,
        typer.Option(
            "--from-evidence", help="The scanned evidence item whose pictures and videos it holds."
        ),
    ],
    category: Annotated[
        str | None, typer.Option("--category", help="Category of every entry (needs --profile).")
    ] = None,
    series: Annotated[str | None, typer.Option("--series", help="Series of every entry.")] = None,
    profile: Annotated[
        str, typer.Option("--profile", help=f"Category profile: {', '.join(PROFILES)}.")
    ] = "none",
    db: DbOption = None,
) -> None:
    """Make a hash set from the pictures and videos of a scanned evidence item. Its entries
    carry the robust signal as well as the hashes, so scans against it find cropped, rotated
    and overlaid copies; an export still holds hashes only."""
    from kaitiaki.hashsets.from_evidence import create_from_evidence

    with hashset_session(db) as store:
        row = create_from_evidence(
            store,
            name,
            from_evidence,
            profile=profile,
            category=category,
            series=series,
            actor=cli_actor(),
        )
        with store.session() as session:
            signatures = hashsets.robust_count(session, row.id)
    typer.echo(
        f"created hash set {row.name!r} from evidence {from_evidence!r}: "
        f"{row.entry_count} entries, {signatures} with robust signatures "
        f"(profile {row.profile}, PDQ threshold {row.pdq_threshold})"
    )


@app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """Show every hash set."""
    with hashset_session(db) as store:
        rows = hashsets.list_hash_sets(store)
    if not rows:
        typer.echo("no hash sets")
        return
    table = Table("name", "source", "profile", "threshold", "enabled", "entries", "imported_at")
    for row in rows:
        table.add_row(
            escape(row.name),
            escape(row.source),
            row.profile,
            str(row.pdq_threshold),
            ("yes" if row.enabled else "no") + (" (allowlist)" if row.allowlist else ""),
            str(row.entry_count),
            _when(row.imported_at),
        )
    Console().print(table)


@app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="Hash set to export.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="vics (2.0 JSON) or list.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    db: DbOption = None,
) -> None:
    """Write a hash set as VICS 2.0 JSON or a plain list (one hash a line)."""
    with hashset_session(db) as store:
        count = export_hash_set(store, name, fmt.value, output)
    typer.echo(f"exported {count} entries of {name!r} to {output}")


@app.command("enable")
def enable_cmd(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Match against this hash set again."""
    with hashset_session(db) as store:
        hashsets.set_enabled(store, name, True, actor=cli_actor())
    typer.echo(f"enabled {name!r}")


@app.command("disable")
def disable_cmd(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Keep this hash set but leave it out of matching."""
    with hashset_session(db) as store:
        hashsets.set_enabled(store, name, False, actor=cli_actor())
    typer.echo(f"disabled {name!r}")


@app.command("remove")
def remove_cmd(
    name: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a hash set, its entries and their matches."""
    with hashset_session(db) as store:
        found = hashsets.get_hash_set(store, name)
        if not yes:
            typer.confirm(f"remove {name!r} and its {found.entry_count} entries?", abort=True)
        removed = hashsets.remove_hash_set(store, name, actor=cli_actor())
    typer.echo(f"removed {name!r} ({removed} entries)")


def _retro_idle(name: str, status: str) -> str:
    """Why a retroactive match of set ``name`` had nothing to do, by its report's status."""
    if status == "disabled":
        return f"the set is disabled; enable it with 'kaitiaki hashset enable {name}' first"
    if status == "allowlist":
        return "the set is an allowlist: its entries cancel other sets' matches, never make any"
    if status == "nothing new":
        return "no entries were added since its last retroactive match"
    return status


@app.command("retro-match")
def retro_match_cmd(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Match the set's entries added since its last retroactive match against every stored
    file, and say what became known."""
    # Imported when run: the matcher's compiled kernels are slow to load for every command.
    from kaitiaki.match.retro import retro_match

    with hashset_session(db) as store:
        report = retro_match(store, name, actor=cli_actor())
    if report.status != "matched":
        typer.echo(f"{name!r}: nothing to match: {_retro_idle(name, report.status)}")
        return
    typer.echo(
        f"{name!r}: {report.entries} new entries ({report.quarantined} quarantined, skipped) "
        f"against {report.files_checked} files with PDQ; {report.matches_added} new matches, "
        f"{report.files_matched} files matched, {report.files_now_known} now known"
    )
    for item in report.evidence:
        typer.echo(
            f"  evidence {item.name!r}: {item.files_matched} matched, {item.now_known} now "
            f"known, {item.relabelled} relabelled"
        )
    for sha256 in report.now_known_sha256:
        typer.echo(f"  now known: {sha256}")
    if report.files_now_known > len(report.now_known_sha256):
        typer.echo(f"  ... and {report.files_now_known - len(report.now_known_sha256)} more")
    _echo_operations(report)
    for gap in report.not_covered:
        typer.echo(f"note: {gap}")


@app.command("quarantine")
def quarantine_cmd(db: DbOption = None) -> None:
    """Entries the flood guard quarantined (matching far above their normal rate), waiting
    for a reviewer: release one with ``hashset release``, or remove it from its set."""
    from kaitiaki.hashsets.quarantine import list_quarantined

    with hashset_session(db) as store:
        held = list_quarantined(store)
    if not held:
        typer.echo("no entries in quarantine")
        return
    for item in held:
        signals = " ".join(f"{k}={v}" for k, v in item.signals.items())
        typer.echo(
            f"entry {item.entry_id} of {item.hash_set!r}, since {_when(item.quarantined_at)}: "
            f"{signals}"
        )
        typer.echo(f"  {item.reason or 'no reason recorded'}")


@app.command("release")
def release_cmd(
    entry_id: Annotated[int, typer.Argument(help="The quarantined entry's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may match again.")],
    db: DbOption = None,
) -> None:
    """Let a quarantined entry match again (audited with the reason; the set is then matched
    retroactively, for what the entry would have found while held)."""
    from kaitiaki.audit.reasons import ReasonError
    from kaitiaki.hashsets.quarantine import release

    with hashset_session(db) as store, user_errors(ReasonError):
        held = release(store, entry_id, reason=reason, actor=cli_actor())
    typer.echo(f"released entry {entry_id} of {held.hash_set!r}")


def _echo_operations(report: RetroReport) -> None:
    """Each operation whose catalog met the new entries: flags, accounts, priorities."""
    for op in report.operations:
        typer.echo(
            f"  operation {op.analysis}: {op.objects_matched} catalog objects matched, "
            f"{op.objects_now_flagged} newly flagged; {op.accounts_newly_flagged} accounts "
            f"newly flagged, {op.accounts_updated} updated"
        )
        for account in op.newly_flagged:
            typer.echo(f"    account newly flagged: {account}")
        for change in op.priorities:
            typer.echo(
                f"    subject {change.subject_id}: priority {change.before.score:g} "
                f"({change.before.tier}) -> {change.after.score:g} ({change.after.tier})"
            )
        for subject in op.priorities_held_back:
            typer.echo(f"    subject {subject}: scored with other weights; not rescored")
    for error in report.errors:
        typer.echo(f"  could not match: {error}")


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="hashset")
