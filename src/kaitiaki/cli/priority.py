"""``kaitiaki priority`` and ``kaitiaki enrichment``: explainable scores a person decides on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

if TYPE_CHECKING:
    from kaitiaki.priority import PriorityResult

app = typer.Typer(
    name="priority", help="Score subjects with reasons; override by hand.", no_args_is_help=True
)
enrichment_app = typer.Typer(
    name="enrichment", help="Partners' risk indicators per subject.", no_args_is_help=True
)
console = Console()


def _table(results: list[PriorityResult], title: str, limit: int | None) -> Table:
    table = Table(title=title, show_lines=True)
    for column in ("subject", "score", "tier", "reasons"):
        table.add_column(column, justify="right" if column == "score" else "left")
    for result in results[:limit] if limit else results:
        tier = result.tier
        if result.override_tier:
            tier = f"{result.override_tier} (override by {result.override_by}; was {result.tier})"
        reasons = [f"+{f['points']:g} {f['reason']}" for f in result.factors if f["points"] > 0]
        if result.override_reason:
            reasons.append(f"override: {result.override_reason}")
        table.add_row(result.subject_id, f"{result.score:g}", tier, "\n".join(reasons) or "-")
    return table


@app.command("compute")
def compute(
    weights: Annotated[Path | None, typer.Option(help="TOML file of weights and tiers.")] = None,
    workspace: Annotated[
        Path | None,
        typer.Option(help="Analysis workspace (<out>/workspace): adds new material and reach."),
    ] = None,
    top: Annotated[int, typer.Option(help="Rows to show.")] = 20,
    db: DbOption = None,
) -> None:
    """Score every subject; investigators' overrides are kept."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.priority import PriorityError, WeightsError, load_weights, prioritise

    with user_errors(PriorityError, WeightsError):
        chosen = load_weights(weights) if weights else None
        results = prioritise(store_from(db), actor=cli_actor(), weights=chosen, workspace=workspace)
    if not results:
        console.print(
            "no subjects to score: 'kaitiaki operation analyse' makes them from flagged accounts",
            highlight=False,
            soft_wrap=True,
        )
        return
    console.print(_table(results, f"Priorities of {len(results):,} subjects", top))
    console.print("The score helps a person decide; it decides nothing by itself.")


@app.command("show")
def show(
    tier: Annotated[str | None, typer.Option(help="Only this tier (after overrides).")] = None,
    limit: Annotated[int | None, typer.Option(help="Rows to show.")] = None,
    db: DbOption = None,
) -> None:
    """The stored priorities, highest score first, with the reasons."""
    from kaitiaki.priority import PriorityError, priorities

    with user_errors(PriorityError):
        results = priorities(store_from(db), tier=tier)
    console.print(_table(results, f"{len(results):,} subject(s)", limit))


@app.command("override")
def override_cmd(
    subject: str,
    tier: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the override).")],
    by: Annotated[
        str | None,
        typer.Option(help="Who decided, when not you (kept with the override; you are the actor)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Set a subject's tier by hand, with a recorded reason."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.priority import PriorityError, override

    with user_errors(PriorityError):
        result = override(store_from(db), subject, tier, reason, cli_actor(), decided_by=by)
    console.print(
        f"subject {result.subject_id}: tier {result.override_tier} (computed {result.tier})"
    )


@enrichment_app.command("import")
def enrichment_import(
    csv_file: Annotated[Path, typer.Argument(metavar="CSV")],
    db: DbOption = None,
) -> None:
    """Import subject_id + position_of_trust, access_to_children, prior_offences, travel, notes."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.priority import EnrichmentError, import_enrichment

    with user_errors(EnrichmentError):
        result = import_enrichment(store_from(db), csv_file, actor=cli_actor())
    console.print(
        f"imported {result.rows:,} row(s), {result.values:,} value(s); "
        "run 'kaitiaki priority compute' to rescore"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app)
    root.add_typer(enrichment_app)
