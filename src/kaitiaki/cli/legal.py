"""``kaitiaki hold`` and ``kaitiaki retention``: legal holds and the retention policy.

Every change is audited as the operator (``cli:$KAITIAKI_USER``). Dates are read as ISO 8601
(a bare date means through the end of that day, UTC) and printed in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

if TYPE_CHECKING:
    from kaitiaki.legal.holds import HoldView


def _console() -> Console:
    # Made per call, not at import: Rich reads the terminal width (COLUMNS) when it is made.
    return Console(highlight=False)


hold_app = typer.Typer(
    name="hold",
    help="Legal holds: nothing a standing hold covers is deleted. add, list, release, extend.",
    no_args_is_help=True,
)
retention_app = typer.Typer(
    name="retention",
    help="The retention policy: delete what no legal hold covers once its time is up.",
    no_args_is_help=True,
)


def iso(at: datetime | None) -> str:
    if at is None:
        return "-"
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_date(text: str) -> datetime:
    """An ISO date or date-time; a bare date holds through its last second (UTC)."""
    from kaitiaki.legal.coverage import HoldError

    value = text.strip()
    try:
        if len(value) == 10:
            day = datetime.fromisoformat(value).date()
            return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HoldError(f"--expires: {text!r} is not an ISO date (YYYY-MM-DD)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@hold_app.command("add")
def add_cmd(
    basis: Annotated[str, typer.Option("--basis", help="The legal basis, in words.")],
    account: Annotated[
        str | None, typer.Option(help="A provider account id (the account's account_id).")
    ] = None,
    subject: Annotated[str | None, typer.Option(help="A subject id.")] = None,
    evidence: Annotated[str | None, typer.Option(help="An evidence item's name or id.")] = None,
    report: Annotated[str | None, typer.Option(help="A CyberTipline report's id.")] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            help="ncmec_report, preservation_request, court_order or other. Default: "
            "ncmec_report for --report, other (which needs --expires) otherwise."
        ),
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option(help="NCMEC's report id, the request's or the order's reference."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            help="Expiry date (YYYY-MM-DD, UTC). Default: a year after the report for "
            "ncmec_report, 90 days for preservation_request, none for court_order."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Place a legal hold on one account, subject, evidence item or CyberTipline report."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.legal.coverage import HoldError
    from kaitiaki.legal.holds import place_hold

    targets = {"account": account, "subject": subject, "evidence": evidence, "report": report}
    given = [(t, v) for t, v in targets.items() if v is not None]
    with user_errors(HoldError):
        if len(given) != 1:
            raise HoldError("name exactly one of --account, --subject, --evidence, --report")
        target_type, target_id = given[0]
        view = place_hold(
            store_from(db),
            actor=cli_actor(),
            target_type=target_type,
            target_id=target_id,
            basis_kind=kind or ("ncmec_report" if target_type == "report" else "other"),
            basis_text=basis,
            reference=reference,
            expires_at=None if expires is None else parse_date(expires),
        )
    until = f"until {iso(view.expires_at)}" if view.expires_at else "until released"
    # Plain echo: one line however narrow the terminal, for scripts to read the id from.
    typer.echo(
        f"hold {view.id}: {view.target_type} {view.target_id} held "
        f"({view.basis}{f' {view.reference}' if view.reference else ''}) {until}"
    )


def _status(view: HoldView) -> str:
    if view.released_at is not None:
        return "released"
    return "standing" if view.standing else "expired"


@hold_app.command("list")
def list_cmd(
    all_: Annotated[bool, typer.Option("--all", help="Released and expired holds too.")] = False,
    expiring_within: Annotated[
        int | None,
        typer.Option("--expiring-within", min=0, help="Only standing holds expiring within DAYS."),
    ] = None,
    db: DbOption = None,
) -> None:
    """List legal holds (standing ones unless --all)."""
    from kaitiaki.legal.holds import list_holds

    within = None if expiring_within is None else timedelta(days=expiring_within)
    views = list_holds(store_from(db), active_only=not all_, expiring_within=within)
    if not views:
        typer.echo("no holds")
        return
    table = Table(
        "id", "target", "basis", "reference", "expires (UTC)", "status", "placed by", "placed"
    )
    for v in views:
        table.add_row(
            str(v.id),
            f"{v.target_type} {escape(v.target_id)}",
            v.basis + (" (extended)" if v.extended_at else ""),
            escape(v.reference or "-"),
            iso(v.expires_at),
            _status(v),
            escape(v.created_by),
            iso(v.created_at),
        )
    _console().print(table)


@hold_app.command("release")
def release_cmd(
    hold_id: Annotated[int, typer.Argument(help="The hold's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it no longer applies.")],
    db: DbOption = None,
) -> None:
    """Release a hold before its expiry."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.legal.coverage import HoldError
    from kaitiaki.legal.holds import release_hold

    with user_errors(HoldError):
        view = release_hold(store_from(db), hold_id, actor=cli_actor(), reason=reason)
    typer.echo(f"hold {view.id} released")


@hold_app.command("extend")
def extend_cmd(
    hold_id: Annotated[int, typer.Argument(help="The preservation request's hold id.")],
    db: DbOption = None,
) -> None:
    """Extend a preservation request's hold by 90 days (once)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.legal.coverage import HoldError
    from kaitiaki.legal.holds import extend_hold

    with user_errors(HoldError):
        view = extend_hold(store_from(db), hold_id, actor=cli_actor())
    typer.echo(f"hold {view.id} extended until {iso(view.expires_at)}")


@retention_app.command("apply")
def apply_cmd(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go; change nothing.")
    ] = False,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="A TOML file with a \\[retention] table. Default: the file "
            "$KAITIAKI_RETENTION_POLICY names, else keep everything.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Delete what no legal hold covers once the policy's period has passed."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.legal.coverage import HoldError
    from kaitiaki.legal.retention import (
        RetentionError,
        apply_retention,
        load_policy,
        policy_from_env,
    )

    with user_errors(RetentionError, HoldError):
        chosen = load_policy(policy) if policy is not None else policy_from_env()
        if chosen.keeps_everything:
            typer.echo("the policy keeps everything: nothing to delete")
            return
        result = apply_retention(store_from(db), chosen, actor=cli_actor(), dry_run=dry_run)
    verb = "would delete" if dry_run else "deleted"
    table = Table("kind", verb, "kept: held", "kept: referred")
    for kind, found in result.kinds.items():
        listed = found.to_delete if dry_run else found.deleted
        held = ", ".join(f"{t} (hold {', '.join(map(str, h))})" for t, h in found.held.items())
        table.add_row(
            kind,
            escape(", ".join(listed) or "-"),
            escape(held or "-"),
            escape(", ".join(found.referred) or "-"),
        )
    _console().print(table)
    total = sum(len(f.to_delete if dry_run else f.deleted) for f in result.kinds.values())
    typer.echo(
        f"dry run: {total} records would be deleted" if dry_run else f"{total} records deleted"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(hold_app, name="hold")
    root.add_typer(retention_app, name="retention")
