"""``kaitiaki users``: local accounts and their roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from
from kaitiaki.users.roles import Role
from kaitiaki.users.scope import Jurisdiction, JurisdictionError, parse_jurisdiction

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


JurisdictionOption = Annotated[
    list[str] | None,
    typer.Option(
        "--jurisdiction",
        metavar="COUNTRY:AGENCY",
        help='A (country, agency) pair a liaison works for, e.g. NZ:"New Zealand Police"; repeat '
        "for several. Liaison accounts only, and they need at least one.",
    ),
]


def _jurisdictions(given: list[str] | None) -> list[Jurisdiction]:
    """The parsed pairs, or a usage error naming the one that is wrong (exit status 2)."""
    try:
        return [parse_jurisdiction(text) for text in given or []]
    except JurisdictionError as exc:
        raise typer.BadParameter(str(exc), param_hint="--jurisdiction") from None


def _describe(pairs: frozenset[Jurisdiction] | list[Jurisdiction]) -> str:
    # Agency names are typed by people: never let one be read as console markup.
    return escape(", ".join(str(p) for p in sorted(pairs)))


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="User name: 3-64 of letters, digits, . _ @ -")],
    role: Annotated[Role, typer.Option("--role", case_sensitive=False, help="The user's role.")],
    jurisdiction: JurisdictionOption = None,
    password_stdin: PasswordStdin = False,
    db: DbOption = None,
) -> None:
    """Add a user (audited as the operator); the password is asked for twice, or read from
    standard input."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.users.accounts import UserError, add_user

    pairs = _jurisdictions(jurisdiction)
    with user_errors(UserError):
        user = add_user(
            store_from(db),
            name,
            role,
            _password(password_stdin),
            actor=cli_actor(),
            jurisdictions=pairs,
        )
    scope = f" for {_describe(pairs)}" if pairs else ""
    console.print(f"added {user.name} ({user.role}{scope})")


@app.command("jurisdiction")
def jurisdiction_cmd(
    name: Annotated[str, typer.Argument(help="The liaison's user name.")],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="COUNTRY:AGENCY",
            help="Replace the liaison's jurisdictions with these pairs (repeat for several).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Show a liaison's jurisdictions, or replace them with --set (audited as the operator)."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.users.accounts import UserError, jurisdictions_by_name, set_jurisdictions

    store = store_from(db)
    with user_errors(UserError):
        if set_:
            _, pairs = set_jurisdictions(store, name, _jurisdictions(set_), actor=cli_actor())
        else:
            pairs = jurisdictions_by_name(store, name)
    console.print(_describe(pairs) or "(none)", highlight=False)


@app.command("list")
def list_(db: DbOption = None) -> None:
    """List users, their roles and jurisdictions (never their password hashes)."""
    from kaitiaki.users.accounts import list_users_with_jurisdictions

    table = Table("name", "role", "jurisdictions", "status", "created")
    for user, pairs in list_users_with_jurisdictions(store_from(db)):
        table.add_row(
            user.name,
            user.role,
            _describe(pairs),
            "disabled" if user.disabled else "enabled",
            f"{user.created_at:%Y-%m-%d %H:%M}",
        )
    console.print(table)


@app.command("disable")
def disable(name: str, db: DbOption = None) -> None:
    """Disable a user: they can no longer sign in; the account stays for the audit log."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.users.accounts import UserError, disable_user

    with user_errors(UserError):
        user = disable_user(store_from(db), name, actor=cli_actor())
    console.print(f"disabled {user.name}")


@app.command("passwd")
def passwd(name: str, password_stdin: PasswordStdin = False, db: DbOption = None) -> None:
    """Set a user's password."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.users.accounts import UserError, normalise_name, set_password

    with user_errors(UserError):
        set_password(store_from(db), name, _password(password_stdin), actor=cli_actor())
        console.print(f"password changed for {normalise_name(name)}")


def register(root: typer.Typer) -> None:
    root.add_typer(app)
