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
    from kaitiaki.store import Store

console = Console()
EVIDENCE = "demo-sample"


def _text(value: object) -> str:
    return "" if value is None else str(value)


def _has_hash_set(store: Store, name: str) -> bool:
    from kaitiaki.hashsets import HashSetMissingError, get_hash_set

    try:
        get_hash_set(store, name)
    except HashSetMissingError:
        return False
    return True


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


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the sample, store, exports.")] = (
        Path("demo")
    ),
    workers: Annotated[int | None, typer.Option("--workers", "-w", min=1)] = None,
    db: DbOption = None,
) -> None:
    """Build a benign sample, import its stand-in hash sets, scan it, summarise and export."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.hashsets import import_hash_set
    from kaitiaki.scan.export import export, result_rows
    from kaitiaki.scan.summary import summarise
    from kaitiaki.simulate.sample import IMAGE_SET, VIDEO_SET, build_sample
    from kaitiaki.store import open_store

    out.mkdir(parents=True, exist_ok=True)
    if db is None:
        # The demo starts from an empty embedded store each time it runs.
        for leftover in out.glob("kaitiaki.db*"):
            if leftover.is_dir():  # the hash sets' PDQ index cache
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        db = f"sqlite:///{out / 'kaitiaki.db'}"
    sample = out / "sample"
    with console.status("building the benign sample"):
        manifest = build_sample(sample)
    console.print(f"sample: {len(manifest.files)} files and archive members under {sample}")

    store = open_store(db)
    for name, relative in (("standin-vics", IMAGE_SET), ("standin-video", VIDEO_SET)):
        if _has_hash_set(store, name):
            continue
        imported = import_hash_set(
            store, sample / relative, name, "vics", source="demo", actor=cli_actor()
        )
        console.print(
            f"hash set {name!r}: {imported.entry_count} entries, profile {imported.profile}"
        )
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
            ["standin-vics", "standin-video"],
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


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
