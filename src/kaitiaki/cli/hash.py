"""``kaitiaki hash FILE...``: hashes as JSON Lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer


def hash_files(
    files: Annotated[list[Path], typer.Argument(help="Files to hash.")],
) -> None:
    """Print one JSON object per file (and per archive member)."""
    from kaitiaki.scan.hasher import hash_path

    for file in files:
        for record in hash_path(file):
            typer.echo(json.dumps(record.as_json(), separators=(",", ":")))


def register(app: typer.Typer) -> None:
    app.command("hash")(hash_files)
