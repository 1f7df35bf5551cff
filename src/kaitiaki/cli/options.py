"""Options shared by every command."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from kaitiaki.store import Store

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
    from kaitiaki.store import open_store

    return open_store(db)
