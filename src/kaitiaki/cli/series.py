"""``kaitiaki series``: victim-identification records (series, victims, offenders), their links
to hash-set entries and files, VICS import/export of their status, and statistics."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

app = typer.Typer(
    name="series", help="Victim identification: series, victims, offenders.", no_args_is_help=True
)
victim_app = typer.Typer(
    name="victim", help="Victims (pseudonymous ids only).", no_args_is_help=True
)
offender_app = typer.Typer(
    name="offender", help="Offenders (pseudonymous ids).", no_args_is_help=True
)
app.add_typer(victim_app)
app.add_typer(offender_app)
console = Console()


def _actor() -> str:
    # Always the operator ($KAITIAKI_USER or the login name): the audit log's actor is who
    # made the change, never a name typed on the command line.
    from kaitiaki.audit import cli_actor

    return cli_actor()


Identified = Annotated[
    bool | None, typer.Option("--identified/--not-identified", help="Identified or not.")
]
Country = Annotated[str | None, typer.Option(help="ISO 3166-1 alpha-2 country code.")]
Agency = Annotated[str | None, typer.Option(help="Responsible agency.")]
SeriesName = Annotated[str, typer.Argument(help="Series name.")]


def _errors() -> tuple[type[Exception], ...]:
    from kaitiaki.triage.victims import VictimIdError

    return (VictimIdError, LookupError)


@app.command("add")
def add(
    name: SeriesName,
    description: Annotated[str, typer.Option(help="What the series is.")] = "",
    identified: Identified = None,
    db: DbOption = None,
) -> None:
    """Create a series."""
    from kaitiaki.triage.victims import add_series

    with user_errors(*_errors()):
        add_series(
            store_from(db),
            name,
            description=description,
            identified=bool(identified),
            by=_actor(),
        )
    console.print(f"series {name!r} created")


@app.command("update")
def update(
    name: SeriesName,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    identified: Identified = None,
    reason: Annotated[str, typer.Option(help="Why (audit log).")] = "",
    db: DbOption = None,
) -> None:
    """Change a series' description or identified status."""
    from kaitiaki.triage.victims import update_series

    with user_errors(*_errors()):
        update_series(
            store_from(db),
            name,
            description=description,
            identified=identified,
            by=_actor(),
            reason=reason,
        )
    console.print(f"series {name!r} updated")


@app.command("list")
def list_(db: DbOption = None) -> None:
    """Every series, unidentified first."""
    from kaitiaki.triage.victims import list_series

    table = Table(show_header=True)
    for column in ("series", "identified", "victims", "offenders", "entries", "files"):
        table.add_column(column)
    for s in list_series(store_from(db)):
        table.add_row(
            Text(s.name),
            "yes" if s.identified else "no",
            f"{s.victims_identified}/{s.victims}",
            f"{s.offenders_identified}/{s.offenders}",
            f"{s.linked_entries:,}",
            f"{s.linked_files:,}",
        )
    console.print(table)


@app.command("show")
def show(name: SeriesName, db: DbOption = None) -> None:
    """One series with its victims and offenders."""
    from kaitiaki.triage.victims import get_series, series_victims

    store = store_from(db)
    with user_errors(*_errors()):
        view = get_series(store, name)
        victims, offenders = series_victims(store, name)
    console.print(Text(f"{view.name}: {'identified' if view.identified else 'not identified'}"))
    if view.description:
        console.print(Text(view.description))
    console.print(f"linked: {view.linked_entries:,} hash-set entries, {view.linked_files:,} files")
    for v in victims:
        console.print(
            Text(
                f"victim {v.id}: {'identified' if v.identified else 'not identified'}, "
                f"age band {v.age_band or '?'}, {v.country or '?'}, {v.agency or ''}"
            )
        )
    for o in offenders:
        console.print(
            Text(
                f"offender {o.id}: {'identified' if o.identified else 'not identified'}, "
                f"{o.country or '?'}, {o.agency or ''}"
            )
        )


