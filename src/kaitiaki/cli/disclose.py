"""``kaitiaki disclose``: a signed disclosure package answering legal process for one account."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from kaitiaki.cli.errors import err, user_errors
from kaitiaki.cli.options import DbOption, store_from

console = Console(soft_wrap=True)  # result lines are read by scripts: never wrapped


def disclose(
    account: Annotated[str, typer.Option("--account", help="The provider's account id.")],
    request: Annotated[
        str, typer.Option("--request", help="Reference of the legal process served.")
    ],
    analysis: Annotated[
        Path | None,
        typer.Option(
            "--analysis", "-a", help="Folder of an operation analysis (holds workspace/)."
        ),
    ] = None,
    workspace: Annotated[
        Path | None, typer.Option("--workspace", help="The analysis workspace folder itself.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Package folder (default disclosure-<request>-<account>)."
        ),
    ] = None,
    key: Annotated[
        Path | None, typer.Option(help="Private signing key (default: the keys folder).")
    ] = None,
    platform: Annotated[str, typer.Option(help="The account's platform.")] = "provider",
    include_files: Annotated[
        bool,
        typer.Option(
            "--include-files", help="Include the flagged images: only if the request covers them."
        ),
    ] = False,
    confirm_files: Annotated[
        str | None,
        typer.Option(
            "--confirm-files",
            metavar="NAME",
            help="Who confirms the request covers the images (else asked interactively).",
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Write a signed package of the account's subscriber data, IP log with ports, flagged
    files' hashes and CyberTipline report ids; images only with --include-files and a
    person's confirmation. Recorded against the request and audited."""
    from kaitiaki.audit import cli_actor
    from kaitiaki.legal.disclosure import DisclosureError, default_out, write_disclosure
    from kaitiaki.refer.signing import SigningKeyError, default_key_path

    if (analysis is None) == (workspace is None):
        err.print("[bold red]error:[/] give exactly one of --analysis or --workspace")
        raise typer.Exit(2)
    folder = workspace if workspace is not None else analysis / "workspace"  # type: ignore[operator]
    confirmer = confirm_files
    if include_files and not (confirmer or "").strip():
        # A person answers for it: the name typed here is recorded as who confirmed.
        console.print(
            f"[bold]Images will be disclosed[/] for account {escape(account)} under "
            f"request {escape(request)}."
        )
        confirmer = typer.prompt(
            "Your name, to confirm the legal process covers the images (blank to stop)",
            default="",
            show_default=False,
        )
        if not confirmer.strip():
            err.print("[bold red]error:[/] not confirmed; nothing written")
            raise typer.Exit(1)
    with user_errors(DisclosureError, SigningKeyError, FileNotFoundError):
        target = out if out is not None else default_out(request, account)
        result = write_disclosure(
            store_from(db),
            folder,
            account_id=account,
            request_ref=request,
            out=target,
            key=key or default_key_path(),
            actor=cli_actor(),
            platform=platform,
            include_files=include_files,
            files_confirmed_by=confirmer,
        )
    console.print(
        f"wrote {escape(str(result.folder))}: {result.subscriber_records} subscriber record(s), "
        f"{result.events} IP log event(s), {result.flagged_files} flagged file(s), "
        f"{result.reports} report id(s), {result.files} image(s); "
        f"manifest sha256 {result.manifest_sha256}",
        highlight=False,
        soft_wrap=True,
    )
    if result.files_unavailable:
        # Said here, not only in disclosure.json: the request may need the files it could not get.
        err.print(
            f"[yellow]warning:[/] {result.files_unavailable} flagged file(s) could not be read "
            "back from the evidence; listed in disclosure.json (files_unavailable)"
        )


def register(root: typer.Typer) -> None:
    root.command("disclose")(disclose)
