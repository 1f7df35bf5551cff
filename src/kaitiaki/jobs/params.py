"""Checking a job's parameters at submit time; every error names the field it is about."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


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
    unknown = sorted(set(params) - set(allowed))
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


def existing_path(value: str, field: str, *, kind: str = "any") -> str:
    """``value`` made absolute (the runner may have another working directory); it must exist."""
    path = Path(value).expanduser().absolute()
    try:
        if kind == "file" and not path.is_file():
            raise JobParamsError(field, f"no such file: {path}")
        if kind == "dir" and not path.is_dir():
            raise JobParamsError(field, f"no such folder: {path}")
        if kind == "any" and not path.exists():
            raise JobParamsError(field, f"no such file or folder: {path}")
    except OSError as error:  # a name too long for the file system, say
        raise JobParamsError(field, f"cannot be checked: {error.strerror or error}") from None
    return str(path)


def output_dir(value: str, field: str) -> str:
    """A folder the job will write: it may not exist yet, but must not be a file."""
    path = Path(value).expanduser().absolute()
    if path.exists() and not path.is_dir():
        raise JobParamsError(field, f"exists and is not a folder: {path}")
    return str(path)
