"""``kaitiaki scan`` and ``kaitiaki export``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from kaitiaki.cli.engine_options import (
    DriverMemoryOption,
    EngineChoice,
    EngineOption,
    SparkMasterOption,
)
from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.scan.export import FORMATS

if TYPE_CHECKING:
    # Imported where used: every command pays for the modules it needs, not for all of them.
    from kaitiaki.scan.runner import ScanResult
    from kaitiaki.scan.summary import Summary
    from kaitiaki.store import Store

console = Console()


class RateColumn(ProgressColumn):
    """Files per second over the whole run so far (Rich's own speed column is a short window)."""

    def render(self, task: Task) -> Text:
        elapsed = task.finished_time if task.finished else task.elapsed
        rate = task.completed / elapsed if elapsed else 0.0
        if task.fields.get("unit") == "bytes":
            return Text(f"{rate / 1e6:,.1f} MB/s", style="progress.data.speed")
        return Text(f"{rate:,.1f} files/s", style="progress.data.speed")


def print_summary(summary: Summary, out: Console) -> None:
    table = Table(title=f"Evidence {summary.evidence!r}", show_header=True)
    table.add_column("", style="bold")
    table.add_column("files", justify="right")
    table.add_row("file instances", f"{summary.instances:,}")
    table.add_row("unique contents", f"{summary.unique_files:,}")
    if summary.fs_metadata:  # $MFT, $UPCASE_TABLE...: not the user's files, so not above
        table.add_row("file-system metadata (apart)", f"{summary.fs_metadata:,}")
    table.add_section()
    for kind, count in sorted(summary.by_type.items()):
        table.add_row(f"type: {kind}", f"{count:,}")
    table.add_section()
    for (hash_set, category), count in sorted(summary.known_by_category.items()):
        table.add_row(f"known: {hash_set} category {category}", f"{count:,}")
    table.add_row("known", f"{summary.by_label['known']:,}")
    table.add_row("ignorable (non-pertinent)", f"{summary.by_label['ignorable']:,}")
    if summary.by_label["suppressed"]:
        # Matched, but an allowlist set lists the file too (match.controls).
        table.add_row("suppressed (allowlist)", f"{summary.by_label['suppressed']:,}")
    new_detail = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.new_by_type.items()))
    table.add_row(f"new ({new_detail})" if new_detail else "new", f"{summary.by_label['new']:,}")
    table.add_row("errors", f"{summary.by_label['error']:,}")
    out.print(table)
    print_series(summary, out)
    if summary.manifest_sha256:
        out.print(f"manifest SHA-256: {summary.manifest_sha256}", soft_wrap=True)
    print_acquisition(summary, out)


def print_acquisition(summary: Summary, out: Console) -> None:
    """Each acquisition check on a line of its own; a mismatch in bold red."""
    for check in summary.acquisition:
        style = "bold red" if check.mismatch else "green" if check.status == "verified" else ""
        out.print(Text(f"acquisition hash {check.line()}", style=style), soft_wrap=True)
    mismatches = sum(1 for check in summary.acquisition if check.mismatch)
    if mismatches:
        out.print(
            Text(
                f"WARNING: {mismatches} acquisition hash mismatch(es): what was read is not "
                "what was acquired",
                style="bold red",
            )
        )


def print_series(summary: Summary, out: Console) -> None:
    """New material with no series first (for victim identification), then the series met."""
    waiting = summary.new_without_series
    if waiting:
        detail = ", ".join(f"{kind} {count:,}" for kind, count in sorted(waiting.items()))
        out.print(
            f"for victim identification: {sum(waiting.values()):,} new files linked to no "
            f"series ({detail})"
        )
    if not summary.series:
        return
    table = Table(title="Series met", show_header=True)
    for column in ("series", "files", "instances", "victim"):
        table.add_column(column, justify="right" if column in ("files", "instances") else "left")
    for met in summary.series:
        status = met.victim_status + (" (sources disagree)" if met.conflicting else "")
        if met.victims:
            status += f"; {met.victims_identified}/{met.victims} victims identified"
        table.add_row(
            Text(met.name),
            f"{met.files:,}",
            f"{met.instances:,}",
            Text(f"{status} ({met.status_source})"),
        )
    out.print(table)


