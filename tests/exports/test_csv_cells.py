"""CSV injection: no CSV kaitiaki writes holds a cell that a spreadsheet would evaluate.

Every writer is listed in ``WRITERS`` and attacked with hostile values; a scan of the source
fails when a CSV writer appears that is not in the list, so a new one cannot slip in untested.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaitiaki.exports import csvcells
from kaitiaki.store import Store

SRC = Path(__file__).resolve().parents[2] / "src" / "kaitiaki"
HOSTILE = (
    '=HYPERLINK("http://x","y")',
    "@SUM(1)",
    "+cmd|' /C calc'!A0",
    "-2+3",
    "\t=1+1",
    "\r=1+1",
    "\uff1d1+1",
)
# A record file's name, as the operator gave it (no "/": it names a file in the folder).
FILE_NAME = "=HYPERLINK(1,2).csv"
# Text that only looks like a number stays as it is: a spreadsheet shows a number, runs nothing.
NUMBERS = ("-5", "+64", "3.2", "-1e5")


def assert_safe(path: Path, *hostile: str) -> list[list[str]]:
    """Every cell in the CSV at ``path`` is safe to open; each hostile value is there, quoted."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    cells = [cell for row in rows for cell in row]
    for cell in cells:
        assert not csvcells.needs_quote(cell) or cell.startswith("'"), (path.name, cell)
        assert cell[:1] not in csvcells.TRIGGERS or re.fullmatch(r"[+-][0-9.eE+-]+", cell), cell
    for value in hostile:
        assert "'" + value in cells, (path.name, value, cells)
    return rows


# --- the rule itself -------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_text_is_quoted(value: str) -> None:
    assert csvcells.neutralise(value) == "'" + value


@pytest.mark.parametrize("value", [*NUMBERS, -5, 3.2, 0, None, "", "plain", "a=b", "/x/=y"])
def test_numbers_and_harmless_text_are_unchanged(value: object) -> None:
    assert csvcells.neutralise(value) == value


def test_non_finite_floats_and_other_objects_are_checked_as_text() -> None:
    assert csvcells.neutralise(float("-inf")) == "'-inf"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=30))
def test_neutralising_is_reversible_and_leaves_no_formula(text: str) -> None:
    cell = csvcells.neutralise(text)
    assert isinstance(cell, str)
    assert csvcells.restore(cell) == text
    assert cell[:1] not in csvcells.TRIGGERS or re.fullmatch(r"[+-][0-9.eE+-]+", cell)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=12),
        st.sampled_from([*HOSTILE, *NUMBERS, "'x", "-", ".5", "1.", "-5\n"]),
        st.from_regex(r"[-+]?[0-9]{0,3}\.?[0-9]{0,3}([eE][-+]?[0-9]{1,2})?", fullmatch=True),
    )
)
def test_the_sql_rule_is_the_python_rule(con: duckdb.DuckDBPyConnection, text: str) -> None:
    sql = f"SELECT {csvcells.duckdb_cell('s')} FROM (SELECT ?::VARCHAR AS s)"
    row = con.execute(sql, [text]).fetchone()
    assert row is not None and row[0] == csvcells.neutralise(text)


# --- every writer ------------------------------------------------------------------------------


def _events_csv(tmp: Path) -> Path:
    from kaitiaki.refer.render import write_events_csv

    out = tmp / "events.csv"
    rows = [{"subject_id": "S-1", "account_id": HOSTILE[0], "object_id": HOSTILE[1], "port": 443}]
    write_events_csv(out, rows)
    return out


def _scan_export_csv(tmp: Path) -> Path:
    from kaitiaki.scan.export import write_csv

    out = tmp / "scan.csv"
    rows = [{"path": HOSTILE[0], "notes": HOSTILE[1], "size": -5, "series": "-2+3"}]
    with out.open("w", newline="", encoding="utf-8") as handle:
        write_csv(iter(rows), handle)
    return out


