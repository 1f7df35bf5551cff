"""``kaitiaki users``: local accounts and their roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.users.roles import Role

app = typer.Typer(name="users", help="Local accounts and their roles.", no_args_is_help=True)
console = Console()

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input (for scripts).",
    ),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        # Only the line ending is removed: spaces may be part of a pass phrase.
        return sys.stdin.readline().rstrip("\r\n")
    # Never a command-line argument: that would land in shell history and the process list.
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name: 3-64 of letters, digits, . _ @ -")],
    role: Annotated[Role, typer.Option("--role", case_sensitive=False, help="The user's role.")],
    agency: Annotated[
        str | None, typer.Option(help="The liaison's agency (liaison accounts only).")
    ] = None,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Add a user; the password is asked for twice, or read from standard input."""
    from kaitiaki.users.accounts import UserError, add_user

    with user_errors(UserError):
        user = add_user(store_from(db), name, role, _password(password_stdin), agency=agency)
    scope = f" for {user.agency}" if user.agency else ""
    console.print(f"added {user.name} ({user.role}{scope})")


@app.command("list")
def list_(db: DbOption = None) -> None:
    """List users and their roles (never their password hashes)."""
    from kaitiaki.users.accounts import list_users

    table = Table("name", "role", "agency", "status", "created")
    for user in list_users(store_from(db)):
        table.add_row(
            user.name,
            user.role,
            user.agency or "",
            "disabled" if user.disabled else "enabled",
            f"{user.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("disable")
def disable(name: str, db: DbOption = None) -> None:
    """Disable a user: they can no longer sign in; the account stays for the audit log."""
    from kaitiaki.users.accounts import UserError, disable_user

    with user_errors(UserError):
        user = disable_user(store_from(db), name)
    console.print(f"disabled {user.name}")


@app.command("passwd")
def passwd(name: str, password_stdin: PasswordStdin = False, db: DbOption = None) -> None:
    """Set a user's password."""
    from kaitiaki.users.accounts import UserError, normalise_name, set_password

    with user_errors(UserError):
        set_password(store_from(db), name, _password(password_stdin))
        console.print(f"password changed for {normalise_name(name)}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
