"""The hash exchanges kaitiaki drives, by the names Meta's ``threatexchange`` package gives them.

The clients are the package's own (``SignalExchangeAPI``): kaitiaki stores their settings, their
credentials (encrypted, see ``secret``) and their checkpoints, and maps what they fetch onto a
hash set. Nothing here talks to the network; a client does so only when ``fetch`` iterates it.
"""

from __future__ import annotations

import enum
import functools
import typing
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any

import dacite
from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.signal_exchange_api import AnySignalExchangeAPI
from threatexchange.signal_type.signal_base import SignalType

ApiClass = type[AnySignalExchangeAPI]
# What a client is built with: the package's text form (an exchange's own credentials) or the
# credential class's fields as JSON (an API's, set as HMA sets them: ``api_credentials``).
Credentials = str | dict[str, Any]

# The tables below are built on first use, not at import: threatexchange's PDQ signal (which
# the NCMEC, StopNCII and TAT clients import) loads faiss, which the web server's worker
# processes would otherwise hold in memory for nothing. ``APIS``, ``SIGNAL_FIELDS`` and
# ``SIGNAL_TYPES`` still read as module attributes (see ``__getattr__``).
if TYPE_CHECKING:
    APIS: dict[str, ApiClass]
    SIGNAL_FIELDS: dict[str, str]
    SIGNAL_TYPES: list[type[SignalType]]


@functools.cache
def apis() -> dict[str, ApiClass]:
    """The exchange APIs by name (one dict, so a test can patch an entry in)."""
    from threatexchange.exchanges.impl.fb_threatexchange_api import (
        FBThreatExchangeSignalExchangeAPI,
    )
    from threatexchange.exchanges.impl.file_api import LocalFileSignalExchangeAPI
    from threatexchange.exchanges.impl.ncmec_api import NCMECSignalExchangeAPI
    from threatexchange.exchanges.impl.static_sample import StaticSampleSignalExchangeAPI
    from threatexchange.exchanges.impl.stop_ncii_api import StopNCIISignalExchangeAPI
    from threatexchange.exchanges.impl.techagainstterrorism_api import TATSignalExchangeAPI

    return {
        cls.get_name(): cls
        for cls in (
            LocalFileSignalExchangeAPI,
            StaticSampleSignalExchangeAPI,
            NCMECSignalExchangeAPI,
            FBThreatExchangeSignalExchangeAPI,
            StopNCIISignalExchangeAPI,
            TATSignalExchangeAPI,
        )
    }


@functools.cache
def signal_fields() -> dict[str, str]:
    """The signal types a hash-set entry can hold, and the Entry field each lands in. A video
    MD5 is the MD5 of the file's bytes, which is what an entry's ``md5`` is matched against."""
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    return {PdqSignal.get_name(): "pdq", VideoMD5Signal.get_name(): "md5"}


@functools.cache
def signal_types() -> list[type[SignalType]]:
    from threatexchange.signal_type.md5 import VideoMD5Signal
    from threatexchange.signal_type.pdq.signal import PdqSignal

    return [PdqSignal, VideoMD5Signal]


_TABLES = {"APIS": apis, "SIGNAL_FIELDS": signal_fields, "SIGNAL_TYPES": signal_types}


def __getattr__(name: str) -> object:
    table = _TABLES.get(name)
    if table is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return table()


class ExchangeError(Exception):
    """A bad exchange name, API, setting or credential; the message says which and why."""


class ExchangeExistsError(ExchangeError):
    def __init__(self, name: str) -> None:
        super().__init__(f"exchange {name!r} already exists")