def _duckdb_copy_csv(tmp: Path) -> Path:
    # flagged_accounts.csv on both engines: Spark's answer goes through write_arrow too.
    from kaitiaki.engines.duckdb_engine import write_arrow

    out = tmp / "flagged_accounts.csv"
    table = pa.table({"account_id": [HOSTILE[0], "ok"], "n": [-5, 3], "note": [HOSTILE[1], None]})
    write_arrow(table, out, "csv")
    return out


def _records_rejects_csv(tmp: Path) -> Path:
    from kaitiaki.records import ingest_records

    source = Path(FILE_NAME)  # relative: the rejects name the file as it was given
    source.write_text(
        "timestamp,account_id,action,object_id,ip,port\n"
        "2024-01-01T10:00:00Z,a1,upload,o1,203.0.113.9,443\n"
        "2024-01-01T10:00:00Z,a2,@SUM(1),o1,203.0.113.9,443\n"
    )
    ingest_records([source], tmp / "ws", rejects_path=tmp / "rejects.csv")
    assert_safe(tmp / "rejects.csv", FILE_NAME)
    return tmp / "rejects.csv"


def _merged_rejects_csv(tmp: Path) -> Path:
    from kaitiaki.operation.analyse import _merge_rejects

    # One raw hostile cell, and one already quoted by write_rejects (parts are our own output).
    part = tmp / "rejects-records.csv"
    with part.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["file", "row", "reason"], [HOSTILE[0], 2, "'@SUM(1)"]])
    out = tmp / "rejects.csv"
    _merge_rejects([part], out)
    rows = assert_safe(out, HOSTILE[0], "@SUM(1)")
    assert "''@SUM(1)" not in rows[1]  # restored before it is written again: quoted once
    return out


def _disclosure_csv(tmp: Path) -> Path:
    # ip_log.csv and flagged_files.csv of a disclosure package: the provider's ids and
    # addresses, opened by the receiving agency in a spreadsheet.
    from kaitiaki.legal.disclosure import IP_LOG_COLUMNS, _write_csv

    out = tmp / "ip_log.csv"
    rows = [{"time_utc": "-2+3", "action": "upload", "object_id": HOSTILE[0], "ip": HOSTILE[1]}]
    _write_csv(out, IP_LOG_COLUMNS, rows)
    return out


def _list_export_csv(tmp: Path) -> Path:
    # Every list page's ``?format=csv`` (web.listing.export streams these lines).
    from kaitiaki.web.listing import Column, csv_lines

    out = tmp / "list.csv"
    columns = (Column("id", lambda r: r[0]), Column("name", lambda r: r[1]))
    rows = [(1, HOSTILE[0]), (2, HOSTILE[1]), (-5, "-2+3")]
    out.write_text("".join(csv_lines(columns, rows)), encoding="utf-8")
    return out