def scan_with_progress(
    store: Store,
    paths: list[Path],
    evidence: str,
    hash_sets: list[str] | None,
    workers: int | None,
    *,
    description: str = "",
    acquired_by: str = "",
    add_to_existing: bool = False,
    instances_viewed: bool | None = None,
    expected_sha256: dict[str, str] | None = None,
    robust: bool = True,
) -> ScanResult:
    """Run a scan under a Rich progress bar (files done, files/s, time left); each E01's media,
    read for its acquisition hash, has a bar of its own (bytes)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.scan.runner import run_scan

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("scanning", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        verifying: dict[str, TaskID] = {}

        def on_verify(source: str, done: int, total: int) -> None:
            if source not in verifying:
                name = Path(source).name
                verifying[source] = progress.add_task(
                    f"verifying {escape(name)}", total=total, unit="bytes"
                )
            progress.update(verifying[source], completed=done, total=total)

        result = run_scan(
            store,
            paths,
            evidence,
            hash_sets,
            workers=workers,
            description=description,
            acquired_by=acquired_by,
            add_to_existing=add_to_existing,
            actor=cli_actor(),
            on_progress=update,
            instances_viewed=instances_viewed,
            expected_sha256=expected_sha256,
            on_verify=on_verify,
            robust=robust,
        )
    if result.sources_skipped:
        console.print(f"resumed: {result.sources_skipped:,} files were already recorded")
    for note in result.notes:
        console.print(note)
    console.print(f"{result.records_written:,} records written in {result.seconds:.1f} s")
    return result


def scan(
    paths: Annotated[
        list[Path], typer.Argument(help="Files, folders, archives or disk images to scan.")
    ],
    evidence: Annotated[str, typer.Option("--evidence", "-e", help="Evidence item name.")],
    hash_set: Annotated[
        list[str] | None,
        typer.Option(
            "--hash-set", "-s", help="Hash set to match (repeat); default: every enabled set."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, help="Hashing processes; default one per core."),
    ] = None,
    description: Annotated[str, typer.Option(help="What the evidence is.")] = "",
    acquired_by: Annotated[str, typer.Option(help="Who acquired it.")] = "",
    add_to_existing: Annotated[
        bool,
        typer.Option(
            "--add-to-existing",
            help="Add PATHS to an evidence item that already exists (audited); without it an"
            " existing name is only resumed.",
        ),
    ] = False,
    viewed_by_provider: Annotated[
        Path | None,
        typer.Option(
            "--viewed-by-provider",
            help="A provider export: FILE lists the files a person at the provider viewed, one"
            " a line (MD5, SHA-1 or SHA-256 hex, or a path relative to the scanned folder)."
            " Listed files are marked viewed, all others not viewed: those open only with a"
            " legal basis.",
        ),
    ] = None,
    engine: EngineOption = EngineChoice.duckdb,
    spark_master: SparkMasterOption = None,
    spark_driver_memory: DriverMemoryOption = None,
    results: Annotated[
        Path | None,
        typer.Option(
            help="--engine spark: Parquet folder for the per-file results, on storage the"
            " executors can write (default: EVIDENCE.scan.parquet here)."
        ),
    ] = None,
    expected_sha256: Annotated[
        list[str] | None,
        typer.Option(
            "--expected-sha256",
            help="The SHA-256 a path was acquired with, checked and recorded in the chain of"
            " custody: HEX when one PATH is scanned, else PATH=HEX (PATH as given; repeat per"
            " path). A file (archive, raw or E01 image) is compared on its bytes (sha256sum"
            " FILE); a folder on its listing: cd FOLDER && find . -type f -print0 | LC_ALL=C"
            " sort -z | xargs -0 sha256sum | sha256sum. E01s are always checked against the"
            " MD5/SHA-1 they store.",
        ),
    ] = None,
    no_robust: Annotated[
        bool,
        typer.Option(
            "--no-robust",
            help="Leave out the robust signal (faster): edited copies are then found through"
            " PDQ and its trimmed views only, and near-duplicate groups use PDQ alone.",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Hash, match and classify every file under PATHS; resumes an interrupted scan.

    With ``--engine spark`` the files are hashed on the Spark executors, which must see PATHS
    at the same place (a shared file system); the results are the same as a local scan's.
    """
    from kaitiaki.audit import cli_actor
    from kaitiaki.engines.spark_session import SparkUnavailableError
    from kaitiaki.hashsets.enabled import NO_ENABLED_SET, no_enabled_set
    from kaitiaki.match import HashSetNotFoundError
    from kaitiaki.scan.acquisition import ExpectedHashError, parse_expected
    from kaitiaki.scan.evidence import EvidenceExistsError
    from kaitiaki.scan.provider_views import ViewedListError, check_list
    from kaitiaki.scan.summary import summarise

    if viewed_by_provider is not None:
        # Checked before the scan: a bad line fails now, not after hours of hashing.
        with user_errors(ViewedListError):
            listed = check_list(viewed_by_provider)
        console.print(f"provider's viewed list: {listed.entries:,} entr(y/ies)")
    with user_errors(ExpectedHashError):  # a typo fails now, not after hours of hashing
        expected = parse_expected(expected_sha256 or [], paths)
    # While the list is applied, new instances count as not viewed (the safe side).
    instances_viewed = False if viewed_by_provider is not None else None
    store = store_from(db)
    if no_enabled_set(store, hash_set):
        typer.echo(
            f"note: {NO_ENABLED_SET}; the files are hashed and stored but nothing can match "
            "now (a set imported later is matched against them)",
            err=True,
        )
    if engine is EngineChoice.spark:
        from kaitiaki.engines.spark_session import SparkSettings, spark_session
        from kaitiaki.scan.spark_scan import run_spark_scan

        folder = results or Path(f"{evidence}.scan.parquet")
        with user_errors(
            HashSetNotFoundError, FileNotFoundError, SparkUnavailableError, EvidenceExistsError
        ):
            session = spark_session(
                SparkSettings(master=spark_master, driver_memory=spark_driver_memory)
            )
            done = run_spark_scan(
                store,
                session,
                paths,
                evidence,
                str(folder.absolute()),
                hash_set,
                description=description,
                acquired_by=acquired_by,
                add_to_existing=add_to_existing,
                actor=cli_actor(),
                instances_viewed=instances_viewed,
                expected_sha256=expected,
            )
        _mark_viewed(store, done, viewed_by_provider, paths)
        if done.sources_skipped:
            console.print(f"resumed: {done.sources_skipped:,} files were already recorded")
        console.print(
            f"{done.records_written:,} records written in {done.seconds:.1f} s"
            f" (per-file results in {folder})"
        )
        print_summary(summarise(store, evidence), console)
        return
    with user_errors(HashSetNotFoundError, FileNotFoundError, EvidenceExistsError):
        result = scan_with_progress(
            store,
            paths,
            evidence,
            hash_set,
            workers,
            description=description,
            acquired_by=acquired_by,
            add_to_existing=add_to_existing,
            instances_viewed=instances_viewed,
            expected_sha256=expected,
            robust=not no_robust,
        )
    _mark_viewed(store, result, viewed_by_provider, paths)
    print_summary(summarise(store, evidence), console)


