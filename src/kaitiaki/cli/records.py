"""``kaitiaki records ingest`` and ``kaitiaki geo locate``: steps of an operation, alone."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from kaitiaki.cli.errors import user_errors

records_app = typer.Typer(name="records", help="Provider records.", no_args_is_help=True)
geo_app = typer.Typer(name="geo", help="Offline IP geolocation and routing.", no_args_is_help=True)
console = Console()


class RecordKind(StrEnum):
    records = "records"
    accounts = "accounts"
    catalog = "catalog"


@records_app.command("ingest")
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CSV, JSON Lines or Parquet files.")],
    workspace: Annotated[Path, typer.Option(help="Folder of the columnar store.")] = Path(
        "workspace"
    ),
    kind: Annotated[RecordKind, typer.Option(help="What the files hold.")] = RecordKind.records,
    mapping: Annotated[Path | None, typer.Option(help="Column-mapping TOML file.")] = None,
    assume_tz: Annotated[
        str | None, typer.Option(help="Time zone of timestamps written without one.")
    ] = None,
) -> None:
    """Validate, normalise and store records as Parquet; malformed rows go to rejects.csv."""
    from kaitiaki.records import IngestError, MappingError, ingest_records

    tasks: dict[str, TaskID] = {}
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with (
        user_errors(IngestError, MappingError, FileNotFoundError),
        Progress(*columns, console=console) as progress,
    ):

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total or None)
            progress.update(tasks[stage], completed=done, total=total or None)

        result = ingest_records(
            files, workspace, kind=kind.value, mapping=mapping, assume_tz=assume_tz, progress=report
        )
    table = Table(title=f"Ingested {kind.value} into {workspace}")
    for column in ("file", "status", "rows", "accepted", "rejected", "duplicates"):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    for f in result.files:
        table.add_row(
            str(f.path),
            f.status,
            f"{f.rows_read:,}",
            f"{f.accepted:,}",
            f"{f.rejected:,}",
            f"{f.duplicates:,}",
        )
    console.print(table)
    for reason, count in sorted(result.rejected_by_reason.items()):
        console.print(f"rejected {count:,}: {reason}")
    console.print(f"rejects: {result.rejects_path}")


@geo_app.command("locate")
def locate(
    ips: Annotated[list[str], typer.Argument(help="IPv4 or IPv6 addresses.")],
    mmdb: Annotated[Path | None, typer.Option(help="MaxMind country/city .mmdb to use.")] = None,
    asn_mmdb: Annotated[Path | None, typer.Option(help="MaxMind ASN .mmdb to use.")] = None,
    hosting_list: Annotated[Path | None, typer.Option(help="Extra hosting/VPN list.")] = None,
) -> None:
    """One JSON object per address: scope, country, network, ASN, hosting flag and agency."""
    from dataclasses import asdict

    from kaitiaki.geo import (
        AgencyTableError,
        HostingListError,
        MmdbError,
        load_agencies,
        open_geolocator,
    )

    # A missing, corrupt or wrong-kind database is the user's to fix: one line, exit 1. All
    # addresses are looked up before any is printed, so a failure leaves no partial answer.
    with user_errors(MmdbError, HostingListError, AgencyTableError):
        locator = open_geolocator(mmdb, asn_mmdb, hosting_list)
        agencies = load_agencies()
        infos = locator.locate_many(ips)
    for info in infos:
        row = asdict(info)
        attributable = info.scope == "public" and not info.hosting
        row["agency"] = agencies.for_country(info.country if attributable else None).agency
        typer.echo(json.dumps(row))


def register(root: typer.Typer) -> None:
    root.add_typer(records_app)
    root.add_typer(geo_app)
