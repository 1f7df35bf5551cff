"""Options shared by every command."""

from __future__ import annotations

from typing import Annotated

import typer

from kaitiaki.store import Store, open_store

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        envvar="KAITIAKI_DB",
        help="Store URL (sqlite:///file.db or postgresql://...); default sqlite:///kaitiaki.db.",
        show_default=False,
    ),
]


def store_from(db: str | None) -> Store:
    return open_store(db)
