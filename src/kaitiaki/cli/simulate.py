"""``kaitiaki simulate``: generated data for demos, tests and measurements."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.simulate.operation import SCALES, OperationSample, simulate_operation

app = typer.Typer(name="simulate", help="Generate simulated, benign data.", no_args_is_help=True)
console = Console()


class ScaleName(StrEnum):
    small = "small"
    model_case = "model-case"


class RecordFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"
    parquet = "parquet"


def _size(path: Path) -> str:
    size = float(path.stat().st_size)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def _summary(sample: OperationSample) -> Table:
    table = Table(title=f"simulated operation in {sample.out_dir}", show_header=False)
    rows = [
        ("accounts", f"{sample.accounts:,} ({sample.persons:,} people)"),
        ("flagged accounts", f"{sample.flagged_accounts:,}"),
        ("subjects", f"{sample.subjects:,} ({sample.extra['vpn_subjects']:,} behind a VPN)"),
        ("events", f"{sample.events:,} clean, {sample.rows:,} rows written"),
        ("noise", f"{sample.duplicate_rows:,} duplicate, {sample.malformed_rows:,} malformed rows"),
        ("countries", f"{sample.countries}"),
        ("catalog objects", f"{sample.objects:,}"),
        ("time", f"{sample.seconds:.1f} s"),
    ]
    rows += [(name, f"{path.name} ({_size(path)})") for name, path in sample.files.items()]
    for name, value in rows:
        table.add_row(name, value)
    return table


def operation(
    out: Annotated[Path, typer.Option("--out", help="Folder for the export and its truth.")],
    scale: Annotated[
        ScaleName, typer.Option("--scale", help="Preset sizes; the options below override it.")
    ] = ScaleName.small,
    accounts: Annotated[int | None, typer.Option("--accounts", min=1)] = None,
    flagged: Annotated[int | None, typer.Option("--flagged", min=0)] = None,
    events: Annotated[int | None, typer.Option("--events", min=1)] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    formats: Annotated[
        list[RecordFormat] | None,
        typer.Option("--format", help="Record format; repeat for several (default by scale)."),
    ] = None,
) -> None:
    """Generate a realistic provider export (catalog, accounts, access records) and its truth."""
    preset = SCALES[scale.value]
    chosen = tuple(f.value for f in formats) if formats else preset.formats
    with (
        user_errors(ValueError),
        Progress(
            TextColumn("{task.description:<14}"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
    ):
        task: TaskID = bar.add_task("starting", total=1)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        sample = simulate_operation(
            out,
            accounts=accounts if accounts is not None else preset.accounts,
            flagged_accounts=flagged if flagged is not None else preset.flagged_accounts,
            events=events if events is not None else preset.events,
            seed=seed,
            formats=chosen,
            progress=report,
        )
    console.print(_summary(sample))


app.command("operation")(operation)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="simulate")
