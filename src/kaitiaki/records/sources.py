"""Input files as SQL relations: one row per record, its row number, our field names.

Row numbers are what a person needs to find a rejected row again. CSV: the line number less
the header line, as DuckDB counts lines (blank lines count; a quoted value spanning lines does
not start a new one), so for ordinary files row n is line n + 1. JSON Lines: the line number.
Parquet: the row's position, counted from 1 like the other formats. DuckDB reads CSV in
parallel; ``WITH ORDINALITY`` keeps file order, but rows the CSV parser itself rejects (wrong
number of columns, bad quoting, bad UTF-8) and blank lines are skipped without a number, so the
numbers after them are shifted back by an ASOF join on the skipped positions.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from kaitiaki.engines.duckdb_util import sql_ident, sql_literal
from kaitiaki.records.mapping import FIELDS, KindMapping

if TYPE_CHECKING:
    import duckdb

Format = Literal["csv", "jsonl", "parquet"]

_SUFFIXES: dict[str, Format] = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_COMPRESSED = (".gz", ".zst")
_CHUNK = 8 << 20


class IngestError(Exception):
    """An input cannot be ingested at all (as opposed to a bad row, which is rejected)."""


@dataclass(frozen=True)
class Digest:
    sha256: str
    size: int
    has_blank_lines: bool  # only looked for as CSV needs it: "\n\n" or "\n\r\n" in the bytes


def digest_file(path: Path, progress: Callable[[int, int], None] | None = None) -> Digest:
    """SHA-256 of the input as received, and whether it has empty lines, in one read."""
    sha = hashlib.sha256()
    size = path.stat().st_size
    done = 0
    blank = False
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
            if not blank:
                joined = tail + chunk
                blank = b"\n\n" in joined or b"\n\r\n" in joined
                tail = chunk[-2:]
            done += len(chunk)
            if progress is not None:
                progress(done, size)
    return Digest(sha.hexdigest(), size, blank)


def detect_format(path: Path) -> Format:
    suffixes = [s.lower() for s in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] in _COMPRESSED
    if compressed:
        suffixes = suffixes[:-1]
    fmt = _SUFFIXES.get(suffixes[-1]) if suffixes else None
    if fmt is None or (compressed and fmt == "parquet"):
        raise IngestError(
            f"{path}: cannot tell the format from the name; use .csv, .jsonl or .parquet"
            " (CSV and JSON Lines may end in .gz or .zst)"
        )
    return fmt


@dataclass
class Source:
    """One input, ready to be read in passes."""

    path: Path
    fmt: Format
    mapping: KindMapping
    tag: str  # unique per input within a connection, safe inside SQL names
    types: dict[str, str]  # our field -> DuckDB type of the raw column; absent fields are NULL
    skipped: list[tuple[int, str]] = field(default_factory=list)  # parser rejects (row, reason)
    _shifted: bool = False

    def rows(self, *, numbered: bool) -> str:
        """SELECT [row_n,] _malformed, <our fields> ... over the file.

        The un-numbered form is for the first pass: it also records the parser's rejects.
        """
        if self.fmt == "parquet":
            return self._parquet_rows()
        inner = self._text_rows(first_pass=not numbered)
        if not numbered:
            return f"SELECT * EXCLUDE (_o) FROM ({inner})"
        if not self._shifted:
            return f"SELECT _o AS row_n, * EXCLUDE (_o) FROM ({inner})"
        return (
            f"SELECT r._o + coalesce(s.k, 0) AS row_n, r.* EXCLUDE (_o) FROM ({inner}) r"
            f" ASOF LEFT JOIN {self.table('shift')} s ON r._o >= s.t"
        )

    def table(self, name: str) -> str:
        return f"kt_{name}_{self.tag}"

    @property
    def compressed(self) -> bool:
        return self.path.suffix.lower() in _COMPRESSED

    def finish_first_pass(self, con: duckdb.DuckDBPyConnection, has_blank_lines: bool) -> None:
        """Collect the parser's rejects and blank lines; set up the row-number shift.

        ``has_blank_lines`` comes from the raw bytes, which say nothing for compressed files.
        """
        has_blank_lines = has_blank_lines or self.compressed
        if self.fmt == "parquet":
            return
        first = 1 if self.fmt == "csv" else 0  # the CSV header is line 1
        errors = con.execute(
            f"SELECT line, min(error_type) FROM {self.table('rej_errors')} GROUP BY line"
        ).fetchall()
        what = "CSV row" if self.fmt == "csv" else "JSON line"
        self.skipped = [
            (int(line) - first, f"malformed {what}: {str(kind).lower()}") for line, kind in errors
        ]
        blanks: list[int] = []
        if self.fmt == "csv" and has_blank_lines:
            # DuckDB's CSV reader drops empty lines silently but counts them in its line numbers.
            blanks = [
                int(o) - first
                for (o,) in con.execute(
                    f"SELECT o FROM {self._line_reader()} WITH ORDINALITY t(line, o)"
                    " WHERE line IS NULL OR line = chr(13)"
                ).fetchall()
            ]
        positions = sorted({row for row, _ in self.skipped} | set(blanks))
        if not positions:
            return
        # The o-th record read is row o + #{k : s_k - k + 1 <= o} for skipped positions s_1 < s_2...
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.table('shift')} AS"
            " SELECT t, max(k) AS k FROM (SELECT unnest($1::BIGINT[]) - generate_subscripts($1, 1)"
            " + 1 AS t, generate_subscripts($1, 1) AS k) GROUP BY t",
            [positions],
        )
        self._shifted = True

    def _csv_reader(self, *, first_pass: bool) -> str:
        opts = [
            sql_literal(str(self.path)),
            "all_varchar = true",
            "header = true",
            f"delim = {sql_literal(self.mapping.delimiter)}",
            "quote = '\"'",
            "escape = '\"'",
            "ignore_errors = true",
        ]
        return self._read_csv(opts, first_pass=first_pass)

    def _line_reader(self, *, first_pass: bool = False) -> str:
        # One VARCHAR per physical line: \x01 cannot appear raw in valid JSON, and no quoting.
        opts = [
            sql_literal(str(self.path)),
            "columns = {'line': 'VARCHAR'}",
            "header = false",
            "delim = '\x01'",
            "quote = ''",
            "escape = ''",
            "auto_detect = false",
            "ignore_errors = true",
        ]
        return self._read_csv(opts, first_pass=first_pass)

    def _read_csv(self, opts: list[str], *, first_pass: bool) -> str:
        # The first pass keeps the rows the CSV parser itself refused, to number and report them.
        if first_pass:
            opts = [
                *opts,
                "store_rejects = true",
                f"rejects_table = {sql_literal(self.table('rej_errors'))}",
                f"rejects_scan = {sql_literal(self.table('rej_scans'))}",
            ]
        return f"read_csv({', '.join(opts)})"

    def _text_rows(self, *, first_pass: bool) -> str:
        fields = [name for name, _ in FIELDS[self.mapping.kind]]
        if self.fmt == "csv":
            cols = ", ".join(
                f"{sql_ident(self.mapping.source(f))} AS {f}"
                if f in self.types
                else f"CAST(NULL AS VARCHAR) AS {f}"
                for f in fields
            )
            return (
                f"SELECT _t.ordinality AS _o, CAST(NULL AS VARCHAR) AS _malformed, {cols}"
                f" FROM {self._csv_reader(first_pass=first_pass)} WITH ORDINALITY AS _t"
            )
        paths = ", ".join(sql_literal("$." + _json_key(self.mapping.source(f))) for f in fields)
        cols = ", ".join(f"_v[{i}] AS {f}" for i, f in enumerate(fields, start=1))
        return (
            f"SELECT _o, _malformed, {cols} FROM ("
            " SELECT _o, CASE WHEN NOT _ok THEN 'malformed JSON'"
            " WHEN json_type(line) <> 'OBJECT' THEN 'not a JSON object' END AS _malformed,"
            " CASE WHEN _ok AND json_type(line) = 'OBJECT'"
            f" THEN json_extract_string(line, [{paths}]) END AS _v FROM ("
            " SELECT o AS _o, line, json_valid(line) AS _ok"
            f" FROM {self._line_reader(first_pass=first_pass)} WITH ORDINALITY t(line, o)"
            " WHERE trim(coalesce(line, ''), ' \t\r') <> ''))"
        )

    def _parquet_rows(self) -> str:
        fields = [name for name, _ in FIELDS[self.mapping.kind]]
        cols = ", ".join(
            f"{sql_ident(self.mapping.source(f))} AS {f}" if f in self.types else f"NULL AS {f}"
            for f in fields
        )
        return (
            f"SELECT file_row_number + 1 AS row_n, CAST(NULL AS VARCHAR) AS _malformed, {cols}"
            f" FROM read_parquet({sql_literal(str(self.path))}, file_row_number = true)"
        )


def _json_key(name: str) -> str:
    if '"' in name or "\\" in name:
        raise IngestError(f"JSON key {name!r}: keys with quotes or backslashes are not supported")
    return f'"{name}"'


def open_source(
    con: duckdb.DuckDBPyConnection, path: Path, fmt: Format, mapping: KindMapping, tag: str
) -> Source:
    """Check the file opens and has the mapped columns; errors name what is missing."""
    import duckdb  # here, not at the top: the web server imports this module for its errors

    fields = FIELDS[mapping.kind]
    source = Source(path, fmt, mapping, tag, types={})
    if fmt == "jsonl":
        # Keys are looked up per line; a missing key is that row's problem.
        source.types = {name: "VARCHAR" for name, _ in fields}
        for name, _ in fields:
            _json_key(mapping.source(name))
        return source
    reader = (
        source._csv_reader(first_pass=False)
        if fmt == "csv"
        else f"read_parquet({sql_literal(str(path))})"
    )
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()
    except duckdb.Error as exc:
        raise IngestError(f"{path}: cannot read as {fmt}: {duckdb_reason(exc, path)}") from exc
    have = {str(row[0]): str(row[1]) for row in described}
    missing = [
        f"{mapping.source(name)!r} (for {name})"
        for name, required in fields
        if required and mapping.source(name) not in have
    ]
    if missing:
        raise IngestError(
            f"{path}: no column {', '.join(missing)}; the file has {', '.join(map(repr, have))}"
            " (a mapping file names the provider's columns)"
        )
    source.types = {
        name: have[mapping.source(name)] for name, _ in fields if mapping.source(name) in have
    }
    return source


# DuckDB's CSV errors quote the offending line and list the reader's options; only the lines
# that say what went wrong are kept, so that a 100 MB line is never echoed back.
_NOISE = ("Original Line:", "Possible Solution:", "Possible fixes:", "* ", "  ")
_MAX_REASON = 400
_LONG_LINE = re.compile(r"Maximum line size of (\d+) bytes exceeded")


def duckdb_reason(exc: BaseException, path: Path) -> str:
    """What a DuckDB read error says went wrong, in one bounded line, with the line at fault
    when DuckDB's own count cannot be trusted (a line past its size limit)."""
    lines = [line for line in str(exc).strip().splitlines() if line and not line.startswith(_NOISE)]
    reason = "; ".join(lines) or type(exc).__name__
    too_long = _LONG_LINE.search(reason)
    if too_long:
        number = _first_long_line(path, int(too_long.group(1)))
        if number is not None:
            reason = f"line {number} is longer than {too_long.group(1)} bytes"
    return reason if len(reason) <= _MAX_REASON else reason[:_MAX_REASON] + "..."


def _first_long_line(path: Path, limit: int) -> int | None:
    """The number of the first line of ``path`` longer than ``limit`` bytes, read in blocks."""
    if path.suffix.lower() in _COMPRESSED:
        return None
    number, length = 1, 0
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            start = 0
            while (end := block.find(b"\n", start)) >= 0:
                if length + end - start > limit:
                    return number
                number, length, start = number + 1, 0, end + 1
            length += len(block) - start
            if length > limit:
                return number
    return None


def check_paths(paths: Sequence[Path]) -> None:
    """Every input must exist before anything is written."""
    bad = [str(p) for p in paths if not p.is_file()]
    if bad:
        raise IngestError(f"not a readable file: {', '.join(bad)}")
