"""``kaitiaki hashset``: import, list, export, enable, disable and remove hash sets, and match a
set's new entries against everything already stored (``retro-match``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from kaitiaki.audit import cli_actor
from kaitiaki.cli.errors import err, user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.hashsets import store as hashsets
from kaitiaki.hashsets.csvfile import parse_columns
from kaitiaki.hashsets.entry import HashSetError
from kaitiaki.hashsets.profiles import PROFILES, UnknownProfileError
from kaitiaki.hashsets.summary import read_map_file
from kaitiaki.store import Store

if TYPE_CHECKING:
    from kaitiaki.match.retro import RetroReport

app = typer.Typer(
    name="hashset", help="Import, list and export known hash sets.", no_args_is_help=True
)
# Below this size an import takes a moment; a progress bar would only flicker.
PROGRESS_MIN_BYTES = 16 << 20


class ImportFormat(StrEnum):
    vics = "vics"
    list = "list"
    csv = "csv"


class ExportFormat(StrEnum):
    vics = "vics"
    list = "list"


class Hex64(StrEnum):
    sha256 = "sha256"
    pdq = "pdq"


@contextmanager
def _session(db: str | None) -> Iterator[Store]:
    """The store, with the user's mistakes and bad input as one line on stderr and exit 1."""
    store: Store | None = None
    try:
        store = store_from(db)
        yield store
    except (HashSetError, UnknownProfileError, OSError) as exc:
        # Escaped: messages quote file content, which must not be read as Rich markup.
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("[bold red]interrupted:[/] nothing was changed")
        raise typer.Exit(130) from None
    finally:
        if store is not None:
            store.close()


@contextmanager
def _progress(size: int) -> Iterator[Callable[[int], None] | None]:
    """A bar of bytes read on a terminal, for files big enough to take a while."""
    if size < PROGRESS_MIN_BYTES or not err.is_terminal:
        yield None
        return
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("import", total=size)
        shown = 0

        def update(done: int) -> None:
            nonlocal shown
            if done - shown >= 1 << 20 or done == size:  # a redraw per MiB is plenty
                shown = done
                bar.update(task, completed=done)

        yield update


@app.command("import")
def import_cmd(
    file: Annotated[Path, typer.Argument(help="VICS JSON, a plain hash list or a CSV file.")],
    name: Annotated[str, typer.Option("--name", help="Name of the new hash set.")],
    fmt: Annotated[
        ImportFormat | None,
        typer.Option("--format", help="Input format; default: .json vics, .csv csv, else list."),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            "--profile",
            help=f"Category profile: {', '.join(PROFILES)}. Default: from the VICS header "
            "(UK: uk-caid, else projectvic-us-2.0); none for lists and CSV.",
        ),
    ] = None,
    threshold: Annotated[
        int, typer.Option("--threshold", help="PDQ match threshold (Hamming distance).")
    ] = hashsets.DEFAULT_THRESHOLD,
    source: Annotated[str, typer.Option("--source", help="Where the set comes from.")] = "",
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="CSV column map, e.g. md5=Hash,category=Cat."),
    ] = None,
    hex64: Annotated[
        Hex64, typer.Option("--hex64", help="What a bare 64-hex value in a list or CSV is.")
    ] = Hex64.sha256,
    category_map: Annotated[
        list[str] | None,
        typer.Option(
            "--category-map",
            help="Map a category code the profile does not define onto one of its codes, "
            "e.g. 8=0 (repeatable). Unmapped unknown codes are kept, reported and treated as "
            "not pertinent.",
        ),
    ] = None,
    category_map_file: Annotated[
        Path | None,
        typer.Option("--category-map-file", help="FROM=TO category map items, one a line."),
    ] = None,
    allowlist: Annotated[
        bool,
        typer.Option(
            "--allowlist",
            help="An allowlist: its entries cancel other sets' matches of the same content "
            "(reported as suppressed, naming this set).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Import a hash set in one transaction: a malformed file is refused whole."""
    with _session(db) as store:
        if not file.is_file():
            raise HashSetError(f"{file}: no such file")
        items = [
            *(read_map_file(category_map_file) if category_map_file else []),
            *(category_map or []),
        ]
        notes: list[str] = []
        with _progress(file.stat().st_size) as progress:
            row = hashsets.import_hash_set(
                store,
                file,
                name,
                fmt.value if fmt else None,
                profile,
                threshold,
                source,
                columns=parse_columns(columns) if columns else None,
                hex64=hex64.value,
                progress=progress,
                category_map=items,
                notes=notes,
                actor=cli_actor(),
                allowlist=allowlist,
            )
        typer.echo(
            f"imported {row.entry_count} entries into hash set {row.name!r} "
            f"(profile {row.profile}, PDQ threshold {row.pdq_threshold}, "
            f"sha256 {row.source_sha256})"
        )
        for note in notes:
            typer.echo(f"note: {note}")


@app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="The hash set that grows.")],
    file: Annotated[Path, typer.Argument(help="VICS JSON, a plain hash list or a CSV file.")],
    fmt: Annotated[
        ImportFormat | None,
        typer.Option("--format", help="Input format; default: .json vics, .csv csv, else list."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="CSV column map, e.g. md5=Hash,category=Cat."),
    ] = None,
    hex64: Annotated[
        Hex64, typer.Option("--hex64", help="What a bare 64-hex value in a list or CSV is.")
    ] = Hex64.sha256,
    db: DbOption = None,
) -> None:
    """Add a file's entries to an existing hash set (those it does not hold yet), in one
    transaction; lookups answer from them within the servers' poll, and a retroactive match
    of them is queued."""
    from kaitiaki.hashsets.append import append_to_hash_set

    with _session(db) as store, _progress(file.stat().st_size if file.is_file() else 0) as bar:
        done = append_to_hash_set(
            store,
            name,
            file,
            fmt.value if fmt else None,
            columns=parse_columns(columns) if columns else None,
            hex64=hex64.value,
            progress=bar,
            actor=cli_actor(),
        )
    typer.echo(
        f"added {done.added} entries to hash set {done.name!r} "
        f"({done.already_held} already held; sha256 {done.source_sha256})"
    )