WRITERS: dict[str, Callable[[Path], Path]] = {
    "legal.disclosure._write_csv": _disclosure_csv,
    "refer.render.write_events_csv": _events_csv,
    "scan.export.write_csv": _scan_export_csv,
    "engines.duckdb_engine._copy": _duckdb_copy_csv,
    "records.ingest.write_rejects": _records_rejects_csv,
    "operation.analyse._merge_rejects": _merged_rejects_csv,
    "web.listing.csv_lines": _list_export_csv,
    # operation.analyse._write_subjects and _write_links: test_an_analysis_of_hostile_ids
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_each_writer_quotes_hostile_cells(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    out = WRITERS[name](tmp_path)
    assert_safe(out, FILE_NAME if name == "records.ingest.write_rejects" else HOSTILE[0])


def test_an_analysis_of_hostile_ids_writes_only_safe_csvs(
    sqlite_store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole chain: a suspect's account id and a record file's name, both formulas."""
    from kaitiaki.hashsets import import_hash_set
    from kaitiaki.operation.analyse import analyse_operation
    from kaitiaki.operation.evaluate import evaluate
    from kaitiaki.simulate.operation import load_ground_truth, simulate_operation

    sim = tmp_path / "sim"
    simulate_operation(sim, accounts=200, flagged_accounts=30, events=3000, seed=5)
    truth = load_ground_truth(sim)
    person = next(
        p
        for p in truth.people
        if p.subject and len(p.account_ids) > 1 and p.account_ids[0] in truth.flagged_accounts
    )
    target, hostile = person.account_ids[0], HOSTILE[0]
    monkeypatch.chdir(tmp_path)
    records = Path(FILE_NAME)
    _swap_account(sim / "records.csv", records, target, hostile, reject=True)
    _swap_account(sim / "accounts.csv", sim / "accounts.csv", target, hostile)
    import_hash_set(sqlite_store, sim / "hashset.json", "operation-set", "vics", actor="cli:t")
    out = tmp_path / "results"
    analyse_operation(
        sqlite_store, [records], sim / "accounts.csv", sim / "catalog.csv", out, actor="test:setup"
    )

    assert_safe(out / "flagged_accounts.csv", hostile)
    assert_safe(out / "subjects.csv")
    assert_safe(out / "links.csv", hostile)
    assert_safe(out / "rejects.csv", FILE_NAME)
    with (out / "subjects.csv").open(newline="", encoding="utf-8") as handle:
        subjects = [r["account_ids"].split(";") for r in csvcells.DictReader(handle)]
    assert any(hostile in ids for ids in subjects)
    # Our own reader restores the ids: the evaluation sees the id itself (the truth has the
    # account under its old id), not the quoted cell.
    mismatches = evaluate(out, sim / "ground_truth.json").flagged_mismatches
    assert f"{hostile}: not in the truth" in mismatches and f"{target}: missing" in mismatches


def _swap_account(source: Path, out: Path, old: str, new: str, *, reject: bool = False) -> None:
    with source.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rows = [[new if cell == old else cell for cell in row] for row in rows]
    if reject:  # a row with an unknown action, so the rejects name the file
        rows.append(["2024-01-01T10:00:00Z", "a1", "delete", "o1", "192.0.2.1", ""])
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    out.write_text(buffer.getvalue(), encoding="utf-8")


# --- no writer slips in ------------------------------------------------------------------------

# A CSV writer in the source: the stdlib's, DuckDB's COPY to CSV, pyarrow's, pandas', Spark's.
_PATTERN = re.compile(
    r"csv\.writer\(|csv\.DictWriter\(|DictWriter\(|\.to_csv\(|pacsv\.|CSVWriter\("
    r"|FORMAT\s+csv|\.write\.csv\(|format\(\s*[\"']csv|write_csv\(",
    re.IGNORECASE,
)
# file -> how many writer expressions it may hold, and why it is safe.
KNOWN = {
    "exports/csvcells.py": (5, "the safe writers themselves"),
    "refer/render.py": (1, "csvcells.DictWriter: _events_csv"),
    "scan/export.py": (3, "write_csv (defined, called) and csvcells.DictWriter: _scan_export_csv"),
    "engines/duckdb_engine.py": (1, "COPY through duckdb_safe_query: _duckdb_copy_csv"),
    "records/ingest.py": (1, "COPY with duckdb_cell: _records_rejects_csv"),
    "legal/disclosure.py": (4, "_write_csv (defined, called twice), csvcells.DictWriter"),
    # Exempt: the simulator writes synthetic inputs for `records ingest` from its own
    # vocabularies (nothing from outside); a quote would change the test data it feeds in.
    "simulate/operation/__init__.py": (3, "synthetic data (simulator)"),
    "simulate/operation/catalog.py": (3, "synthetic data (simulator)"),
    "simulate/operation/writers.py": (3, "synthetic data (simulator)"),
}


def test_every_csv_writer_in_the_source_is_known() -> None:
    found: dict[str, int] = {}
    for path in sorted(SRC.rglob("*.py")):
        count = len(_PATTERN.findall(path.read_text(encoding="utf-8")))
        if count:
            found[path.relative_to(SRC).as_posix()] = count
    expected = {name: count for name, (count, _) in KNOWN.items()}
    assert found == expected, (
        "a CSV writer was added or moved: neutralise its cells with kaitiaki.exports.csvcells, "
        "test it in WRITERS, and list it in KNOWN"
    )
