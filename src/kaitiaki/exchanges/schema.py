"""Form descriptors for an exchange API's settings and credentials, read off the package's own
dataclasses, in the shape HMA's ``/c/exchanges/api/<name>/schema`` answers with.

Each field: ``name``, ``type`` (``string``, ``number``, ``boolean``, ``enum``, ``set_of_...``,
``list_of_...``), ``required``, ``default`` (as JSON), ``help`` (the field's ``metadata``) and
``choices`` (an enum's values). Fields a client does not set are left out: those the class fixes
itself (``init=False``) and, for settings, the name, API and switch every exchange has.
"""

from __future__ import annotations

import enum
import types
import typing
from dataclasses import MISSING, Field, fields, is_dataclass
from typing import Any

from threatexchange.exchanges import auth

from kaitiaki.exchanges.registry import ApiClass

# Set by the routes themselves (the bank an exchange feeds, its API, PUT's switch).
COMMON_SETTINGS = frozenset({"name", "api", "enabled"})
SCALARS: dict[Any, str] = {str: "string", int: "number", float: "number", bool: "boolean"}


def _kind(hint: Any) -> tuple[str, list[Any] | None]:
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return "enum", [member.value for member in hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        present = [a for a in args if a is not type(None)]
        if len(present) == 1:
            return _kind(present[0])
    if origin in (set, frozenset, list, tuple) and args:
        inner, _ = _kind(args[0])
        return f"{'list' if origin in (list, tuple) else 'set'}_of_{inner}", None
    # Anything else is entered as text, as HMA's forms do.
    return SCALARS.get(hint, "string"), None


def _json(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (set, frozenset, list, tuple)):
        items = [_json(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _default(field: Field[Any]) -> tuple[bool, Any]:
    """Whether the field must be given, and its default as JSON (None when it must)."""
    if field.default is not MISSING:
        return False, _json(field.default)
    if field.default_factory is not MISSING:
        return False, _json(field.default_factory())
    return True, None


def field_descriptors(
    cls: type[Any], *, leave_out: frozenset[str] = frozenset()
) -> list[dict[str, Any]]:
    if not is_dataclass(cls):
        return []
    hints = typing.get_type_hints(cls)
    out: list[dict[str, Any]] = []
    for field in fields(cls):
        if not field.init or field.name in leave_out:
            continue
        kind, choices = _kind(hints.get(field.name, str))
        required, default = _default(field)
        out.append(
            {
                "name": field.name,
                "type": kind,
                "required": required,
                "default": default,
                "help": str(field.metadata.get("help", "")),
                "choices": choices,
            }
        )
    return out


def api_schema(api_cls: ApiClass) -> dict[str, Any]:
    """HMA's ``config_schema`` (api_json's fields) and ``credentials_schema`` (None for an API
    that takes no credentials)."""
    settings = field_descriptors(api_cls.get_config_cls(), leave_out=COMMON_SETTINGS)
    credentials = None
    if issubclass(api_cls, auth.SignalExchangeWithAuth):
        credentials = {"fields": field_descriptors(api_cls.get_credential_cls())}
    return {"config_schema": {"fields": settings}, "credentials_schema": credentials}
