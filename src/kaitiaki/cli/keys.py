"""``kaitiaki keys``: our signing key, and the trust store of partners' public keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

console = Console()
app = typer.Typer(
    name="keys",
    help="Ed25519 keys: ours that signs referral packages, and partners' that verify theirs.",
    no_args_is_help=True,
)
trust_app = typer.Typer(
    name="trust",
    help="Partners' public keys: a received package verifies only against one of these.",
    no_args_is_help=True,
)
app.add_typer(trust_app)


@app.command("generate")
def generate(
    path: Annotated[Path | None, typer.Option(help="Where to write the private key.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing key.")] = False,
) -> None:
    """Create an Ed25519 key pair (private key mode 0600, public key beside it as .pub)."""
    from kaitiaki.refer.signing import (
        SigningKeyError,
        fingerprint,
        generate_key,
        load_public,
        public_path,
    )

    with user_errors(SigningKeyError):
        written = generate_key(path, overwrite=force)
    console.print(f"private key {written}\npublic key {public_path(written)}")
    console.print(f"fingerprint {fingerprint(load_public(public_path(written)))}")


@app.command("show")
def show(
    path: Annotated[Path | None, typer.Option(help="The private key.")] = None,
) -> None:
    """Print the public key and its fingerprint, to give to receiving agencies."""
    from kaitiaki.refer.signing import (
        SigningKeyError,
        default_key_path,
        fingerprint,
        load_private,
        public_pem,
    )

    with user_errors(SigningKeyError):
        private = load_private(path or default_key_path())
    console.print(public_pem(private.public_key()).decode().strip(), highlight=False)
    console.print(f"fingerprint {fingerprint(private.public_key())}")


@trust_app.command("add")
def trust_add(
    name: Annotated[str, typer.Argument(help="Who the key belongs to (the partner agency).")],
    key_file: Annotated[Path, typer.Argument(help="Their Ed25519 public key (PEM).")],
    note: Annotated[
        str, typer.Option(help="How the key was received and its fingerprint confirmed.")
    ] = "",
    jurisdiction: Annotated[
        list[str] | None,
        typer.Option(
            "--jurisdiction",
            metavar="CC:Agency",
            help="A (country, agency) the partner answers for, e.g. 'AU:Australian Federal "
            "Police'; repeat for more. Its signed outcome files are accepted only for referrals "
            "sent to these.",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Trust a partner's public key; confirm its fingerprint with them out of band first."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.signing import group_fingerprint
    from kaitiaki.refer.trust import TrustError, add_trusted_key

    with user_errors(TrustError):
        added = add_trusted_key(
            store_from(db),
            name,
            key_file,
            actor=cli_actor(),
            note=note,
            jurisdictions=jurisdiction or (),
        )
    console.print(
        f"trusted {escape(added.name)}: fingerprint {group_fingerprint(added.fingerprint)}",
        highlight=False,
    )
    if added.jurisdictions:
        console.print(
            f"  answers for {escape(', '.join(added.jurisdictions))}",
            highlight=False,
            soft_wrap=True,
        )


@trust_app.command("list")
def trust_list(db: DbOption = None) -> None:
    """List trusted keys: name, fingerprint, who added each and when."""
    from kaitiaki.refer.signing import group_fingerprint
    from kaitiaki.refer.trust import list_trusted_keys

    # One block a key rather than a table: the fingerprint is what a person reads out to a
    # partner to confirm the key, so it must never be wrapped or cut by a narrow terminal.
    keys = list_trusted_keys(store_from(db))
    if not keys:
        console.print("no trusted keys; add one with 'kaitiaki keys trust add NAME FILE'")
    for key in keys:
        note = f" ({escape(key.note)})" if key.note else ""
        console.print(
            f"{escape(key.name)}: added by {escape(key.added_by)} "
            f"on {key.added_at:%Y-%m-%d %H:%M}{note}",
            highlight=False,
            soft_wrap=True,
        )
        console.print(
            f"  fingerprint {group_fingerprint(key.fingerprint)}", highlight=False, soft_wrap=True
        )
        bound = ", ".join(key.jurisdictions) or "none (its outcome files are refused)"
        console.print(f"  answers for {escape(bound)}", highlight=False, soft_wrap=True)


@trust_app.command("remove")
def trust_remove(
    name: Annotated[str, typer.Argument(help="The trusted key's name.")],
    db: DbOption = None,
) -> None:
    """Stop trusting a key: packages it signs then verify as from an unknown sender."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.trust import TrustError, remove_trusted_key

    with user_errors(TrustError):
        removed = remove_trusted_key(store_from(db), name, actor=cli_actor())
    console.print(f"no longer trusted: {escape(removed.name)}", highlight=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app)