class ExchangeMissingError(ExchangeError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no exchange named {name!r}")


def api_class(api: str) -> ApiClass:
    found = apis().get(api)
    if found is None:
        raise ExchangeError(f"unknown exchange API {api!r} (one of: {', '.join(sorted(apis()))})")
    return found


def needs_credentials(api_cls: ApiClass) -> bool:
    return issubclass(api_cls, auth.SignalExchangeWithAuth)


def collab_config(api_cls: ApiClass, name: str, config: dict[str, Any]) -> CollaborationConfigBase:
    """The package's collaboration config for ``config`` (the exchange's settings as JSON)."""
    cfg_cls = api_cls.get_config_cls()
    data = {"name": name, "api": api_cls.get_name(), "enabled": True, **config}
    # Fields the config fixes itself (``api`` on most) are not settable.
    settable = {f.name for f in fields(cfg_cls) if f.init}
    unknown = sorted(set(data) - settable - {"api"})
    if unknown:
        raise ExchangeError(
            f"config field {unknown[0]!r} is not a setting of {api_cls.get_name()} "
            f"(settings: {', '.join(sorted(settable - {'name', 'api', 'enabled'})) or 'none'})"
        )
    data = {k: v for k, v in data.items() if k in settable}
    # An enum setting (NCMEC's environment) by its name ("NGO") as well as its value (a URL).
    hints = typing.get_type_hints(cfg_cls)
    for key, value in data.items():
        kind = hints.get(key)
        if isinstance(kind, type) and issubclass(kind, enum.Enum) and value in kind.__members__:
            data[key] = kind[value].value
    try:
        built: CollaborationConfigBase = dacite.from_dict(
            cfg_cls, data, config=dacite.Config(cast=[enum.Enum, set, tuple], strict=True)
        )
    except (dacite.DaciteError, ValueError, TypeError) as exc:
        raise ExchangeError(f"config for {api_cls.get_name()}: {exc}") from None
    return built


def parse_credentials(api_cls: ApiClass, text: str) -> auth.CredentialHelper:
    """The package's credential object from its own text form (e.g. ``user:password``)."""
    if not issubclass(api_cls, auth.SignalExchangeWithAuth):
        raise ExchangeError(f"{api_cls.get_name()} takes no credentials")
    cred_cls = api_cls.get_credential_cls()
    # The package parses its text form in a protected classmethod; it is the documented format
    # of its credential files and environment variables, so we read the same text.
    creds: auth.CredentialHelper | None = cred_cls._from_str(text.strip())
    if creds is None or not creds._are_valid():
        raise ExchangeError(f"credentials for {api_cls.get_name()} are incomplete or malformed")
    return creds


def make_client(
    api_cls: ApiClass, collab: CollaborationConfigBase, credentials: Credentials | None
) -> AnySignalExchangeAPI:
    """An authenticated client. An API that needs credentials gets the stored ones, never ones
    the package would otherwise look for in the environment or the home directory."""
    if issubclass(api_cls, auth.SignalExchangeWithAuth):
        if credentials is None:
            raise ExchangeError(f"{api_cls.get_name()} needs credentials; none are stored")
        creds = (
            parse_credentials(api_cls, credentials)
            if isinstance(credentials, str)
            else credentials_from_json(api_cls, credentials)
        )
        client: AnySignalExchangeAPI = api_cls.for_collab(collab, creds)
        return client
    return api_cls.for_collab(collab)


def credentials_from_json(api_cls: ApiClass, data: object) -> auth.CredentialHelper:
    """The package's credential object from HMA's ``credential_json``; the error names the
    field at fault and never quotes a value."""
    name = api_cls.get_name()
    if not issubclass(api_cls, auth.SignalExchangeWithAuth):
        raise ExchangeError(f"{name} takes no credentials")
    if not isinstance(data, dict):
        raise ExchangeError("credential_json must be a JSON object")
    cred_cls = api_cls.get_credential_cls()
    declared = [f for f in fields(cred_cls) if f.init]
    known = {f.name for f in declared}
    unknown = sorted(str(key) for key in data if key not in known)
    if unknown:
        raise ExchangeError(
            f"{unknown[0]!r} is not a {name} credential field (fields: {', '.join(sorted(known))})"
        )
    hints = typing.get_type_hints(cred_cls)
    for field in declared:
        required = field.default is MISSING and field.default_factory is MISSING
        value = data.get(field.name)
        if value is None:
            if required:
                raise ExchangeError(f"{name} credentials need {field.name!r}")
            continue
        # The credential classes' fields are all text (optional or not); say so rather than
        # let a number reach the client and fail there, mid-fetch.
        kind = hints.get(field.name)
        if (kind is str or str in typing.get_args(kind)) and not isinstance(value, str):
            raise ExchangeError(f"{name} credential field {field.name!r} must be a string")
    creds: auth.CredentialHelper = cred_cls(**data)
    if not creds._are_valid():
        raise ExchangeError(f"{name} credentials are incomplete or malformed")
    return creds


def is_snapshot(api_cls: ApiClass) -> bool:
    """True where each fetch returns the whole list (a file, the sample): its checkpoint carries
    no progress, so what the list no longer holds was deleted upstream."""
    return api_cls.get_checkpoint_cls() in (state.FetchCheckpointBase, state.NoCheckpointing)


def load_checkpoint(api_cls: ApiClass, data: dict[str, Any]) -> state.FetchCheckpointBase:
    cp_cls = api_cls.get_checkpoint_cls()
    loaded: state.FetchCheckpointBase = dacite.from_dict(
        cp_cls, data, config=dacite.Config(cast=[enum.Enum, set, tuple])
    )
    return loaded
