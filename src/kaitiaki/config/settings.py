"""An operation folder's settings: what ``kaitiaki.toml`` may hold, read and checked.

One operation, one folder: the store, the analysis, the keys, the reporter profile and the
server's roots are named once in the folder's ``kaitiaki.toml`` and every command run there takes
them as defaults. Secrets never go into the file, only the paths of files holding them, because
the file is read, copied and shown (``kaitiaki config show``) far more freely than a key file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

FILENAME = "kaitiaki.toml"
ENV_CONFIG = "KAITIAKI_CONFIG"

Kind = Literal["text", "path", "paths", "url", "names"]
Value = str | Path | tuple[str, ...] | tuple[Path, ...]


class ConfigError(ValueError):
    """A settings file that cannot be used: the message names the file and the setting."""


@dataclass(frozen=True)
class Setting:
    """One setting: its ``section.name`` key, what it holds and the environment variable that
    overrides it, if any. ``secret_env``: that variable holds the secret itself, so its value
    is never shown."""

    key: str
    kind: Kind
    help: str
    env: str | None = None
    secret_env: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting("operation.name", "text", "The operation's name, shown to partner agencies."),
    Setting("operation.contact", "text", "Contact reference sent with deconfliction pointers."),
    Setting(
        "operation.key_file",
        "path",
        "File holding the secret that namespaces subject ids.",
        env="KAITIAKI_OPERATION_KEY",
        secret_env=True,
    ),
    Setting("store.url", "url", "The store: sqlite:///file.db or postgresql://...", "KAITIAKI_DB"),
    Setting("paths.analysis", "path", "The operation analysis (holds workspace/)."),
    Setting("paths.referrals", "path", "Where signed referral packages are written."),
    Setting("paths.reports", "path", "Where triage and CyberTipline reports are written."),
    Setting("paths.evidence", "paths", "Folders jobs from the web may read evidence from."),
    Setting("paths.work", "path", "The server's work folder: uploads and job outputs."),
    Setting("keys.signing", "path", "Private Ed25519 key signing what we send.", "KAITIAKI_KEYS"),
    Setting(
        "keys.pointer",
        "path",
        "File holding the deconfliction secret agreed with partner agencies.",
        env="KAITIAKI_POINTER_KEY",
        secret_env=True,
    ),
    Setting("reporter.name", "text", "CyberTipline reporting person.", "KAITIAKI_REPORTER_NAME"),
    Setting("reporter.email", "text", "Their email.", "KAITIAKI_REPORTER_EMAIL"),
    Setting("reporter.provider", "text", "The provider's name (NCMEC's ESP).", "KAITIAKI_ESP_NAME"),
    Setting(
        "hashsets.default", "names", "Hash sets scan, match and analyse use when none is named."
    ),
)
BY_KEY = {setting.key: setting for setting in SETTINGS}


@dataclass(frozen=True)
class OperationConfig:
    """A read ``kaitiaki.toml``: relative paths resolved against its folder."""

    path: Path
    values: dict[str, Value] = field(default_factory=dict)

    @property
    def folder(self) -> Path:
        return self.path.parent

    def get(self, key: str) -> Value | None:
        return self.values.get(key)


def find_config(start: Path, given: Path | None = None) -> Path | None:
    """The settings file in force: ``given`` (``--config``), else ``$KAITIAKI_CONFIG``, else the
    nearest ``kaitiaki.toml`` in ``start`` or a folder above it (as git finds its repository),
    so a command run in an operation's subfolder still belongs to the operation."""
    if given is not None:
        return given
    env = os.environ.get(ENV_CONFIG, "").strip()
    if env:
        return Path(env)
    for folder in (start, *start.parents):
        candidate = folder / FILENAME
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path) -> OperationConfig:
    """Read and check ``path``; a ConfigError names the file and what is wrong in it."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError as error:
        raise ConfigError(f"{path}: no such settings file") from error
    except OSError as error:
        raise ConfigError(f"{path}: cannot be read ({error.strerror})") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from error
    folder = path.resolve().parent
    values: dict[str, Value] = {}
    for section, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: {section!r} must be a [section], not a bare value")
        for name, raw in table.items():
            key = f"{section}.{name}"
            setting = BY_KEY.get(key)
            if setting is None:
                known = ", ".join(s.key for s in SETTINGS)
                raise ConfigError(f"{path}: unknown setting {key!r} (known: {known})")
            value = _value(path, folder, setting, raw)
            if value is not None:
                values[key] = value
    return OperationConfig(path.resolve(), values)


def _value(path: Path, folder: Path, setting: Setting, raw: object) -> Value | None:
    where = f"{path}: {setting.key}"
    if setting.kind in ("paths", "names"):
        if not isinstance(raw, list) or not all(isinstance(v, str) and v.strip() for v in raw):
            raise ConfigError(f"{where} must be a list of non-empty strings")
        if not raw:
            return None  # an empty list leaves the setting unset: the command's own default
        if setting.kind == "names":
            return tuple(v.strip() for v in raw)
        return tuple(_path(folder, v) for v in raw)
    if not isinstance(raw, str):
        raise ConfigError(f"{where} must be a string, not {type(raw).__name__}")
    text = raw.strip()
    if not text:
        return None  # an empty string leaves the setting unset, as a commented line does
    if setting.kind == "path":
        return _path(folder, text)
    if setting.kind == "url":
        return store_url(where, folder, text)
    return text


def _path(folder: Path, text: str) -> Path:
    return folder / Path(text).expanduser()


def store_url(where: str, folder: Path, text: str) -> str:
    """A store URL with a relative SQLite file made absolute against the folder; a password
    in it is refused (the file is not a place for secrets: libpq reads ~/.pgpass)."""
    try:
        url = make_url(text)
    except ArgumentError as error:
        raise ConfigError(f"{where}: not a database URL: {text!r}") from error
    if url.password is not None:
        raise ConfigError(
            f"{where}: holds a password; keep it out of the settings file "
            "(PostgreSQL reads it from ~/.pgpass, or set KAITIAKI_DB)"
        )
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database).expanduser()
        if not database.is_absolute():
            return str(url.set(database=str(folder / database)))
    return text
