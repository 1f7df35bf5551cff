"""``kaitiaki init``: an operation folder laid out, its settings file written, its keys made.

The layout is the one ``kaitiaki demo`` and ``kaitiaki serve --demo`` use, so what a user learns
on the demo holds for their own operation.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kaitiaki.config.settings import FILENAME, ConfigError, load_config, store_url

# The folders an operation's settings name, relative to the folder.
ANALYSIS = "analysis"
REFERRALS = "referrals"
REPORTS = "reports"
EVIDENCE = "evidence"
WORK = "work"
KEYS = "keys"
SIGNING_KEY = f"{KEYS}/signing.pem"
POINTER_KEY = f"{KEYS}/pointer.key"
OPERATION_KEY = f"{KEYS}/operation.key"
FOLDERS = (ANALYSIS, REFERRALS, REPORTS, WORK, KEYS)


@dataclass(frozen=True)
class Reporter:
    """The CyberTipline reporting person and provider written into a new folder's settings."""

    name: str = ""
    email: str = ""
    provider: str = ""


@dataclass(frozen=True)
class InitOptions:
    name: str
    db: str | None = None
    keys: bool = False
    reporter: Reporter = field(default_factory=Reporter)
    hash_sets: tuple[str, ...] = ()
    evidence: tuple[str, ...] = (EVIDENCE,)


@dataclass(frozen=True)
class InitResult:
    config: Path
    created: tuple[Path, ...]


def _toml(text: str) -> str:
    # A JSON string is a TOML basic string: the same quotes and escapes.
    return json.dumps(text, ensure_ascii=False)


def _toml_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_toml(v) for v in values) + "]"


def settings_text(options: InitOptions) -> str:
    """The settings file, commented so a user can read what each line does and change it."""
    key = "" if options.keys else "# "
    db = options.db or "sqlite:///kaitiaki.db"
    reporter = options.reporter
    return f"""\
# kaitiaki operation folder. Every kaitiaki command run in this folder (or a folder below it,
# or given --config FILE or KAITIAKI_CONFIG) takes its defaults from here; a flag on the command
# line overrides a setting, and so does the environment variable `kaitiaki config show` names.
# Relative paths are read from this file's folder. Secrets never go in this file, only the
# paths of files holding them (mode 0600).

[operation]
name = {_toml(options.name)}
contact = ""
{key}key_file = {_toml(OPERATION_KEY)}

[store]
url = {_toml(db)}

[paths]
analysis = {_toml(ANALYSIS)}
referrals = {_toml(REFERRALS)}
reports = {_toml(REPORTS)}
evidence = {_toml_list(options.evidence)}
work = {_toml(WORK)}

[keys]
# `kaitiaki init --keys` makes both; or `kaitiaki keys generate --path keys/signing.pem`.
{key}signing = {_toml(SIGNING_KEY)}
{key}pointer = {_toml(POINTER_KEY)}

[reporter]
name = {_toml(reporter.name)}
email = {_toml(reporter.email)}
provider = {_toml(reporter.provider)}

[hashsets]
default = {_toml_list(options.hash_sets)}
"""


def _write_secret(path: Path) -> None:
    """A fresh random secret, readable by its owner only from the moment it exists."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")


def init_operation(folder: Path, options: InitOptions) -> InitResult:
    """Lay out ``folder``; a folder that already has settings is refused, never overwritten
    (its keys may already sign what partners trust)."""
    target = folder / FILENAME
    if target.exists():
        raise ConfigError(f"{target}: already exists; edit it, or init another folder")
    if options.db is not None:
        store_url("--db", folder.resolve(), options.db)  # refuse a password before writing
    created: list[Path] = []
    for name in (*FOLDERS, *options.evidence):
        path = folder / name
        if not path.exists():
            path.mkdir(parents=True)
            created.append(path)
    (folder / KEYS).chmod(0o700)
    if options.keys:
        from kaitiaki.refer.signing import generate_key

        for secret in (POINTER_KEY, OPERATION_KEY):
            if not (folder / secret).exists():
                _write_secret(folder / secret)
                created.append(folder / secret)
        if not (folder / SIGNING_KEY).exists():
            generate_key(folder / SIGNING_KEY)
            created.append(folder / SIGNING_KEY)
    partial = target.with_name(f".{FILENAME}.tmp")
    partial.write_text(settings_text(options), encoding="utf-8")
    load_config(partial)  # what we wrote must read back: a name with odd characters included
    partial.replace(target)
    created.append(target)
    return InitResult(target, tuple(created))
