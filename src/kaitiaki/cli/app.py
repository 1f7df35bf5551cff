"""The root ``kaitiaki`` Typer application; command groups register themselves here."""

from __future__ import annotations

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
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True),
) -> None:
    """kaitiaki: a guardian's toolkit for child-exploitation investigations."""


def _register() -> None:
    # Imported here so that each command module can import ``app`` without a cycle.
    from kaitiaki.cli import (
        audit,
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
    for module in (evidence, jobs, tokens, disclose, legal, cybertip):
        module.register(app)


def main() -> None:
    _register()
    app()