def _mark_viewed(store: Store, result: ScanResult, listed: Path | None, paths: list[Path]) -> None:
    """Apply the provider's viewed list to the evidence item just scanned (audited)."""
    if listed is None:
        return
    from kaitiaki.audit import cli_actor
    from kaitiaki.scan.provider_views import ViewedListError, mark_viewed

    with user_errors(ViewedListError):
        marks = mark_viewed(store, result.evidence_id, listed, paths, actor=cli_actor())
    console.print(marks.describe(), soft_wrap=True)


def summary(
    evidence: Annotated[str, typer.Option("--evidence", "-e", help="Evidence item name.")],
    db: DbOption = None,
) -> None:
    """Print the summary of an evidence item already scanned."""
    from kaitiaki.scan.summary import EvidenceNotFoundError, summarise

    store = store_from(db)
    with user_errors(EvidenceNotFoundError):
        print_summary(summarise(store, evidence), console)


def export_results(
    evidence: Annotated[str, typer.Option("--evidence", "-e", help="Evidence item name.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"One of {', '.join(FORMATS)}.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    db: DbOption = None,
) -> None:
    """Write an evidence item's results (hashes and records, never images)."""
    from kaitiaki.scan.export import export
    from kaitiaki.scan.summary import EvidenceNotFoundError

    store = store_from(db)
    with user_errors(EvidenceNotFoundError, ValueError):
        count = export(store, evidence, fmt, output)
    console.print(f"wrote {count:,} records to {output}")


def register(app: typer.Typer) -> None:
    app.command("scan")(scan)
    app.command("summary")(summary)
    app.command("export")(export_results)
