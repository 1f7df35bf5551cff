"""Schema versions of the files that cross between installations, and checking a received one.

Every file kaitiaki sends to another installation (referral package, outcome file, series update)
carries ``schema_version`` "MAJOR.MINOR". A minor version only adds optional fields, so a reader
accepts every earlier version and a later minor of its own major (ignoring what it does not
know); a later major may change meaning, so it is refused with a message saying what to do.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from importlib.resources import files
from typing import Any, Final

import jsonschema

_VERSION: Final = re.compile(r"([0-9]{1,4})\.([0-9]{1,4})")


class SchemaVersionError(ValueError):
    """A document whose ``schema_version`` this kaitiaki cannot read; the message says why."""


def parse_version(value: object, *, what: str) -> tuple[int, int]:
    if not isinstance(value, str) or not (m := _VERSION.fullmatch(value)):
        raise SchemaVersionError(f"{what}: schema_version {value!r} is not MAJOR.MINOR")
    return int(m.group(1)), int(m.group(2))


def check_version(doc: object, current: str, *, what: str) -> tuple[int, int]:
    """The document's (major, minor), or SchemaVersionError when it is missing, malformed, or
    of a major version newer than ``current`` (what this kaitiaki writes)."""
    if not isinstance(doc, dict):
        raise SchemaVersionError(f"{what}: not a JSON object")
    found = parse_version(doc.get("schema_version"), what=what)
    ours = parse_version(current, what="this kaitiaki")
    if found[0] > ours[0]:
        raise SchemaVersionError(
            f"{what}: schema version {found[0]}.{found[1]} is newer than this kaitiaki reads "
            f"({ours[0]}.x); update kaitiaki to read it"
        )
    if found[0] < 1:
        raise SchemaVersionError(f"{what}: schema version {found[0]}.{found[1]} is unknown")
    return found


@cache
def load_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped under ``kaitiaki/refer/schema``."""
    import json

    doc: dict[str, Any] = json.loads(files("kaitiaki.refer").joinpath(f"schema/{name}").read_text())
    return doc


def _open(schema: Any) -> Any:
    """The schema with every ``additionalProperties: false`` lifted and any ``schema_version``
    constraint dropped: how a later minor version (more optional fields) is checked."""
    if isinstance(schema, dict):
        out = {k: _open(v) for k, v in schema.items() if k != "additionalProperties"}
        props = out.get("properties")
        if isinstance(props, dict) and "schema_version" in props:
            props["schema_version"] = {"type": "string"}
        return out
    if isinstance(schema, list):
        return [_open(v) for v in schema]
    return schema


@cache
def _validator(name: str, lenient: bool) -> jsonschema.protocols.Validator:
    schema = load_schema(name)
    if lenient:
        schema = _open(copy.deepcopy(schema))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def validate(doc: dict[str, Any], schema_name: str, current: str, *, what: str) -> tuple[int, int]:
    """Check the version, then the document against its JSON Schema (leniently for a later
    minor); raises SchemaVersionError naming the first problem and where it is."""
    found = check_version(doc, current, what=what)
    lenient = found > parse_version(current, what="this kaitiaki")
    errors = sorted(
        _validator(schema_name, lenient).iter_errors(doc), key=lambda e: list(e.absolute_path)
    )
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.absolute_path) or "(top)"
        message = first.message if len(first.message) <= 300 else first.message[:300] + "..."
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise SchemaVersionError(f"{what}: at {where}: {message}{more}")
    return found
