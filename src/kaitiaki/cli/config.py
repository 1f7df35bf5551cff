"""``kaitiaki init`` and ``kaitiaki config show``, and how an operation folder's settings become
every command's defaults.

The settings reach the commands as Click's ``default_map``: a value there stands in for an
option's default, so a flag on the command line and the option's environment variable still
win over it, and ``--help`` shows the folder's value as the default. Which option each setting
feeds is named here, once (``BINDINGS``); tests check that every bound option exists.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from kaitiaki.config import (
    FILENAME,
    SETTINGS,
    ConfigError,
    InitOptions,
    OperationConfig,
    Reporter,
    Value,
    find_config,
    init_operation,
    load_config,
)

config_app = typer.Typer(
    name="config", help="The operation folder's settings (kaitiaki.toml).", no_args_is_help=True
)
META_KEY = "kaitiaki.config"


@dataclass(frozen=True)
class Binding:
    """A setting feeding ``param`` of the command at ``command`` (words after ``kaitiaki``);
    ``derive`` turns the setting's value into the option's when they differ."""

    command: tuple[str, ...]
    param: str
    derive: Callable[[Value], Value] | None = None


def _workspace(value: Value) -> Value:
    assert isinstance(value, Path)
    return value / "workspace"


def _bind(param: str, *commands: str) -> tuple[Binding, ...]:
    return tuple(Binding(tuple(c.split()), param) for c in commands)


ANALYSED = ("refer", "referral revise", "deconflict check", "deconflict export", "disclose")
SIGNING = ("refer", "referral revise", "disclose", "outcomes export", "series export")
BINDINGS: dict[str, tuple[Binding, ...]] = {
    # store.url feeds every command's --db; see _store_bindings.
    "operation.name": _bind("operation", "deconflict export"),
    "operation.contact": _bind("contact", "deconflict export"),
    "operation.key_file": (
        *_bind("key_file", "operation analyse"),
        *_bind("operation_key_file", "serve"),
    ),
    "paths.analysis": (
        *_bind("analysis", *ANALYSED, "report cybertipline"),
        *_bind("out", "operation analyse", "operation evaluate"),
        Binding(("priority", "compute"), "workspace", _workspace),
    ),
    "paths.referrals": _bind("out", "refer", "referral revise"),
    "paths.reports": _bind("output", "triage"),
    "paths.evidence": _bind("evidence_root", "serve"),
    "paths.work": _bind("data_dir", "serve"),
    "keys.signing": (
        *_bind("key", *SIGNING),
        *_bind("signing_key", "serve"),
        *_bind("path", "keys generate", "keys show"),
    ),
    "keys.pointer": _bind("key_file", "deconflict check", "deconflict export"),
    "reporter.name": _bind("reporter_name", "report cybertipline"),
    "reporter.email": _bind("reporter_email", "report cybertipline"),
    "reporter.provider": _bind("esp_name", "report cybertipline"),
    "hashsets.default": _bind("hash_set", "scan", "match", "operation analyse"),
}


def commands(root: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf command under ``root`` with the words that name it."""
    children = getattr(root, "commands", None)
    if children is None:
        yield path, root
        return
    for name, child in children.items():
        yield from commands(child, (*path, name))


def _store_bindings(root: Any) -> tuple[Binding, ...]:
    return tuple(
        Binding(path, "db")
        for path, command in commands(root)
        if any(param.name == "db" for param in command.params)
    )


def overridden_by_environment(key: str) -> str | None:
    """The environment variable set now that takes precedence over the file's ``key``."""
    setting = next(s for s in SETTINGS if s.key == key)
    if setting.env and os.environ.get(setting.env, "").strip():
        return setting.env
    return None


def default_map(config: OperationConfig, root: Any) -> dict[str, Any]:
    """Click's nested default map for ``root`` from ``config``. A setting whose environment
    variable is set is left out: the environment overrides the file, for options Click reads
    the variable of and for those the command reads it for itself (the secrets)."""
    defaults: dict[str, Any] = {}
    for key, value in config.values.items():
        if overridden_by_environment(key):
            continue
        bindings = _store_bindings(root) if key == "store.url" else BINDINGS.get(key, ())
        for binding in bindings:
            level = defaults
            for word in binding.command:
                level = level.setdefault(word, {})
            given = binding.derive(value) if binding.derive else value
            level[binding.param] = list(given) if isinstance(given, tuple) else given
    return defaults


def apply_settings(ctx: typer.Context, given: Path | None) -> None:
    """Find the settings in force and make them the defaults of the command about to run."""
    path = find_config(Path.cwd(), given)
    if path is None:
        return
    try:
        config = load_config(path)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    ctx.meta[META_KEY] = config
    ctx.default_map = default_map(config, ctx.find_root().command)


def init(
    folder: Annotated[Path, typer.Argument(help="The operation's folder (made if missing).")],
    name: Annotated[
        str | None, typer.Option(help="The operation's name (default: the folder's).")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Store URL (default: sqlite:///kaitiaki.db in the folder).",
            show_default=False,
        ),
    ] = None,
    keys: Annotated[
        bool,
        typer.Option("--keys", help="Make the signing key, pointer key and operation key (0600)."),
    ] = False,
    reporter_name: Annotated[str, typer.Option(help="CyberTipline reporting person.")] = "",
    reporter_email: Annotated[str, typer.Option(help="Their email.")] = "",
    provider: Annotated[str, typer.Option(help="The provider's name (NCMEC's ESP).")] = "",
    hash_set: Annotated[
        list[str] | None, typer.Option("--hash-set", help="A default hash set (repeat).")
    ] = None,
) -> None:
    """Make an operation folder: kaitiaki.toml, its folders and, with --keys, its keys."""
    options = InitOptions(
        name=name or folder.resolve().name,
        db=db,
        keys=keys,
        reporter=Reporter(reporter_name, reporter_email, provider),
        hash_sets=tuple(hash_set or ()),
    )
    try:
        result = init_operation(folder, options)
    except ConfigError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    for path in result.created:
        typer.echo(f"created {path}")
    typer.echo(f"operation {options.name!r} ready: run kaitiaki commands in {folder}")


def _shown(value: Value | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value) or "[]"
    return str(value)


@config_app.command("show")
def show(ctx: typer.Context) -> None:
    """The settings in force and where each comes from (file, environment or unset)."""
    config: OperationConfig | None = ctx.find_root().meta.get(META_KEY)
    if config is None:
        typer.echo(
            f"no settings file: not in an operation folder (no {FILENAME} here or above), "
            "no --config, no KAITIAKI_CONFIG; commands take their flags and built-in defaults"
        )
    else:
        typer.echo(f"settings: {config.path}")
    rows = []
    for setting in SETTINGS:
        env = overridden_by_environment(setting.key)
        value: Value | None = config.get(setting.key) if config else None
        if env and setting.secret_env:
            text, source = "(secret, not shown)", f"environment {env}"
        elif env:
            text, source = os.environ[env], f"environment {env}"
        elif value is not None:
            text, source = _shown(value), FILENAME
        else:
            text, source = "-", "not set"
        rows.append((setting.key, text, source))
    key_width = max(len(key) for key, _, _ in rows)
    text_width = max(len(text) for _, text, _ in rows)
    for key, text, source in rows:
        typer.echo(f"{key:<{key_width}}  {text:<{text_width}}  {source}")


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.add_typer(config_app)