@app.command("link")
def link(
    name: SeriesName,
    hash_set: Annotated[str | None, typer.Option(help="Hash set of the entries.")] = None,
    media_id: Annotated[list[str] | None, typer.Option(help="VICS MediaID (repeat).")] = None,
    md5: Annotated[list[str] | None, typer.Option(help="Entry MD5 (repeat).")] = None,
    file: Annotated[list[str] | None, typer.Option("--file", help="File SHA-256 (repeat).")] = None,
    db: DbOption = None,
) -> None:
    """Link hash-set entries (by hash set + MediaID, or MD5) or files (SHA-256) to a series."""
    from kaitiaki.triage.links import link_entries, link_files

    store = store_from(db)
    added = 0
    with user_errors(*_errors()):
        if media_id or md5:
            added += link_entries(
                store, name, hash_set=hash_set, media_ids=media_id, md5s=md5, by=_actor()
            )
        if file:
            added += link_files(store, name, file, by=_actor())
    console.print(f"{added:,} link(s) added to {name!r}")


@app.command("sync")
def sync(
    hash_set: Annotated[
        str | None, typer.Option(help="Only this hash set (default: every set).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Create series from hash-set entries' Series / VictimIdentified fields and link them."""
    from kaitiaki.triage.series_vics import sync_series_from_hash_sets

    with user_errors(*_errors()):
        result = sync_series_from_hash_sets(store_from(db), hash_set, by=_actor())
    console.print(f"{len(result.created)} series created, {result.linked:,} entries linked")
    for d in result.disagreements:
        here = "identified" if d.record_identified else "not identified"
        console.print(
            Text(
                f"disagreement: {d.series} is {here} here, the hash set says "
                f"{d.hash_set_says} (record kept)"
            )
        )


@app.command("import")
def import_(
    path: Annotated[Path, typer.Argument(help="VICS JSON file, or a signed series update.")],
    name: Annotated[
        str | None, typer.Option(help="Name for the hash set (a VICS file needs one).")
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(help="Verify a signed update with this public key, not the trust store."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Import a VICS file as a hash set, then sync its series (one step); or verify and apply
    another agency's signed series update (never overwriting our records: differences are
    listed)."""
    from kaitiaki.cli.series_signed import import_signed, is_signed
    from kaitiaki.hashsets import HashSetError, import_hash_set
    from kaitiaki.triage.series_vics import sync_series_from_hash_sets

    store = store_from(db)
    if is_signed(path):
        import_signed(store, path, key=key, actor=_actor())
        return
    if name is None:
        raise typer.BadParameter(
            "a VICS file needs --name (the name for its hash set)", param_hint="--name"
        )
    if key is not None:
        raise typer.BadParameter(f"{path} is not a signed update; --key is for those")
    with user_errors(HashSetError, *_errors()):
        row = import_hash_set(store, path, name, "vics", actor=_actor())
        result = sync_series_from_hash_sets(store, name, by=_actor())
    console.print(
        f"{row.entry_count:,} entries imported; {len(result.created)} series created, "
        f"{result.linked:,} entries linked, {len(result.disagreements)} disagreements"
    )


@app.command("export")
def export(
    ctx: typer.Context,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    signed: Annotated[
        bool, typer.Option(help="A signed series update for other agencies, not VICS.")
    ] = False,
    key: Annotated[
        Path | None, typer.Option(help="Signing key (--signed; default: the operator's key).")
    ] = None,
    agency: Annotated[
        str | None, typer.Option(help="Our agency, CC:Agency (--signed), e.g. NZ:NZ Police.")
    ] = None,
    series: Annotated[
        list[str] | None, typer.Option("--series", help="Only this series (repeat; --signed).")
    ] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only series changed since then (--signed).")
    ] = None,
    db: DbOption = None,
) -> None:
    """Write every linked entry and file with its series' current status as VICS 2.0; or, with
    --signed, the series' identified status, victims and offenders (pseudonymous ids, never
    images or notes) as an update signed for other agencies' kaitiaki."""
    from kaitiaki.cli.series_signed import export_signed
    from kaitiaki.triage.series_vics import export_series_vics

    if signed:
        export_signed(
            store_from(db),
            output,
            key=key,
            agency=agency,
            series=series,
            since=since,
            actor=_actor(),
        )
        return
    # An operation folder's signing key reaches --key as a default: not a misuse of --key.
    source = ctx.get_parameter_source("key")
    key_given = key is not None and (source is None or source.name != "DEFAULT_MAP")
    if key_given or agency or series or since:
        raise typer.BadParameter("--key, --agency, --series and --since go with --signed")
    count = export_series_vics(store_from(db), output)
    console.print(f"wrote {count:,} records to {output}")


@app.command("stats")
def stats(db: DbOption = None) -> None:
    """Series, identified victims, offenders."""
    from kaitiaki.triage.victims import statistics

    s = statistics(store_from(db))
    table = Table(show_header=True)
    table.add_column("")
    table.add_column("total", justify="right")
    table.add_column("identified", justify="right")
    table.add_row("series", f"{s.series:,}", f"{s.series_identified:,}")
    table.add_row("victims", f"{s.victims:,}", f"{s.victims_identified:,}")
    table.add_row("offenders", f"{s.offenders:,}", f"{s.offenders_identified:,}")
    console.print(table)
    console.print(f"linked: {s.linked_entries:,} hash-set entries, {s.linked_files:,} files")
    if s.victims_by_country:
        console.print(
            "victims by country: " + ", ".join(f"{k} {v}" for k, v in s.victims_by_country.items())
        )


@victim_app.command("add")
def victim_add(
    victim_id: Annotated[str, typer.Argument(help="Pseudonymous id (never a name).")],
    series: Annotated[str | None, typer.Option(help="Series the victim appears in.")] = None,
    age_band: Annotated[str | None, typer.Option(help="e.g. 0-3, 4-7, 8-12, 13-17.")] = None,
    identified: Identified = None,
    country: Country = None,
    agency: Agency = None,
    notes: Annotated[str, typer.Option(help="Notes (no names).")] = "",
    db: DbOption = None,
) -> None:
    """Record a victim."""
    from kaitiaki.triage.victims import add_victim

    with user_errors(*_errors()):
        add_victim(
            store_from(db),
            victim_id,
            series=series,
            age_band=age_band,
            identified=bool(identified),
            country=country,
            agency=agency,
            notes=notes,
            by=_actor(),
        )
    console.print(f"victim {victim_id} recorded")


@victim_app.command("update")
def victim_update(
    victim_id: Annotated[str, typer.Argument(help="Pseudonymous id.")],
    identified: Identified = None,
    country: Country = None,
    agency: Agency = None,
    age_band: Annotated[str | None, typer.Option(help="Age band.")] = None,
    reason: Annotated[str, typer.Option(help="Why (audit log).")] = "",
    db: DbOption = None,
) -> None:
    """Change a victim's status (e.g. --identified once the child is safeguarded)."""
    from kaitiaki.triage.victims import update_victim

    with user_errors(*_errors()):
        update_victim(
            store_from(db),
            victim_id,
            identified=identified,
            country=country,
            agency=agency,
            age_band=age_band,
            by=_actor(),
            reason=reason,
        )
    console.print(f"victim {victim_id} updated")


@offender_app.command("add")
def offender_add(
    offender_id: Annotated[str, typer.Argument(help="Pseudonymous id.")],
    series: Annotated[str | None, typer.Option(help="Series the offender appears in.")] = None,
    identified: Identified = None,
    country: Country = None,
    agency: Agency = None,
    notes: Annotated[str, typer.Option(help="Notes.")] = "",
    db: DbOption = None,
) -> None:
    """Record an offender."""
    from kaitiaki.triage.victims import add_offender

    with user_errors(*_errors()):
        add_offender(
            store_from(db),
            offender_id,
            series=series,
            identified=bool(identified),
            country=country,
            agency=agency,
            notes=notes,
            by=_actor(),
        )
    console.print(f"offender {offender_id} recorded")


@offender_app.command("update")
def offender_update(
    offender_id: Annotated[str, typer.Argument(help="Pseudonymous id.")],
    identified: Annotated[bool, typer.Option("--identified/--not-identified")],
    reason: Annotated[str, typer.Option(help="Why (audit log).")] = "",
    db: DbOption = None,
) -> None:
    """Change an offender's identified status."""
    from kaitiaki.triage.victims import update_offender

    with user_errors(*_errors()):
        update_offender(
            store_from(db), offender_id, identified=identified, by=_actor(), reason=reason
        )
    console.print(f"offender {offender_id} updated")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
