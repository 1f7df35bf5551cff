"""CSV files that partner agencies fill in (indicators, outcomes): a fixed set of known columns.

A partner's file is checked whole before anything is stored: an unknown column, a missing key
column or a row with more cells than the header is refused naming the file, row and line, so a
typo in a header never silently drops a column.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path


class PartnerCsvError(ValueError):
    """A partner CSV that cannot be read as it stands; the message names where and why."""


def read_partner_csv(
    path: Path, *, key: str, known: Sequence[str]
) -> list[tuple[str, dict[str, str]]]:
    """Rows as (``"FILE: row N (line L)"``, stripped cells by column), in file order."""
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise PartnerCsvError(f"{path}: cannot read: {exc.strerror}") from exc
    with handle:
        reader = csv.DictReader(handle)
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
    return rows
