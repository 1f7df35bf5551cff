"""The root ``kaitiaki`` Typer application; command groups register themselves here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kaitiaki import __version__

app = typer.Typer(
    name="kaitiaki",
    help="Hash, match and triage evidence against known hash sets.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Settings file (default: $KAITIAKI_CONFIG, else kaitiaki.toml here or above).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """kaitiaki: a guardian's toolkit for child-exploitation investigations."""
    if ctx.invoked_subcommand == "init":
        return  # a new folder's settings must not depend on a broken file around it
    from kaitiaki.cli.config import apply_settings

    apply_settings(ctx, config)


def _register() -> None:
    # Imported here so that each command module can import ``app`` without a cycle.
    from kaitiaki.cli import (
        audit,
        config,
        cybertip,
        demo,
        disclose,
        evidence,
        exchange,
        hashset,
        jobs,
        keys,
        legal,
        match,
        operation,
        priority,
        provider,
        received,
        records,
        refer,
        scan,
        series,
        serve,
        simulate,
        tokens,
        tracking,
        triage,
        users,
    )
    from kaitiaki.cli import hash as hash_cmd

    modules = (hash_cmd, hashset, scan, match, demo, simulate, records, operation, priority)
    for module in (*modules, refer, keys, tracking, received, provider, users, audit, serve):
        module.register(app)
    for module in (triage, series, exchange):
        module.register(app)
    for module in (evidence, jobs, tokens, disclose, legal, cybertip, config):
        module.register(app)


def main() -> None:
    _register()
    app()