@app.command("create")
def create_cmd(
    name: Annotated[str, typer.Argument(help="Name of the new hash set.")],
    from_evidence: Annotated[
        str,
        typer.Option(
            "--from-evidence", help="The scanned evidence item whose pictures and videos it holds."
        ),
    ],
    category: Annotated[
        str | None, typer.Option("--category", help="Category of every entry (needs --profile).")
    ] = None,
    series: Annotated[str | None, typer.Option("--series", help="Series of every entry.")] = None,
    profile: Annotated[
        str, typer.Option("--profile", help=f"Category profile: {', '.join(PROFILES)}.")
    ] = "none",
    db: DbOption = None,
) -> None:
    """Make a hash set from the pictures and videos of a scanned evidence item. Its entries
    carry the robust signal as well as the hashes, so scans against it find cropped, rotated
    and overlaid copies; an export still holds hashes only."""
    from kaitiaki.hashsets.from_evidence import create_from_evidence

    with _session(db) as store:
        row = create_from_evidence(
            store,
            name,
            from_evidence,
            profile=profile,
            category=category,
            series=series,
            actor=cli_actor(),
        )
        with store.session() as session:
            signatures = hashsets.robust_count(session, row.id)
    typer.echo(
        f"created hash set {row.name!r} from evidence {from_evidence!r}: "
        f"{row.entry_count} entries, {signatures} with robust signatures "
        f"(profile {row.profile}, PDQ threshold {row.pdq_threshold})"
    )


@app.command("list")
def list_cmd(db: DbOption = None) -> None:
    """Show every hash set."""
    with _session(db) as store:
        rows = hashsets.list_hash_sets(store)
    if not rows:
        typer.echo("no hash sets")
        return
    table = Table("name", "source", "profile", "threshold", "enabled", "entries", "imported_at")
    for row in rows:
        table.add_row(
            escape(row.name),
            escape(row.source),
            row.profile,
            str(row.pdq_threshold),
            ("yes" if row.enabled else "no") + (" (allowlist)" if row.allowlist else ""),
            str(row.entry_count),
            _when(row.imported_at),
        )
    Console().print(table)


