"""The signed side of ``kaitiaki series export`` and ``kaitiaki series import``: a series update
between agencies (``triage.series_update``), written, or verified and applied with what was
applied and what was left for a person printed as tables."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from kaitiaki.cli.errors import user_errors
from kaitiaki.store import Store

console = Console(highlight=False, soft_wrap=True)
# Reading 1 MiB is enough to tell an envelope (``"payloadType"`` near its start) from VICS.
_HEAD = 1 << 20


def is_signed(path: Path) -> bool:
    """Whether ``path`` is a DSSE envelope (a signed update), not a VICS file. A file that
    cannot be read is not: the VICS reader then says why."""
    from kaitiaki.refer.envelope import is_envelope

    try:
        with path.open("rb") as handle:
            return is_envelope(handle.read(_HEAD))
    except OSError:
        return False


def export_signed(
    store: Store,
    out: Path,
    *,
    key: Path | None,
    agency: str | None,
    series: list[str] | None,
    since: datetime | None,
    actor: str,
) -> None:
    from kaitiaki.refer.signing import SigningKeyError, default_key_path, load_private
    from kaitiaki.triage.series_update import SeriesUpdateError, export_series_update
    from kaitiaki.users.scope import JurisdictionError, parse_jurisdiction

    if not agency:
        raise typer.BadParameter("a signed update needs --agency CC:Agency", param_hint="--agency")
    with user_errors(SigningKeyError, SeriesUpdateError, JurisdictionError):
        sender = parse_jurisdiction(agency)
        done = export_series_update(
            store,
            out,
            key=load_private(key or default_key_path()),
            agency_country=sender.country,
            agency_name=sender.agency,
            actor=actor,
            series=series or None,
            since=since,
        )
    console.print(
        Text(
            f"wrote a signed update of {done.series:,} series ({done.victims:,} victims, "
            f"{done.offenders:,} offenders) to {out}"
        )
    )
    console.print(f"sha256 {done.sha256}")


def _value(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def import_signed(store: Store, path: Path, *, key: Path | None, actor: str) -> None:
    from kaitiaki.refer.signing import group_fingerprint
    from kaitiaki.triage.series_update import READ_ERRORS, import_series_update

    with user_errors(*READ_ERRORS):
        done = import_series_update(store, path, actor=actor, pinned=key)
    console.print(
        f"[green]verified[/]: signed by {escape(done.sender)} "
        f"({group_fingerprint(done.key_fingerprint)})"
    )
    console.print(
        Text(
            f"series update from {done.agency}, issued {done.issued_at.isoformat()} by "
            f"{done.issued_by} (schema {done.schema_version})"
        )
    )
    if done.already_imported:
        console.print("already imported, nothing changed")
        return
    if done.applied:
        table = Table(title="applied", title_justify="left")
        for column in ("record", "id", "change"):
            table.add_column(column)
        for a in done.applied:
            change = "created" if a.field == "created" else f"{a.field} -> {_value(a.value)}"
            table.add_row(a.record, Text(a.id), Text(change))
        console.print(table)
    if done.differences:
        table = Table(
            title="differences, not applied: for a person to decide", title_justify="left"
        )
        for column in ("record", "id", "field", "ours", "theirs", "note"):
            table.add_column(column)
        for d in done.differences:
            table.add_row(
                d.record,
                Text(d.id),
                d.field,
                Text(_value(d.ours)),
                Text(_value(d.theirs)),
                Text(d.note),
            )
        console.print(table)
    console.print(f"{len(done.applied)} applied, {len(done.differences)} differences")
