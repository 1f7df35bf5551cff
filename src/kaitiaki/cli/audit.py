"""``kaitiaki audit``: read the audit log, verify its chain, take anchors of its head."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

app = typer.Typer(
    name="audit", help="The hash-chained audit log: read, verify, anchor.", no_args_is_help=True
)
console = Console()


@app.command("verify")
def verify_cmd(
    anchor: Annotated[
        Path | None,
        typer.Option(help="Anchor file from 'audit anchor'; also catches a truncated log."),
    ] = None,
    anchor_dir: Annotated[
        Path | None,
        typer.Option(
            help="Check against the newest anchor in this folder ('serve --anchor-dir').",
            file_okay=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Recompute every hash and link; exit 1 listing the problems if the log was tampered with."""
    from kaitiaki.audit import AnchorError, latest_anchor, read_anchor, verify_log

    if anchor is not None and anchor_dir is not None:
        raise typer.BadParameter("give --anchor or --anchor-dir, not both")
    with user_errors(AnchorError):
        found = None if anchor is None else read_anchor(anchor)
        if anchor_dir is not None:
            newest = latest_anchor(anchor_dir)
            if newest is None:
                raise AnchorError(f"{anchor_dir}: no anchor files (anchor-*.json) in it")
            found = newest[1]
    result = verify_log(store_from(db), found)
    for note in result.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    if not result.ok:
        for problem in result.problems:
            console.print(f"[bold red]problem:[/] {escape(problem)}")
        console.print(f"audit log NOT intact: {len(result.problems)} problem(s)")
        raise typer.Exit(1)
    checked = " and the anchor" if found is not None else " (no anchor: truncation not checked)"
    console.print(f"audit log intact: {result.entries:,} entries{checked}")


@app.command("log")
def log_cmd(
    target: Annotated[
        str | None, typer.Option(help="Only this target: an id, or type:id (referral:REF-1).")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only entries by this actor.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show the newest N entries.")] = 50,
    db: DbOption = None,
) -> None:
    """Show the newest entries, oldest of them first."""
    from sqlalchemy import select

    from kaitiaki.audit.log import canonical_at
    from kaitiaki.store.models import AuditEvent

    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if target is not None:
        kind, sep, ident = target.partition(":")
        if sep and ident:
            query = query.where(AuditEvent.target_type == kind, AuditEvent.target_id == ident)
        else:
            query = query.where(AuditEvent.target_id == target)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    with store_from(db).session() as session:
        events = list(session.scalars(query))
    table = Table(title="Audit log")
    for column in ("id", "at (UTC)", "actor", "action", "target", "reason"):
        table.add_column(column)
    for e in reversed(events):
        table.add_row(
            str(e.id),
            canonical_at(e.at),
            escape(e.actor),
            escape(e.action),
            escape(f"{e.target_type}:{e.target_id}"),
            escape(e.reason),
        )
    console.print(table)


@app.command("anchor")
def anchor_cmd(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write; default: print it.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write down the log's head; keep it away from the database to detect truncation later."""
    from kaitiaki.audit import AnchorError, take_anchor, write_anchor

    with user_errors(AnchorError, OSError):
        head = take_anchor(store_from(db))
        if out is not None:
            write_anchor(head, out)
    if out is None:
        typer.echo(head.to_json(), nl=False)
    else:
        console.print(f"anchored entry {head.id} ({head.hash[:16]}...) in {out}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
