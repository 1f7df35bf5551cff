"""``kaitiaki demo``: the main job on a generated benign sample, checked against its manifest."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from kaitiaki.cli.options import DbOption
from kaitiaki.cli.scan import print_summary, scan_with_progress

if TYPE_CHECKING:
    from kaitiaki.simulate.sample import SampleManifest

console = Console()
EVIDENCE = "demo-sample"  # kaitiaki.demo.EVIDENCE: the CLI module stays light to import


def _check(manifest: SampleManifest, store_rows: dict[str, dict[str, object]]) -> list[str]:
    """Differences between what the sample says each file is and what the scan concluded."""
    problems = []
    for expected in manifest.files:
        row = store_rows.get(expected.path)
        if row is None:
            problems.append(f"{expected.path}: not recorded")
        elif row["classification"] != expected.expected:
            problems.append(
                f"{expected.path}: expected {expected.expected}, got {row['classification']}"
            )
    return problems


def _next_steps(folder: Path) -> None:
    """What a user does next in the folder: no flag repeats what its settings say."""
    typer.echo(f"operation folder ready: {folder} (settings in {folder / 'kaitiaki.toml'})")
    typer.echo("next, inside it:")
    for line in (
        f"cd {folder}",
        "kaitiaki config show",
        "kaitiaki priority show",
        "kaitiaki refer",
        "kaitiaki report cybertipline --subject SUBJECT",
        f"kaitiaki triage --evidence {EVIDENCE}",
    ):
        typer.echo(f"  {line}")


def demo(
    out: Annotated[Path, typer.Option("--out", help="The demo operation's folder.")] = (
        Path("demo")
    ),
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1)] = None,
    db: DbOption = None,
) -> None:
    """Make a demo operation folder: a benign sample scanned and checked against its manifest,
    a simulated provider export analysed and prioritised, the settings to carry on from."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.demo import SAMPLE_SETS, analyse_demo_operation, demo_folder, import_sample_sets
    from kaitiaki.scan.export import export, result_rows
    from kaitiaki.scan.summary import summarise
    from kaitiaki.simulate.sample import build_sample
    from kaitiaki.store import open_store

    out.mkdir(parents=True, exist_ok=True)
    if db is None:
        # The demo starts from an empty embedded store each time it runs.
        for leftover in out.glob("kaitiaki.db*"):
            if leftover.is_dir():  # the hash sets' PDQ index cache
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    config = demo_folder(out, db)
    url = config.get("store.url")
    # Absolute: the evidence's paths are stored as scanned, and commands run inside the
    # folder (or a server started there) must find the files again.
    sample = out.resolve() / "sample"
    with console.status("building the benign sample"):
        manifest = build_sample(sample)
    console.print(f"sample: {len(manifest.files)} files and archive members under {sample}")

    store = open_store(db or (url if isinstance(url, str) else None))
    for name in import_sample_sets(store, sample, cli_actor()):
        console.print(f"hash set {name!r} imported from the sample")
    roots = sorted(p for p in sample.iterdir() if p.is_dir() and p.name != "hashsets")
    from kaitiaki.scan.evidence import EvidenceExistsError, check_reuse
    from kaitiaki.scan.hasher import display_path

    try:  # a store given with --db, run again: the sample is scanned once (or resumed)
        with store.session() as session:
            check_reuse(session, EVIDENCE, [display_path(r) for r in roots], False)
    except EvidenceExistsError:
        console.print(f"evidence {EVIDENCE!r} is already in this store; not scanned again")
    else:
        scan_with_progress(
            store,
            roots,
            EVIDENCE,
            list(SAMPLE_SETS),
            workers,
            description="benign demo sample",
            acquired_by="kaitiaki demo",
        )
    print_summary(summarise(store, EVIDENCE), console)

    prefix = f"{sample}/"
    rows = {str(r["path"]).removeprefix(prefix): r for r in result_rows(store, EVIDENCE)}
    table = Table(title="How each kind of sample file was classified")
    for column in ("sample file", "expected", "got", "signal", "distance", "category"):
        table.add_column(column)
    for expected in manifest.files:
        row = rows.get(expected.path, {})
        table.add_row(
            expected.path,
            expected.expected,
            str(row.get("classification")),
            str(row.get("signal") or ""),
            str(row.get("distance") or ""),
            str(row.get("category") or ""),
        )
    console.print(table)
    for fmt, suffix in (
        ("csv", "csv"),
        ("jsonl", "jsonl"),
        ("vics", "vics.json"),
        ("manifest", "manifest.txt"),
    ):
        target = out / f"results.{suffix}"
        export(store, EVIDENCE, fmt, target)
        console.print(f"exported {fmt}: {target}")
    problems = _check(manifest, rows)
    if problems:
        for problem in problems:
            console.print(f"[red]mismatch[/] {problem}")
        raise typer.Exit(1)
    console.print(
        f"[green]demo check passed[/]: all {len(manifest.files)} sample files "
        "classified as the sample expects"
    )
    with console.status("simulating and analysing a provider export"):
        analyse_demo_operation(store, out, console.print, cli_actor())
    _next_steps(out)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
