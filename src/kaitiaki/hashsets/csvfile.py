"""CSV hash sets with a column map: ``md5=Hash,category=Cat`` maps our fields to the headers.

Without a map, headers that spell one of our fields (or its VICS name: MD5, SHA1, MediaID,
VictimIdentified, ...) are used, ignoring case, spaces, ``-`` and ``_``. A column named for its
kind (``md5``, ``sha256``, ``pdq``, ...) holds that kind; a ``kind:`` prefix in it must agree.
The ``hash`` field takes a digest of any kind, told by a ``hash_type`` column (``Hash Type``,
``Signal Type``: md5, sha1, sha256 or pdq) where there is one, else as in plain lists: by a
``sha256:``/``pdq:`` prefix or by its length, a bare 64-hex value only with ``hex64`` (refused
otherwise, naming the row and both readings). The delimiter (comma, semicolon, tab or bar) is
the one the header line uses most. Errors name the data row and its line.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from kaitiaki.hashsets.entry import (
    MAX_MEDIA_ID,
    MAX_SERIES,
    Entry,
    EntryError,
    HashKind,
    HashSetError,
    HashSetFormatError,
    Hex64,
    Parsed,
    bounded_text,
    classify_hash,
    format_error,
    hash_kind,
    parse_bool,
    parse_category,
    typed_hex,
)

FIELDS = (
    "md5",
    "sha1",
    "sha256",
    "pdq",
    "hash",
    "hash_type",
    "photodna",
    "media_id",
    "category",
    "series",
    "victim_identified",
    "offender_identified",
    "is_distributed",
)
_HASH_FIELDS: tuple[HashKind, ...] = ("md5", "sha1", "sha256", "pdq")
_FLAGS = ("victim_identified", "offender_identified", "is_distributed")
# Header spellings recognised without a map, after _key() (lowercase, no space, - or _).
_HEADER_NAMES = {
    **{_f.replace("_", ""): _f for _f in FIELDS},
    "distributed": "is_distributed",
    "seriesname": "series",
    "signaltype": "hash_type",
    "hashkind": "hash_type",
}
_DELIMITERS = ",;\t|"


def _key(header: str) -> str:
    return "".join(ch for ch in header.strip().lower() if ch not in " _-")


def parse_columns(spec: str) -> dict[str, str]:
    """``"md5=Hash,category=Cat"`` as ``{"md5": "Hash", "category": "Cat"}``."""
    columns: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, sep, header = part.partition("=")
        name = name.strip().lower()
        if not sep or not header.strip():
            raise HashSetError(f"column map item {part!r} is not FIELD=HEADER")
        if name not in FIELDS:
            raise HashSetError(f"unknown field {name!r} in column map; fields: {', '.join(FIELDS)}")
        columns[name] = header.strip()
    if not columns:
        raise HashSetError("empty column map")
    return columns


def read_csv(
    path: Path,
    lines: Iterable[str],
    columns: Mapping[str, str] | None = None,
    *,
    hex64: Hex64 | None = None,
) -> Iterator[Parsed]:
    reader = None
    try:
        stream = iter(lines)
        first = next(stream, "")
        delimiter = max(_DELIMITERS, key=first.count)
        reader = csv.reader(itertools.chain([first], stream), delimiter=delimiter, strict=True)
        header = next(reader, None)
        if not header:
            raise HashSetFormatError(path, "line 1", "no header line")
        positions = _positions(path, header, columns)
        for number, row in enumerate(reader, start=1):
            if not any(cell.strip() for cell in row):
                continue
            where = f"row {number} (line {reader.line_num})"
            if len(row) != len(header):
                raise HashSetFormatError(
                    path, where, f"{len(row)} fields where the header has {len(header)}"
                )
            try:
                entry = _entry({name: row[i] for name, i in positions.items()}, hex64)
            except EntryError as exc:
                raise format_error(path, where, exc) from None
            yield Parsed(entry, where)
    except csv.Error as exc:
        where = f"line {reader.line_num}" if reader else "line 1"
        raise HashSetFormatError(path, where, f"invalid CSV: {exc}") from None
    except UnicodeDecodeError as exc:
        where = f"after line {reader.line_num}" if reader else "line 1"
        raise HashSetFormatError(path, where, f"not UTF-8 text ({exc.reason})") from None


def _positions(path: Path, header: list[str], columns: Mapping[str, str] | None) -> dict[str, int]:
    if columns:
        index = {h.strip(): i for i, h in enumerate(header)}
        missing = [h for h in columns.values() if h not in index]
        if missing:
            raise HashSetFormatError(
                path, "header", f"no column {missing[0]!r} (columns: {', '.join(header)})"
            )
        positions = {name: index[h] for name, h in columns.items()}
    else:
        positions = {}
        for i, h in enumerate(header):
            name = _HEADER_NAMES.get(_key(h))
            if name is not None and name not in positions:
                positions[name] = i
    if not any(f in positions for f in (*_HASH_FIELDS, "hash", "photodna")):
        raise HashSetFormatError(
            path,
            "header",
            f"no hash column among {', '.join(header)}; give a column map "
            "such as --columns md5=Hash",
        )
    return positions


def _entry(cells: dict[str, str], hex64: Hex64 | None) -> Entry:
    values: dict[str, Any] = {}
    for kind in _HASH_FIELDS:
        if kind in cells:
            values[kind] = typed_hex(cells[kind], kind)
    if cells.get("hash", "").strip():
        kind, digest = _hash_cell(cells["hash"], cells.get("hash_type", ""), hex64)
        if values.get(kind) not in (None, digest):
            raise EntryError(f"hash column and {kind} column disagree")
        values[kind] = digest
    if cells.get("photodna", "").strip():
        values["photodna"] = cells["photodna"].strip()
    if not any(values.values()):
        raise EntryError("no hash in this row")
    for flag in _FLAGS:
        if flag in cells:
            values[flag] = parse_bool(cells[flag], flag)
    return Entry(
        **values,
        media_id=bounded_text(cells.get("media_id"), "media_id", MAX_MEDIA_ID),
        category=parse_category(cells.get("category")),
        series=bounded_text(cells.get("series"), "series", MAX_SERIES),
    )


def _hash_cell(value: str, type_cell: str, hex64: Hex64 | None) -> tuple[HashKind, str]:
    """The ``hash`` column's digest: its kind from the row's ``hash_type`` cell when it has
    one, else from a prefix or the length (``classify_hash``)."""
    if not type_cell.strip():
        return classify_hash(value, hex64=hex64, column=True)
    kind = hash_kind(type_cell, "hash_type")
    digest = typed_hex(value.strip(), kind, f"{kind} hash")
    assert digest is not None  # the caller saw a value
    return kind, digest
