"""CSV files that partner agencies fill in (indicators, outcomes): a fixed set of known columns.

A partner's file is checked whole before anything is stored: an unknown column, a missing key
column, a row with more cells than the header, text that is not UTF-8 or a line past the bound
is refused naming the file, row and line, so a typo in a header never silently drops a column
and a hostile file never takes more than a bounded amount of memory.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator, Sequence
from pathlib import Path

# A partner's sheet holds hundreds of rows; these bounds are far past any real one. The file is
# read whole (to tell an encoding error's line exactly), so its size bounds the memory taken.
MAX_BYTES = 64 << 20
MAX_LINE = 1 << 20  # characters


class PartnerCsvError(ValueError):
    """A partner CSV that cannot be read as it stands; the message names where and why."""


def read_partner_csv(
    path: Path, *, key: str, known: Sequence[str]
) -> list[tuple[str, dict[str, str]]]:
    """Rows as (``"FILE: row N (line L)"``, stripped cells by column), in file order."""
    lines = _lines(path, _text(path))
    reader = csv.DictReader(lines)
    try:
        header = [c.strip() for c in reader.fieldnames or []]
        if key not in header:
            raise PartnerCsvError(f"{path}: needs a {key!r} column")
        unknown = [c for c in header if c not in known]
        if unknown:
            raise PartnerCsvError(
                f"{path}: unknown column(s) {', '.join(map(repr, unknown))}; "
                f"known columns: {', '.join(known)}"
            )
        reader.fieldnames = header
        rows = []
        for number, raw in enumerate(reader, 1):
            where = f"{path}: row {number} (line {reader.line_num})"
            if None in raw:
                raise PartnerCsvError(f"{where}: more cells than columns")
            rows.append((where, {k: (v or "").strip() for k, v in raw.items()}))
    except csv.Error as exc:  # a field past csv's size limit, a NUL, a stray quote
        raise PartnerCsvError(f"{path}: line {reader.line_num + 1}: not valid CSV: {exc}") from None
    return rows


def _text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise PartnerCsvError(f"{path}: cannot read: {exc.strerror}") from exc
    if len(data) > MAX_BYTES:
        raise PartnerCsvError(f"{path}: larger than {MAX_BYTES >> 20} MiB; not a partner sheet")
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PartnerCsvError(
            f"{path}: line {line}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
            "save the file as UTF-8"
        ) from None


def _lines(path: Path, text: str) -> Iterator[str]:
    """The physical lines (any of \\n, \\r\\n, \\r), each at most ``MAX_LINE`` characters."""
    stream = io.StringIO(text, newline="")
    number = 0
    while line := stream.readline(MAX_LINE + 1):
        number += 1
        if len(line) > MAX_LINE:
            raise PartnerCsvError(f"{path}: line {number}: longer than {MAX_LINE} characters")
        yield line
