"""``kaitiaki tokens``: API tokens for machine clients (the HMA-compatible API, exchanges)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.users.tokens import SCOPES

app = typer.Typer(
    name="tokens", help="API tokens for machine clients, with scopes.", no_args_is_help=True
)
console = Console(highlight=False)


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M}" if at is not None else ""


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Token name: 3-64 of letters, digits, . _ @ -")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            metavar="SCOPE",
            help=f"What the token may do, repeat for several: {', '.join(SCOPES)}.",
        ),
    ],
    db: DbOption = None,
) -> None:
    """Create a token (audited as the operator). The token is printed once, as the last line
    of output (``| tail -1`` in a script); only its SHA-256 is kept."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.users.tokens import TokenError, create_token

    with user_errors(TokenError):
        view, raw = create_token(store_from(db), name, scope, actor=cli_actor())
    console.print(f"created token {view.name} (scopes: {', '.join(view.scopes)})")
    console.print("it is shown only now; send it as 'Authorization: Bearer <token>':")
    # Plain print: Rich could wrap or style it, and scripts read this line as it is.
    typer.echo(raw)


@app.command("list")
def list_(db: DbOption = None) -> None:
    """List tokens: names, scopes, who made them, last use (never the tokens)."""
    from kaitiaki.users.tokens import list_tokens

    table = Table("name", "scopes", "created by", "created", "last used", "revoked")
    for token in list_tokens(store_from(db)):
        revoked = f"{_when(token.revoked_at)} by {token.revoked_by}" if token.revoked else ""
        table.add_row(
            token.name,
            ", ".join(token.scopes),
            token.created_by,
            _when(token.created_at),
            _when(token.last_used_at),
            revoked,
        )
    console.print(table)


@app.command("revoke")
def revoke(name: str, db: DbOption = None) -> None:
    """Revoke a token (audited as the operator): it never authenticates again."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.users.tokens import TokenError, revoke_token

    with user_errors(TokenError):
        view = revoke_token(store_from(db), name, actor=cli_actor())
    console.print(f"revoked token {view.name}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
