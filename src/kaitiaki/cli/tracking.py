"""``kaitiaki referral status|history``, ``kaitiaki outcomes import`` and ``kaitiaki stats``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

referral_app = typer.Typer(name="referral", help="Referrals to partner agencies.")
outcomes_app = typer.Typer(
    name="outcomes", help="Outcomes reported by partner agencies.", no_args_is_help=True
)
console = Console()


def status(
    referral: Annotated[str, typer.Argument(metavar="REF")],
    new_status: Annotated[str, typer.Argument(metavar="STATUS")],
    note: Annotated[str, typer.Option(help="Why, or what the partner said.")] = "",
    db: DbOption = None,
) -> None:
    """Move a referral to the next status of its lifecycle (no step skipped); recorded as the
    operator at the keyboard ($KAITIAKI_USER, else the login name)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.service import ReferralError, change_status
    from kaitiaki.users.scope import Scope

    with user_errors(ReferralError):
        change = change_status(
            store_from(db),
            referral,
            new_status,
            actor=cli_actor(),
            scope=Scope.operator(),
            note=note,
        )
    console.print(f"referral {change.referral_id}: {change.status} ({change.at:%Y-%m-%d %H:%M})")


def history_cmd(
    referral: Annotated[str, typer.Argument(metavar="REF")],
    db: DbOption = None,
) -> None:
    """Every status change of a referral, oldest first."""
    from kaitiaki.refer.service import ReferralError, history
    from kaitiaki.users.scope import Scope

    with user_errors(ReferralError):
        changes = history(store_from(db), referral, scope=Scope.operator())
    table = Table(title=f"Referral {referral}")
    for column in ("when", "status", "by", "note"):
        table.add_column(column)
    for change in changes:
        table.add_row(f"{change.at:%Y-%m-%d %H:%M}", change.status, change.by, change.note)
    console.print(table)


def _signed(path: Path) -> bool:
    from kaitiaki.refer.envelope import is_envelope

    try:
        with path.open("rb") as handle:
            return is_envelope(handle.read(1 << 20))
    except OSError:
        return False  # the CSV path below says what is wrong with the file


def _import_signed(path: Path, key: Path | None, db: str | None) -> None:
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.envelope import EnvelopeError
    from kaitiaki.refer.outcome_file import OutcomeFileError
    from kaitiaki.refer.outcome_import import import_outcome_file
    from kaitiaki.refer.service import ReferralError
    from kaitiaki.refer.signing import group_fingerprint
    from kaitiaki.users.scope import Scope

    with user_errors(EnvelopeError, OutcomeFileError, ReferralError):
        result = import_outcome_file(
            store_from(db), path, actor=cli_actor(), scope=Scope.operator(), pinned=key
        )
    console.print(
        f"verified: signed by {escape(result.sender)} "
        f"({group_fingerprint(result.key_fingerprint)})",
        highlight=False,
        soft_wrap=True,
    )
    if result.already_imported:
        console.print("already imported: nothing changed", highlight=False)
        return
    counts = [
        f"{n:,} {label}"
        for label, n in (
            ("arrested", result.added["arrested"]),
            ("children safeguarded", result.added["children_safeguarded"]),
            ("devices seized", result.added["devices_seized"]),
            ("no further action", result.added["no_further_action"]),
        )
        if n
    ]
    moved = f"status {' -> '.join(result.statuses)}" if result.statuses else "status unchanged"
    console.print(
        f"referral {result.referral_id}: {result.new_steps:,} new step(s), {moved} "
        f"(now {result.status})" + (f"; {', '.join(counts)}" if counts else ""),
        highlight=False,
        soft_wrap=True,
    )


