"""``kaitiaki hashset import`` and ``hashset add``, and the store session every ``hashset``
command shares (the user's mistakes as one line on stderr, exit 1).

Both say what they read, by signal type ("read 120 entries: pdq 100, md5 20"), and refuse a
bare 64-hex value they were not told how to read (SHA-256 or PDQ: ``--hex64``, a ``sha256:`` or
``pdq:`` prefix, or a CSV column named for the type).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from kaitiaki.audit import cli_actor
from kaitiaki.cli.errors import err
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.hashsets import store as hashsets
from kaitiaki.hashsets.csvfile import parse_columns
from kaitiaki.hashsets.entry import HashSetError
from kaitiaki.hashsets.profiles import PROFILES, UnknownProfileError
from kaitiaki.hashsets.summary import read_map_file
from kaitiaki.store import Store

# Below this size an import takes a moment; a progress bar would only flicker.
PROGRESS_MIN_BYTES = 16 << 20


class ImportFormat(StrEnum):
    vics = "vics"
    list = "list"
    csv = "csv"


class Hex64(StrEnum):
    sha256 = "sha256"
    pdq = "pdq"


FormatOption = Annotated[
    ImportFormat | None,
    typer.Option("--format", help="Input format; default: .json vics, .csv csv, else list."),
]
ColumnsOption = Annotated[
    str | None,
    typer.Option("--columns", help="CSV column map, e.g. md5=Hash,category=Cat."),
]
Hex64Option = Annotated[
    Hex64 | None,
    typer.Option(
        "--hex64",
        help="What a bare 64-hex value in a list or CSV hash column is: sha256 or pdq. "
        "Without it such a value is refused (not guessed) unless it carries a sha256: or pdq: "
        "prefix or sits in a column named sha256 or pdq.",
        show_default=False,
    ),
]


@contextmanager
def hashset_session(db: str | None) -> Iterator[Store]:
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


def import_cmd(
    file: Annotated[Path, typer.Argument(help="VICS JSON, a plain hash list or a CSV file.")],
    name: Annotated[str, typer.Option("--name", help="Name of the new hash set.")],
    fmt: FormatOption = None,
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
    columns: ColumnsOption = None,
    hex64: Hex64Option = None,
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
    with hashset_session(db) as store:
        if not file.is_file():
            raise HashSetError(f"{file}: no such file")
        items = [
            *(read_map_file(category_map_file) if category_map_file else []),
            *(category_map or []),
        ]
        with _progress(file.stat().st_size) as progress:
            done = hashsets.import_file(
                store,
                file,
                name,
                fmt.value if fmt else None,
                profile,
                threshold,
                source,
                columns=parse_columns(columns) if columns else None,
                hex64=hex64.value if hex64 else None,
                progress=progress,
                category_map=items,
                actor=cli_actor(),
                allowlist=allowlist,
            )
        row = done.row
        typer.echo(
            f"imported {row.entry_count} entries into hash set {row.name!r} "
            f"(profile {row.profile}, PDQ threshold {row.pdq_threshold}, "
            f"sha256 {row.source_sha256})"
        )
        typer.echo(done.read.line())
        for note in done.notes:
            typer.echo(f"note: {note}")


def add_cmd(
    name: Annotated[str, typer.Argument(help="The hash set that grows.")],
    file: Annotated[Path, typer.Argument(help="VICS JSON, a plain hash list or a CSV file.")],
    fmt: FormatOption = None,
    columns: ColumnsOption = None,
    hex64: Hex64Option = None,
    db: DbOption = None,
) -> None:
    """Add a file's entries to an existing hash set (those it does not hold yet), in one
    transaction; lookups answer from them within the servers' poll, and a retroactive match
    of them is queued."""
    from kaitiaki.hashsets.append import append_to_hash_set

    size = file.stat().st_size if file.is_file() else 0
    with hashset_session(db) as store, _progress(size) as bar:
        done = append_to_hash_set(
            store,
            name,
            file,
            fmt.value if fmt else None,
            columns=parse_columns(columns) if columns else None,
            hex64=hex64.value if hex64 else None,
            progress=bar,
            actor=cli_actor(),
        )
    typer.echo(
        f"added {done.added} entries to hash set {done.name!r} "
        f"({done.already_held} already held; sha256 {done.source_sha256})"
    )
    typer.echo(done.signals.line())


def register_import(app: typer.Typer) -> None:
    """``import`` and ``add`` on the ``hashset`` group, first in its help."""
    app.command("import")(import_cmd)
    app.command("add")(add_cmd)
