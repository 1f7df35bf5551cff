"""``kaitiaki match FILE_OR_PDQHEX...``: matches as JSON Lines."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

if TYPE_CHECKING:
    from kaitiaki.match import MatchHit

PDQ_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_BATCH = 256


def _queries(items: list[str]) -> Iterator[str]:
    for item in items:
        if item == "-":
            yield from (line.strip() for line in sys.stdin if line.strip())
        else:
            yield item


def _check(query: str) -> bool:
    """True for a PDQ hash, False for a file; exit 1 naming a query that is neither."""
    if Path(query).exists():
        return False
    if PDQ_HEX.match(query):
        return True
    typer.echo(f"error: {query!r} is neither a file nor a 64-hex PDQ hash", err=True)
    raise typer.Exit(1)


def _emit(query: str, hits: list[MatchHit]) -> None:
    for hit in hits:
        typer.echo(json.dumps(hit.as_json(query), separators=(",", ":")))


def match(
    queries: Annotated[
        list[str],
        typer.Argument(
            help="Files or 64-hex PDQ hashes; '-' reads them from standard input, one a line."
        ),
    ],
    hash_set: Annotated[
        list[str] | None,
        typer.Option(
            "--hash-set", "-s", help="Hash set to match (repeat); default: every enabled set."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Print one JSON object per match: query, hash_set, entry_id, signal, distance, category."""
    from kaitiaki.hashsets.enabled import NO_ENABLED_SET, no_enabled_set
    from kaitiaki.match import HashSetNotFoundError, Matcher
    from kaitiaki.scan.hasher import hash_path
    from kaitiaki.signals.record import FileRecord

    store = store_from(db)
    if no_enabled_set(store, hash_set):
        typer.echo(f"nothing to match against: {NO_ENABLED_SET}", err=True)
        for query in _queries(queries):  # a wrong query is still an error; nothing is hashed
            _check(query)
        return
    with user_errors(HashSetNotFoundError):
        matcher = Matcher.load(store, hash_set)
    # Queries are answered in batches (one index probe for many hashes) but printed in order.
    pending: list[tuple[str, FileRecord | str]] = []

    def flush() -> None:
        records = [q for _, q in pending if isinstance(q, FileRecord)]
        hexes = [q for _, q in pending if isinstance(q, str)]
        file_hits = iter(matcher.match(records))
        hex_hits = iter(matcher.match_pdq(hexes))
        for shown, query in pending:
            _emit(shown, next(file_hits) if isinstance(query, FileRecord) else next(hex_hits))
        pending.clear()

    for query in _queries(queries):
        path = Path(query)
        if _check(query):
            pending.append((query, query.lower()))
        else:
            for record in hash_path(path):
                if record.error and not record.sha256:
                    typer.echo(f"error: {record.path}: {record.error}", err=True)
                    continue
                pending.append((record.path, record))
        if len(pending) >= _BATCH:
            flush()
    flush()


def register(app: typer.Typer) -> None:
    app.command("match")(match)
