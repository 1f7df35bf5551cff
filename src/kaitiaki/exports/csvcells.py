"""CSV cells that a spreadsheet will not evaluate (CSV or "formula" injection, OWASP).

File names, user names and reasons come from suspects and from partners' data; a cell such as
``=HYPERLINK("http://x","y")`` or ``@SUM(1)`` in a CSV an analyst opens in a spreadsheet runs
as a formula (links out, pulls data, in old versions starts programs). Every CSV kaitiaki writes
goes through this module: :func:`writer` / :class:`DictWriter` for Python writers,
:func:`duckdb_cell` / :func:`duckdb_safe_query` for DuckDB's ``COPY ... (FORMAT csv)``.

The rule (OWASP's): a text cell that starts with ``= + - @``, a tab or a carriage return gets
a leading ``'``, which spreadsheets show as text. The full-width forms of ``= + - @`` are
included: some spreadsheets in East Asian locales read them as the ASCII operators.

Decided and tested:

- Numbers stay numbers. An ``int`` or finite ``float`` is written as it is, and so is text that
  is exactly a decimal number (``-5``, ``+64``, ``3.2e-4``): a spreadsheet reads it as a
  number, which cannot call a function or link anywhere. ``-1+1`` is not a number and is
  neutralised.
- Text that already starts with ``'`` gets one more, so the encoding is reversible:
  :func:`restore` (strip one leading ``'``) gives back exactly what was neutralised. Readers of
  our own CSVs (the evaluation, merging rejects) use :func:`reader` / :func:`DictReader`, which
  restore; a CSV made for another tool still has its text cells neutralised, and that tool sees
  the ``'``.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Final, Protocol

if TYPE_CHECKING:
    import duckdb

QUOTE: Final = "'"
# OWASP's list, plus the full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20).
TRIGGERS: Final = frozenset("=+-@\t\r\uff1d\uff0b\uff0d\uff20")
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# The same two tests in RE2 (DuckDB), kept next to the Python ones so they cannot drift apart.
_SQL_TRIGGER: Final = "^[=+@\\t\\r\uff1d\uff0b\uff0d\uff20'-]"
_SQL_NUMBER: Final = "[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"


def needs_quote(text: str) -> bool:
    """Whether ``text`` as a cell would be read as a formula (or starts with our quote)."""
    first = text[:1]
    if first == QUOTE:
        return True
    return first in TRIGGERS and _NUMBER.fullmatch(text) is None


def neutralise(value: object) -> object:
    """``value`` as it should be written to a CSV cell (numbers and None unchanged)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    text = value if isinstance(value, str) else str(value)
    return QUOTE + text if needs_quote(text) else value


def restore(text: str) -> str:
    """The inverse of :func:`neutralise` for a cell read back from one of our own CSVs."""
    return text[1:] if text.startswith(QUOTE) else text


class _RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...

    def writerows(self, rows: Iterable[Iterable[Any]], /) -> None: ...


class SafeWriter:
    """``csv.writer`` whose every cell goes through :func:`neutralise`."""

    def __init__(self, inner: _RowWriter) -> None:
        self._inner = inner

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._inner.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(handle: Any, **options: Any) -> SafeWriter:
    """``csv.writer(handle, **options)``, neutralising every cell."""
    return SafeWriter(csv.writer(handle, **options))


if TYPE_CHECKING:
    _DictWriterBase = csv.DictWriter[str]
else:  # Not subscriptable at run time before Python 3.12.
    _DictWriterBase = csv.DictWriter


class DictWriter(_DictWriterBase):
    """``csv.DictWriter`` neutralising every cell (the header too: it is ours, and harmless)."""

    def __init__(self, handle: Any, fieldnames: Iterable[str], **options: Any) -> None:
        super().__init__(handle, list(fieldnames), **options)
        self.writer = SafeWriter(self.writer)  # type: ignore[assignment]


def reader(handle: Iterable[str], **options: Any) -> Iterator[list[str]]:
    """``csv.reader`` over one of our own CSVs, restoring neutralised cells."""
    for row in csv.reader(handle, **options):
        yield [restore(cell) for cell in row]


def DictReader(handle: Iterable[str], **options: Any) -> Iterator[dict[str, str]]:  # noqa: N802
    """``csv.DictReader`` over one of our own CSVs, restoring neutralised cells."""
    for row in csv.DictReader(handle, **options):
        yield {
            key: restore(value) if isinstance(value, str) else value for key, value in row.items()
        }


def duckdb_cell(expr: str) -> str:
    """A DuckDB SQL expression: the text expression ``expr`` neutralised, as :func:`neutralise`."""
    return (
        f"CASE WHEN regexp_matches({expr}, '{_SQL_TRIGGER.replace(QUOTE, QUOTE * 2)}')"
        f" AND NOT regexp_full_match({expr}, '{_SQL_NUMBER}')"
        f" THEN '{QUOTE * 2}' || {expr} ELSE {expr} END"
    )


def duckdb_safe_query(con: duckdb.DuckDBPyConnection, sql: str) -> str:
    """``sql`` with every text column neutralised, for ``COPY (...) TO ... (FORMAT csv)``.

    Other types stay as they are: DuckDB writes numbers as numbers, and dates, lists and
    structs start with a digit, ``[`` or ``{``."""
    from kaitiaki.engines.duckdb_util import sql_ident

    described = con.execute(f"DESCRIBE ({sql})").fetchall()
    texts = [sql_ident(str(row[0])) for row in described if str(row[1]) == "VARCHAR"]
    if not texts:
        return sql
    replaced = ", ".join(f"{duckdb_cell(column)} AS {column}" for column in texts)
    return f"SELECT * REPLACE ({replaced}) FROM ({sql})"