@app.command("export")
def export_cmd(
    name: Annotated[str, typer.Argument(help="Hash set to export.")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="vics (2.0 JSON) or list.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    db: DbOption = None,
) -> None:
    """Write a hash set as VICS 2.0 JSON or a plain list (one hash a line)."""
    with _session(db) as store:
        count = hashsets.export_hash_set(store, name, fmt.value, output)
    typer.echo(f"exported {count} entries of {name!r} to {output}")


@app.command("enable")
def enable_cmd(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Match against this hash set again."""
    with _session(db) as store:
        hashsets.set_enabled(store, name, True, actor=cli_actor())
    typer.echo(f"enabled {name!r}")


@app.command("disable")
def disable_cmd(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Keep this hash set but leave it out of matching."""
    with _session(db) as store:
        hashsets.set_enabled(store, name, False, actor=cli_actor())
    typer.echo(f"disabled {name!r}")


@app.command("remove")
def remove_cmd(
    name: Annotated[str, typer.Argument()],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    db: DbOption = None,
) -> None:
    """Delete a hash set, its entries and their matches."""
    with _session(db) as store:
        found = hashsets.get_hash_set(store, name)
        if not yes:
            typer.confirm(f"remove {name!r} and its {found.entry_count} entries?", abort=True)
        removed = hashsets.remove_hash_set(store, name, actor=cli_actor())
    typer.echo(f"removed {name!r} ({removed} entries)")


@app.command("retro-match")
def retro_match_cmd(name: Annotated[str, typer.Argument()], db: DbOption = None) -> None:
    """Match the set's entries added since its last retroactive match against every stored
    file, and say what became known."""
    # Imported when run: the matcher's compiled kernels are slow to load for every command.
    from kaitiaki.match.retro import retro_match

    with _session(db) as store:
        report = retro_match(store, name, actor=cli_actor())
    if report.status != "matched":
        typer.echo(f"{name!r}: {report.status}; nothing matched")
        return
    typer.echo(
        f"{name!r}: {report.entries} new entries ({report.quarantined} quarantined, skipped) "
        f"against {report.files_checked} files with PDQ; {report.matches_added} new matches, "
        f"{report.files_matched} files matched, {report.files_now_known} now known"
    )
    for item in report.evidence:
        typer.echo(
            f"  evidence {item.name!r}: {item.files_matched} matched, {item.now_known} now "
            f"known, {item.relabelled} relabelled"
        )
    for sha256 in report.now_known_sha256:
        typer.echo(f"  now known: {sha256}")
    if report.files_now_known > len(report.now_known_sha256):
        typer.echo(f"  ... and {report.files_now_known - len(report.now_known_sha256)} more")
    _echo_operations(report)
    for gap in report.not_covered:
        typer.echo(f"note: {gap}")


@app.command("quarantine")
def quarantine_cmd(db: DbOption = None) -> None:
    """Entries the flood guard quarantined (matching far above their normal rate), waiting
    for a reviewer: release one with ``hashset release``, or remove it from its set."""
    from kaitiaki.hashsets.quarantine import list_quarantined

    with _session(db) as store:
        held = list_quarantined(store)
    if not held:
        typer.echo("no entries in quarantine")
        return
    for item in held:
        signals = " ".join(f"{k}={v}" for k, v in item.signals.items())
        typer.echo(
            f"entry {item.entry_id} of {item.hash_set!r}, since {_when(item.quarantined_at)}: "
            f"{signals}"
        )
        typer.echo(f"  {item.reason or 'no reason recorded'}")


@app.command("release")
def release_cmd(
    entry_id: Annotated[int, typer.Argument(help="The quarantined entry's id.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it may match again.")],
    db: DbOption = None,
) -> None:
    """Let a quarantined entry match again (audited with the reason; the set is then matched
    retroactively, for what the entry would have found while held)."""
    from kaitiaki.audit.reasons import ReasonError
    from kaitiaki.hashsets.quarantine import release

    with _session(db) as store, user_errors(ReasonError):
        held = release(store, entry_id, reason=reason, actor=cli_actor())
    typer.echo(f"released entry {entry_id} of {held.hash_set!r}")


def _echo_operations(report: RetroReport) -> None:
    """Each operation whose catalog met the new entries: flags, accounts, priorities."""
    for op in report.operations:
        typer.echo(
            f"  operation {op.analysis}: {op.objects_matched} catalog objects matched, "
            f"{op.objects_now_flagged} newly flagged; {op.accounts_newly_flagged} accounts "
            f"newly flagged, {op.accounts_updated} updated"
        )
        for account in op.newly_flagged:
            typer.echo(f"    account newly flagged: {account}")
        for change in op.priorities:
            typer.echo(
                f"    subject {change.subject_id}: priority {change.before.score:g} "
                f"({change.before.tier}) -> {change.after.score:g} ({change.after.tier})"
            )
        for subject in op.priorities_held_back:
            typer.echo(f"    subject {subject}: scored with other weights; not rescored")
    for error in report.errors:
        typer.echo(f"  could not match: {error}")


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="hashset")
