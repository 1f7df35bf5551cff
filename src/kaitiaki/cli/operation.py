"""``kaitiaki operation``: analyse a provider's export into attributed subjects; evaluate it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from kaitiaki.cli.engine_options import (
    DriverMemoryOption,
    EngineChoice,
    EngineOption,
    SparkMasterOption,
)
from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

if TYPE_CHECKING:
    from kaitiaki.operation.analyse import AnalysisResult
    from kaitiaki.store import Store

app = typer.Typer(
    name="operation", help="From access records to attributed subjects.", no_args_is_help=True
)
console = Console()

FileList = Annotated[list[Path], typer.Option("--records", "-r", help="Access records (repeat).")]


@app.command("analyse")
def analyse(
    records: FileList,
    accounts: Annotated[Path, typer.Option(help="Accounts file (CSV, JSON Lines, Parquet).")],
    catalog: Annotated[Path, typer.Option(help="File catalog: object_id and hashes.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    hash_set: Annotated[
        list[str] | None,
        typer.Option("--hash-set", "-s", help="Hash set (repeat); default: every enabled set."),
    ] = None,
    mapping: Annotated[Path | None, typer.Option(help="Column-mapping TOML file.")] = None,
    assume_tz: Annotated[
        str | None,
        typer.Option(help="Time zone of timestamps written without one (e.g. Pacific/Auckland)."),
    ] = None,
    mmdb: Annotated[Path | None, typer.Option(help="MaxMind country/city .mmdb to use.")] = None,
    asn_mmdb: Annotated[Path | None, typer.Option(help="MaxMind ASN .mmdb to use.")] = None,
    hosting_list: Annotated[
        Path | None, typer.Option(help="Extra hosting/VPN CIDRs or ASNs, one a line.")
    ] = None,
    agencies: Annotated[Path | None, typer.Option(help="Country -> agency CSV to use.")] = None,
    reviewer_flags: Annotated[
        Path | None, typer.Option(help="CSV of object_id[,category] flagged by reviewers.")
    ] = None,
    weak_links: Annotated[
        bool, typer.Option(help="Also join accounts seen on one IP within minutes.")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option(
            envvar="KAITIAKI_OPERATION_KEY",
            help="Secret that namespaces subject ids (over --key-file).",
            show_default=False,
        ),
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(help="File holding that secret (an operation folder's keys/operation.key)."),
    ] = None,
    engine: EngineOption = EngineChoice.duckdb,
    spark_master: SparkMasterOption = None,
    spark_driver_memory: DriverMemoryOption = None,
    db: DbOption = None,
) -> None:
    """Ingest, flag, count, resolve, attribute and route; write CSV/Parquet and the store."""
    from sqlalchemy import select

    from kaitiaki.audit import cli_actor
    from kaitiaki.engines import EngineError
    from kaitiaki.engines.spark_session import SparkSettings, SparkUnavailableError
    from kaitiaki.geo import AgencyTableError, HostingListError, MmdbError
    from kaitiaki.match import HashSetNotFoundError
    from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation
    from kaitiaki.operation.flag import ReviewerFlagsError
    from kaitiaki.operation.secret import OperationKeyError, operation_key
    from kaitiaki.records import IngestError, MappingError
    from kaitiaki.store.models import AccountLink

    store = store_from(db)
    with store.session() as session:
        rejected = [
            (link.account_a, link.account_b)
            for link in session.scalars(select(AccountLink).where(AccountLink.rejected))
        ]
    with user_errors(OperationKeyError):
        secret = operation_key(key, key_file)
    options = AnalysisOptions(
        hash_sets=hash_set,
        mapping=mapping,
        assume_tz=assume_tz,
        mmdb=mmdb,
        asn_mmdb=asn_mmdb,
        hosting_list=hosting_list,
        agencies=agencies,
        reviewer_flags=reviewer_flags,
        weak_links=weak_links,
        operation_key=secret,
        engine=engine.value,
        spark=SparkSettings(master=spark_master, driver_memory=spark_driver_memory),
    )
    errors = (
        SparkUnavailableError,
        IngestError,
        MappingError,
        HashSetNotFoundError,
        AgencyTableError,
        HostingListError,
        MmdbError,
        ReviewerFlagsError,
        EngineError,
        FileNotFoundError,
    )
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with user_errors(*errors), Progress(*columns, console=console) as bars:
        tasks: dict[str, TaskID] = {}

        def step(text: str) -> None:
            console.log(text)

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total or None)
            bars.update(tasks[stage], completed=done, total=total or None)

        result = analyse_operation(
            store,
            records,
            accounts,
            catalog,
            out,
            options,
            step=step,
            progress=progress,
            rejected_links=rejected,
            actor=cli_actor(),
        )
    table = Table(title=f"Operation analysis in {out}")
    table.add_column("")
    table.add_column("value", justify="right")
    for ingest in result.ingests:
        rows = sum(f.rows_read for f in ingest.files)
        table.add_row(
            f"{ingest.kind} rows read / rejected",
            f"{rows:,} / {sum(f.rejected for f in ingest.files):,}",
        )
    table.add_row(
        "catalog objects flagged", f"{result.objects_flagged:,} of {result.objects_checked:,}"
    )
    table.add_row("flagged accounts", f"{result.flagged_accounts:,}")
    table.add_row("subjects", f"{result.subjects:,}")
    table.add_row("links kept", f"{result.links:,}")
    table.add_row("countries", f"{len(result.countries):,}")
    table.add_row("behind VPN/hosting", f"{result.vpn_or_hosting:,}")
    table.add_row("no attributable country", f"{result.unattributed:,}")
    console.print(table)
    top = ", ".join(f"{c} {n}" for c, n in result.countries.most_common(10))
    console.print(f"subjects by country (top 10): {top}")
    for met in result.series:
        if met.victim_identified is None:
            status = "victim identification unknown or disputed"
        else:
            status = "victim identified" if met.victim_identified else "victim NOT identified"
        console.print(f"series met: {met.name}: {met.objects:,} flagged object(s), {status}")
    for name in ("flagged_accounts.csv", "subjects.csv", "links.csv", "rejects.csv"):
        console.print(f"wrote {out / name}")
    if not result.flagged_accounts:
        console.print(_none_flagged(store, result, hash_set), highlight=False, soft_wrap=True)


def _none_flagged(store: Store, result: AnalysisResult, hash_sets: list[str] | None) -> str:
    """Why an analysis flagged no account (so made no subjects to refer)."""
    from kaitiaki.hashsets.enabled import NO_ENABLED_SET, no_enabled_set

    if not result.objects_checked:
        why = "the catalog lists no object"
    elif result.objects_flagged:
        why = (
            f"no access record matched one of the {result.objects_flagged:,} flagged catalog "
            "objects"
        )
    elif no_enabled_set(store, hash_sets):
        why = f"no catalog object could be flagged: {NO_ENABLED_SET}"
    else:
        why = f"none of the {result.objects_checked:,} catalog objects matched a hash set"
    return f"no account is flagged: {why}; there are no subjects to refer"


@app.command("evaluate")
def evaluate_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder of an analysis.")],
    truth: Annotated[Path, typer.Option(help="ground_truth.json of a simulated operation.")],
) -> None:
    """Score an analysis of a simulated operation against its ground truth."""
    from kaitiaki.operation.evaluate import evaluate

    with user_errors(FileNotFoundError, KeyError):
        result = evaluate(out, truth)
    table = Table(title="Accuracy against the ground truth")
    for column in ("measure", "value", "target"):
        table.add_column(column)
    table.add_row(
        "flagged accounts exact",
        f"{result.flagged_exact:,} of {result.flagged_expected:,} (found {result.flagged_found:,})",
        "all",
    )
    table.add_row("subjects precision", f"{result.precision:.4f}", ">= 0.99")
    table.add_row("subjects recall", f"{result.recall:.4f}", ">= 0.95")
    table.add_row(
        "country accuracy (no VPN)",
        f"{result.country_accuracy:.4f} ({result.country_correct}/{result.country_total})",
        ">= 0.98",
    )
    table.add_row("VPN/hosting subjects flagged", f"{result.vpn_flagged}/{result.vpn_total}", "all")
    table.add_row("VPN subjects attributed silently", str(result.vpn_silently_attributed), "0")
    table.add_row(
        "malformed rows rejected", f"{result.malformed_rejected}/{result.malformed_expected}", "all"
    )
    console.print(table)
    for line in result.flagged_mismatches[:10]:
        console.print(f"[red]flagged account mismatch[/] {line}")


@app.command("unlink")
def unlink(
    account_a: str,
    account_b: str,
    reason: Annotated[str, typer.Option(help="Why the link is wrong (kept in the record).")],
    by: Annotated[
        str | None,
        typer.Option(help="Who decided, when not you (kept with the link; you are the actor)."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Undo a link between two accounts; the next analysis keeps them apart."""
    from kaitiaki.accounts.service import LinkDecisionError, reject_link
    from kaitiaki.audit import cli_actor
    from kaitiaki.audit.reasons import ReasonError

    with user_errors(LinkDecisionError, ReasonError):
        rejected = reject_link(
            store_from(db), account_a, account_b, reason=reason, actor=cli_actor(), decided_by=by
        )
    console.print(
        f"link {rejected.account_a} - {rejected.account_b} rejected "
        f"({len(rejected.reasons)} reason(s)); re-run the analysis"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app)
