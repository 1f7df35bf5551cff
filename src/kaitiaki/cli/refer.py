"""``kaitiaki refer`` and ``kaitiaki verify``: signed referral packages (keys: ``cli/keys.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from kaitiaki.cli.errors import user_errors
from kaitiaki.cli.options import DbOption, store_from

console = Console()


def refer(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the packages.")],
    analysis: Annotated[
        Path | None, typer.Option(help="Folder of `kaitiaki operation analyse` (its workspace).")
    ] = None,
    workspace: Annotated[Path | None, typer.Option(help="Records workspace to read.")] = None,
    key: Annotated[
        Path | None, typer.Option(help="Private key (default: the keys folder).")
    ] = None,
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
    from kaitiaki.audit import cli_actor
    from kaitiaki.refer.package import build_referrals
    from kaitiaki.refer.signing import SigningKeyError, default_key_path

    if workspace is None:
        if analysis is None:
            raise typer.BadParameter("give --analysis DIR or --workspace DIR")
        workspace = analysis / "workspace"
    # The builder on record is the operator at the keyboard, never a name typed in.
    builder = cli_actor()
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
    if not batch:
        why = _nothing_to_refer(batch.already_referred, subject, tier_at_least)
        console.print(why, highlight=False, soft_wrap=True)


def _nothing_to_refer(already: dict[str, str], subjects: list[str] | None, tier: str | None) -> str:
    """Why ``refer`` built no package."""
    if already:
        chosen = f" at tier {tier} or above" if tier is not None else ""
        why = f"all {len(already)} subject(s){chosen} were referred already"
    elif tier is not None:
        why = (
            f"no subject is at tier {tier} or above (see 'kaitiaki priority show'; "
            "'kaitiaki priority compute' scores them)"
        )
    elif subjects:
        why = "no subject has the id(s) given"
    else:
        why = (
            "there are no subjects ('kaitiaki operation analyse' makes them from flagged accounts)"
        )
    return f"nothing new to refer: {why}"


EXIT_ALTERED = 1
EXIT_UNKNOWN_SENDER = 3  # 2 is Typer's own code for a usage error


def verify(
    package: Annotated[Path, typer.Argument(help="A received package folder.")],
    key: Annotated[
        Path | None,
        typer.Option(help="Check against this public key only, instead of the trust store."),
    ] = None,
    db: DbOption = None,
) -> None:
    """Check every file's SHA-256 and who signed the manifest.

    Signatures are checked against the trust store (`kaitiaki keys trust add`), never
    against the key inside the package; --key pins one key instead.

    Exit status:
    0 intact, signed by a trusted (or the pinned) key;
    1 a file or the manifest altered, added or missing, or a bad signature;
    3 intact but signed by a key not in the trust store (unknown sender).
    """
    from kaitiaki.refer.signing import SigningKeyError
    from kaitiaki.refer.trust import verify_received

    with user_errors(SigningKeyError):
        # The store is opened only when it is needed: a pinned key needs none.
        result = verify_received(None if key else store_from(db), package, pinned=key)
    console.print(result.trust_note)
    if not result.ok:
        if result.key_fingerprint:
            console.print(f"key fingerprint {result.key_fingerprint}")
        for line in result.problems():
            console.print(f"[red]{escape(line)}[/]")
        raise typer.Exit(EXIT_ALTERED)
    if not result.origin_proven:
        console.print(
            f"[red]unknown sender[/]: key fingerprint {result.key_fingerprint} is not in the "
            "trust store; add it with `kaitiaki keys trust add` once its owner has confirmed "
            "the fingerprint",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_UNKNOWN_SENDER)
    signer = escape(result.sender) if result.sender else "the pinned key"
    console.print(
        f"[green]intact[/], signed by {signer} ({result.key_fingerprint}): {escape(str(package))}",
        highlight=False,
        soft_wrap=True,
    )


def register(root: typer.Typer) -> None:
    root.command("refer")(refer)
    root.command("verify")(verify)