@outcomes_app.command("import")
def outcomes_import(
    csv_file: Annotated[Path, typer.Argument(metavar="FILE")],
    key: Annotated[
        Path | None,
        typer.Option(
            help="A signed outcome file: verify against this partner public key (which must "
            "also be in the trust store) rather than every trusted key."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import a partner's signed outcome file (verified against the trust store), or a CSV of
    referral_id,subject_id,status,date,arrested,children_safeguarded,note rows; each change is
    audited as the operator at the keyboard, naming the file (and its step or row)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.outcomes import OutcomesError
    from kaitiaki.refer.service import import_outcomes
    from kaitiaki.users.scope import Scope

    if _signed(csv_file):
        _import_signed(csv_file, key, db)
        return
    if key is not None:
        raise typer.BadParameter("is for a signed outcome file, not a CSV", param_hint="--key")
    with user_errors(OutcomesError, OSError):
        result = import_outcomes(
            store_from(db), csv_file, actor=cli_actor(), scope=Scope.operator()
        )
    console.print(
        f"imported {result.rows:,} row(s): {result.status_changes:,} status change(s), "
        f"{result.arrested:,} arrested, {result.children_safeguarded:,} children safeguarded"
    )


def stats(
    charts: Annotated[
        Path | None, typer.Option(help="Folder for PNG and SVG charts.", file_okay=False)
    ] = None,
    db: DbOption = None,
) -> None:
    """The operation's figures: accounts, subjects, referrals, outcomes; optional charts."""
    from kaitiaki.refer.service import figures as operation_figures
    from kaitiaki.refer.stats import write_charts
    from kaitiaki.users.scope import Scope

    figures = operation_figures(store_from(db), scope=Scope.operator())
    table = Table(title="Operation figures")
    table.add_column("")
    table.add_column("value", justify="right")
    for label, value in (
        ("accounts identified", figures.accounts),
        ("subjects", figures.subjects),
        ("countries", figures.countries),
        ("referrals", figures.referrals),
        ("arrests", figures.arrests),
        ("children safeguarded", figures.children_safeguarded),
        ("no further action", figures.no_further_action),
        ("devices seized", figures.devices_seized),
    ):
        table.add_row(label, f"{value:,}")
    for name, count in figures.referrals_by_status.items():
        table.add_row(f"referrals {name}", f"{count:,}")
    for name, count in figures.priority_tiers.items():
        table.add_row(f"priority {name}", f"{count:,}")
    console.print(table)
    countries = Table(title="By country")
    columns = (
        "country",
        "subjects",
        "referred",
        "referrals",
        "arrests",
        "children safeguarded",
        "no further action",
    )
    for column in columns:
        countries.add_column(column, justify="left" if column == "country" else "right")
    for country, row in figures.by_country.items():
        countries.add_row(
            country,
            f"{row.subjects:,}",
            f"{row.referred:,}",
            f"{row.referrals:,}",
            f"{row.arrests:,}",
            f"{row.children_safeguarded:,}",
            f"{row.no_further_action:,}",
        )
    console.print(countries)
    months = sorted(
        set(figures.activity_by_month)
        | set(figures.referrals_by_month)
        | set(figures.arrests_by_month)
        | set(figures.children_safeguarded_by_month)
        | set(figures.no_further_action_by_month)
    )
    over_time = Table(title="Over time")
    for column in (
        "month",
        "accounts first seen",
        "referrals",
        "arrests",
        "children safeguarded",
        "no further action",
    ):
        over_time.add_column(column, justify="left" if column == "month" else "right")
    for month in months:
        over_time.add_row(
            month,
            f"{figures.activity_by_month.get(month, 0):,}",
            f"{figures.referrals_by_month.get(month, 0):,}",
            f"{figures.arrests_by_month.get(month, 0):,}",
            f"{figures.children_safeguarded_by_month.get(month, 0):,}",
            f"{figures.no_further_action_by_month.get(month, 0):,}",
        )
    console.print(over_time)
    if charts is not None:
        for path in write_charts(figures, charts):
            console.print(f"wrote {path}")


def named_group(root: typer.Typer, name: str, default: typer.Typer) -> typer.Typer:
    """The command group ``name`` another module registered, or ``default`` added now: several
    modules add commands to ``referral`` and ``outcomes``."""
    group = next(
        (
            g.typer_instance
            for g in root.registered_groups
            if (g.name or (g.typer_instance and g.typer_instance.info.name)) == name
        ),
        None,
    )
    if group is None:
        root.add_typer(default)
        return default
    return group


def register(root: typer.Typer) -> None:
    group = named_group(root, "referral", referral_app)
    group.command("status")(status)
    group.command("history")(history_cmd)
    named_group(root, "outcomes", outcomes_app)
    root.command("stats")(stats)
