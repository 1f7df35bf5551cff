"""``kaitiaki refer``, ``kaitiaki verify`` and ``kaitiaki keys``: signed referral packages."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

console = Console()
keys_app = typer.Typer(
    name="keys", help="Ed25519 keys that sign referral packages.", no_args_is_help=True
)


def refer(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the packages.")],
    analysis: Annotated[
        Path | None, typer.Option(help="Folder of `kaitiaki operation analyse` (its workspace).")
    ] = None,
    workspace: Annotated[Path | None, typer.Option(help="Records workspace to read.")] = None,
    key: Annotated[
        Path | None, typer.Option(help="Private key (default: the keys folder).")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who builds the packages.")] = "",
    subject: Annotated[
        list[str] | None, typer.Option("--subject", help="Only this subject (repeat).")
    ] = None,
    tier_at_least: Annotated[
        str | None, typer.Option(help="Only subjects at this priority tier or above.")
    ] = None,
    agencies: Annotated[Path | None, typer.Option(help="Country -> agency CSV to use.")] = None,
    db: DbOption = None,
) -> None:
    """Build one signed package per receiving agency about subjects not yet referred."""
    from kaitiaki.refer.package import build_referrals
    from kaitiaki.refer.signing import SigningKeyError, default_key_path

    if workspace is None:
        if analysis is None:
            raise typer.BadParameter("give --analysis DIR or --workspace DIR")
        workspace = analysis / "workspace"
    builder = by or os.environ.get("USER", "unknown")
    with user_errors(SigningKeyError, FileNotFoundError, ValueError), console.status("building"):
        batch = build_referrals(
            store_from(db),
            workspace,
            out,
            key_path=key or default_key_path(),
            built_by=builder,
            subject_ids=subject,
            tier_at_least=tier_at_least,
            agencies=agencies,
        )
    table = Table(title=f"Referral packages in {out}")
    for column in ("referral", "agency", "subjects", "flagged files", "events"):
        table.add_column(column)
    for p in batch:
        table.add_row(
            p.referral_id,
            escape(p.agency),
            str(len(p.subjects)),
            str(p.flagged_files),
            str(p.events),
        )
    console.print(table)
    for subject_id, referral_id in sorted(batch.already_referred.items()):
        console.print(f"[yellow]skipped[/] {subject_id}: already referred in {referral_id}")
    console.print(f"{len(batch)} package(s); {len(batch.already_referred)} already referred")


def verify(
    package: Annotated[Path, typer.Argument(help="A received package folder.")],
    key: Annotated[
        Path | None, typer.Option(help="The sender's public key, to prove origin.")
    ] = None,
) -> None:
    """Check every file's SHA-256 and the manifest's signature; exit 1 naming what changed."""
    from kaitiaki.refer.signing import verify_package

    result = verify_package(package, key)
    if result.key_fingerprint:
        console.print(f"key fingerprint {result.key_fingerprint}")
    console.print(result.trust_note)
    if result.ok:
        console.print(f"[green]intact[/]: {package}")
        return
    for line in result.problems():
        console.print(f"[red]{escape(line)}[/]")
    raise typer.Exit(1)


@keys_app.command("generate")
def keys_generate(
    path: Annotated[Path | None, typer.Option(help="Where to write the private key.")] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing key.")] = False,
) -> None:
    """Create an Ed25519 key pair (private key mode 0600, public key beside it as .pub)."""
    from kaitiaki.refer.signing import SigningKeyError, generate_key, load_public, public_path
    from kaitiaki.refer.signing import fingerprint as fp

    with user_errors(SigningKeyError):
        written = generate_key(path, overwrite=force)
    console.print(f"private key {written}\npublic key {public_path(written)}")
    console.print(f"fingerprint {fp(load_public(public_path(written)))}")


@keys_app.command("show")
def keys_show(
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


def register(root: typer.Typer) -> None:
    root.command("refer")(refer)
    root.command("verify")(verify)
    root.add_typer(keys_app)
