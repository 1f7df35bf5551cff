"""``kaitiaki match FILE_OR_PDQHEX...``: matches as JSON Lines."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.match import HashSetNotFoundError, Matcher, MatchHit
from kaitiaki.scan.hasher import FileRecord, hash_path

PDQ_HEX = re.compile(r"^[0-9a-fA-F]{64}$")
_BATCH = 256


def _queries(items: list[str]) -> Iterator[str]:
    for item in items:
        if item == "-":
            yield from (line.strip() for line in sys.stdin if line.strip())
        else:
            yield item


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
    store = store_from(db)
    with user_errors(HashSetNotFoundError):
        matcher = Matcher.load(store, hash_set)
    pending: list[tuple[str, FileRecord]] = []

    def flush() -> None:
        for (query, _), hits in zip(pending, matcher.match([r for _, r in pending]), strict=True):
            _emit(query, hits)
        pending.clear()

    for query in _queries(queries):
        if PDQ_HEX.match(query) and not Path(query).exists():
            _emit(query, matcher.match_pdq([query.lower()])[0])
            continue
        path = Path(query)
        if not path.exists():
            typer.echo(f"error: {query!r} is neither a file nor a 64-hex PDQ hash", err=True)
            raise typer.Exit(1)
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
