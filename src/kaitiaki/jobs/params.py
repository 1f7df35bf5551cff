"""Checking a job's parameters at submit time; every error names the field it is about.

Path parameters are checked by ``jobs.paths``, against the roots the web server may touch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# Set by the web server (``jobs.paths``), never by a request: the folders a job may touch.
CONFINEMENT = "confinement"


class JobParamsError(ValueError):
    """Parameters a kind cannot run with; ``field`` is the one at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def only(params: dict[str, Any], allowed: Iterable[str]) -> None:
    """Refuse unknown fields: a misspelt option silently ignored would run the wrong job."""
    if not isinstance(params, dict):
        raise JobParamsError("params", "must be an object of named parameters")
    unknown = sorted(set(params) - {*allowed, CONFINEMENT})
    if unknown:
        raise JobParamsError(unknown[0], f"unknown parameter; expected one of {sorted(allowed)}")


def text(params: dict[str, Any], field: str, *, required: bool = True) -> str | None:
    value = params.get(field)
    if value is None:
        if required:
            raise JobParamsError(field, "is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise JobParamsError(field, "must be a non-empty string")
    return value.strip()


def texts(params: dict[str, Any], field: str, *, required: bool = True) -> list[str] | None:
    """A list of non-empty strings; a single string is taken as a list of one."""
    value = params.get(field)
    if value is None:
        if required:
            raise JobParamsError(field, "is required")
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise JobParamsError(field, "must be a list of non-empty strings")
    if required and not value:
        raise JobParamsError(field, "must not be empty")
    return [v.strip() for v in value]


def integer(
    params: dict[str, Any], field: str, *, low: int, high: int, default: int | None = None
) -> int | None:
    value = params.get(field)
    if value is None:
        return default
    # bool is an int in Python; true as a worker count is a mistake, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise JobParamsError(field, "must be a whole number")
    if not low <= value <= high:
        raise JobParamsError(field, f"must be between {low} and {high}, not {value}")
    return value


def flag(params: dict[str, Any], field: str, *, default: bool = False) -> bool:
    value = params.get(field, default)
    if not isinstance(value, bool):
        raise JobParamsError(field, "must be true or false")
    return value
