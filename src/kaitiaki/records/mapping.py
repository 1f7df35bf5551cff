"""Column mapping: which of a provider's fields is which of ours, in a small TOML file.

```toml
[records]                     # access records
timestamp = "event_time"      # our name = the provider's column (or JSON key)
account_id = "user"
timestamp_format = "iso8601"  # or "epoch_seconds", "epoch_millis"
delimiter = ";"               # CSV only; "," by default, "\\t" for tab

[records.action_values]       # provider values that mean one of our four actions
upload = "PUT"
share = ["share-link", "LINK_CREATED"]

[accounts]
account_id = "uid"

[catalog]
object_id = "blob"
```

Anything not named keeps our default name. Unknown sections, keys or actions are errors, so a typo
never silently leaves a column unmapped.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args

Kind = Literal["records", "accounts", "catalog"]
TimestampFormat = Literal["iso8601", "epoch_seconds", "epoch_millis"]
Action = Literal["upload", "download", "view", "share"]

KINDS: tuple[Kind, ...] = get_args(Kind)
ACTIONS: tuple[Action, ...] = get_args(Action)
TIMESTAMP_FORMATS: tuple[TimestampFormat, ...] = get_args(TimestampFormat)

# Our fields per kind, in output order; the bool says whether a row without it is rejected.
FIELDS: dict[Kind, tuple[tuple[str, bool], ...]] = {
    "records": (
        ("timestamp", True),
        ("account_id", True),
        ("action", True),
        ("object_id", True),
        ("ip", False),
        ("port", False),
    ),
    "accounts": (
        ("account_id", True),
        ("username", False),
        ("email", False),
        ("phone", False),
        ("device_id", False),
    ),
    "catalog": (
        ("object_id", True),
        ("md5", False),
        ("sha1", False),
        ("sha256", False),
        ("pdq", False),
        # Whether a person at the provider viewed the object (NCMEC's fileViewedByEsp):
        # true/false, empty where the provider does not say (records.validate.catalog_sql).
        ("viewed_by_provider", False),
    ),
}

# Spellings accepted without a mapping (compared trimmed and lowercased).
DEFAULT_ACTION_VALUES: dict[str, Action] = {
    "upload": "upload",
    "uploaded": "upload",
    "download": "download",
    "downloaded": "download",
    "view": "view",
    "viewed": "view",
    "share": "share",
    "shared": "share",
    "share-link": "share",
}

_OPTION_KEYS = {"timestamp_format", "delimiter", "action_values"}
# A mapping names a few columns; anything bigger is not one (and is not read whole).
MAX_MAPPING_BYTES = 1 << 20


class MappingError(ValueError):
    """The mapping file is unreadable or names something we do not know."""


@dataclass(frozen=True)
class KindMapping:
    """The mapping for one kind of input."""

    kind: Kind
    columns: Mapping[str, str]  # our field -> the provider's column
    action_values: Mapping[str, Action] = field(default_factory=lambda: dict(DEFAULT_ACTION_VALUES))
    timestamp_format: TimestampFormat = "iso8601"
    delimiter: str = ","

    def source(self, ours: str) -> str:
        return self.columns.get(ours, ours)

    def fingerprint(self) -> str:
        """Stable digest of everything that changes how a file is read: part of the ingest key."""
        payload = {
            "kind": self.kind,
            "columns": {f: self.source(f) for f, _ in FIELDS[self.kind]},
            "action_values": dict(sorted(self.action_values.items())),
            "timestamp_format": self.timestamp_format,
            "delimiter": self.delimiter,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ColumnMapping:
    """Mappings for access records, accounts and the file catalog."""

    records: KindMapping
    accounts: KindMapping
    catalog: KindMapping

    @classmethod
    def default(cls) -> ColumnMapping:
        return cls(*(KindMapping(kind, {}) for kind in KINDS))

    def for_kind(self, kind: Kind) -> KindMapping:
        if kind not in KINDS:
            raise MappingError(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
        return cast(KindMapping, getattr(self, kind))


def load_mapping(path: Path) -> ColumnMapping:
    """Read a mapping file; every problem is a MappingError naming the file."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_MAPPING_BYTES + 1)
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc.strerror}") from exc
    if len(raw) > MAX_MAPPING_BYTES:
        raise MappingError(f"{path}: larger than {MAX_MAPPING_BYTES} bytes; not a mapping file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MappingError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from exc
    return parse_mapping(text, source=str(path))


def parse_mapping(text: str, *, source: str = "<mapping>") -> ColumnMapping:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"{source}: not valid TOML: {exc}") from exc
    except RecursionError:
        # tomllib parses nested arrays and inline tables recursively.
        raise MappingError(f"{source}: not valid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer past Python's 4300-digit conversion limit
        raise MappingError(f"{source}: not valid TOML: {exc}") from None
    unknown = sorted(set(doc) - set(KINDS))
    if unknown:
        raise MappingError(
            f"{source}: unknown section(s) {', '.join(unknown)}; expected {', '.join(KINDS)}"
        )
    parts = {kind: _parse_kind(kind, doc.get(kind, {}), source) for kind in KINDS}
    return ColumnMapping(parts["records"], parts["accounts"], parts["catalog"])


def _parse_kind(kind: Kind, section: object, source: str) -> KindMapping:
    where = f"{source}: [{kind}]"
    if not isinstance(section, dict):
        raise MappingError(f"{where} must be a table")
    ours = {name for name, _ in FIELDS[kind]}
    columns: dict[str, str] = {}
    for key, value in section.items():
        if key in _OPTION_KEYS:
            continue
        if key not in ours:
            raise MappingError(
                f"{where}: unknown field {key!r}; fields are {', '.join(sorted(ours))}"
                f" and options {', '.join(sorted(_OPTION_KEYS))}"
            )
        if not isinstance(value, str) or not value.strip():
            raise MappingError(f"{where}: {key} must name a column (a non-empty string)")
        columns[key] = value
    timestamp_format = section.get("timestamp_format", "iso8601")
    if timestamp_format not in TIMESTAMP_FORMATS:
        raise MappingError(
            f"{where}: timestamp_format {timestamp_format!r};"
            f" expected {', '.join(TIMESTAMP_FORMATS)}"
        )
    delimiter = section.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise MappingError(f"{where}: delimiter must be one character (not a quote or newline)")
    return KindMapping(
        kind=kind,
        columns=columns,
        action_values=_parse_actions(section.get("action_values", {}), where),
        timestamp_format=cast(TimestampFormat, timestamp_format),
        delimiter=delimiter,
    )


def _parse_actions(table: object, where: str) -> dict[str, Action]:
    if not isinstance(table, dict):
        raise MappingError(f'{where}: action_values must be a table like {{upload = "PUT"}}')
    values = dict(DEFAULT_ACTION_VALUES)
    added: dict[str, Action] = {}
    for action, given in table.items():
        if action not in ACTIONS:
            raise MappingError(
                f"{where}: action_values: unknown action {action!r}; expected {', '.join(ACTIONS)}"
            )
        spellings = [given] if isinstance(given, str) else given
        if not isinstance(spellings, list) or not all(
            isinstance(s, str) and s.strip() for s in spellings
        ):
            raise MappingError(f"{where}: action_values.{action} must be a string or strings")
        for spelling in spellings:
            key = spelling.strip().lower()
            if added.get(key, action) != action:
                raise MappingError(
                    f"{where}: action_values: {spelling!r} given for both {added[key]} and {action}"
                )
            added[key] = cast(Action, action)
    values.update(added)
    return values
