"""The attribution chain on Spark (local[2]) gives DuckDB's results, row for row."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from kaitiaki.hashsets import import_hash_set
from kaitiaki.operation.analyse import AnalysisOptions, analyse_operation
from kaitiaki.records import ingest_records, ingested_files
from kaitiaki.records.spark_ingest import spark_ingest_records
from kaitiaki.simulate.operation import simulate_operation
from kaitiaki.store import Store
from kaitiaki.store.models import Account, AccountLink, Subject

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("operation")
    simulate_operation(
        out, accounts=800, flagged_accounts=80, events=12_000, seed=5, formats=("csv", "jsonl")
    )
    return out


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    return [rows[0], *sorted(rows[1:])]


def _store_rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.session() as session:
        accounts = session.scalars(select(Account)).all()
        subjects = session.scalars(select(Subject)).all()
        links = session.scalars(select(AccountLink)).all()
        return {
            "accounts": sorted(
                (
                    a.account_id,
                    a.flagged_files,
                    a.uploads,
                    a.downloads,
                    a.views,
                    a.shares,
                    a.first_seen,
                    a.last_seen,
                    a.ips,
                    a.countries,
                    a.categories,
                    a.subject_id,
                )
                for a in accounts
            ),
            "subjects": sorted(
                (
                    s.id,
                    s.country,
                    s.confidence,
                    s.agency,
                    s.vpn_or_hosting,
                    s.multi_country,
                    sorted(s.countries.items()),
                    s.reason,
                    s.evidence,
                )
                for s in subjects
            ),
            "links": sorted((k.account_a, k.account_b, k.reason, k.rejected) for k in links),
        }


def _run(store: Store, sim: Path, out: Path, records: str, engine: str) -> None:
    analyse_operation(
        store,
        [sim / records],
        sim / "accounts.csv",
        sim / "catalog.csv",
        out,
        AnalysisOptions(engine=engine),  # type: ignore[arg-type]
        actor="test:setup",
    )


@pytest.mark.parametrize("records", ["records.csv", "records.jsonl"])
def test_analysis_on_spark_equals_duckdb(
    spark: SparkSession,
    sqlite_store: Store,
    simulated: Path,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
    records: str,
) -> None:
    duck_out, spark_out = tmp_path / "duckdb", tmp_path / "spark"
    import_hash_set(
        sqlite_store, simulated / "hashset.json", "operation-set", "vics", actor="cli:tester"
    )
    _run(sqlite_store, simulated, duck_out, records, "duckdb")
    duck_store = _store_rows(sqlite_store)
    _run(sqlite_store, simulated, spark_out, records, "spark")
    spark_store = _store_rows(sqlite_store)

    for name in ("flagged_accounts.csv", "subjects.csv", "links.csv"):
        assert _csv_rows(spark_out / name) == _csv_rows(duck_out / name), name
    # Rejects name the file as given, which is the same path for both runs.
    assert _csv_rows(spark_out / "rejects.csv") == _csv_rows(duck_out / "rejects.csv")
    assert len(_csv_rows(spark_out / "rejects.csv")) > 1, "the simulation has malformed rows"
    assert (spark_out / "flagged_accounts.csv").read_bytes() == (
        duck_out / "flagged_accounts.csv"
    ).read_bytes()
    duck_parquet = pq.read_table(duck_out / "flagged_accounts.parquet")
    spark_parquet = pq.read_table(spark_out / "flagged_accounts.parquet")
    # Names and types; DuckDB alone marks its group key NOT NULL in the file's schema.
    assert [(f.name, f.type) for f in spark_parquet.schema] == [
        (f.name, f.type) for f in duck_parquet.schema
    ]
    assert spark_parquet.to_pylist() == duck_parquet.to_pylist()
    assert spark_store == duck_store
    assert spark_store["accounts"] and spark_store["subjects"] and spark_store["links"]


def _workspace_rows(workspace: Path, kind: str) -> list[tuple[Any, ...]]:
    files = [str(p) for p in ingested_files(workspace, kind)]  # type: ignore[arg-type]
    table = pa.concat_tables([pq.read_table(f) for f in files])  # files or folders
    return sorted(tuple(r.values()) for r in table.to_pylist())


def test_ingest_of_several_files_deduplicates_across_them_as_duckdb_does(
    spark: SparkSession, simulated: Path, tmp_path: Path
) -> None:
    # The same export twice under two names, plus the JSON Lines copy: every row of the second
    # and third is a duplicate of the first, found across files.
    copy = tmp_path / "again.csv"
    copy.write_bytes((simulated / "records.csv").read_bytes() + b"")
    head = (simulated / "records.csv").read_text().splitlines()
    part = tmp_path / "part.csv"
    part.write_text("\n".join([head[0], *head[1:200], *head[5000:5100]]) + "\n")
    inputs = [simulated / "records.csv", part, simulated / "records.jsonl"]
    duck = ingest_records(inputs, tmp_path / "d", rejects_path=tmp_path / "d.csv")
    sparked = spark_ingest_records(spark, inputs, tmp_path / "s", rejects_path=tmp_path / "s.csv")
    assert [
        (f.status, f.rows_read, f.accepted, f.rejected, f.duplicates, f.written)
        for f in sparked.files
    ] == [
        (f.status, f.rows_read, f.accepted, f.rejected, f.duplicates, f.written) for f in duck.files
    ]
    assert sparked.files[1].written == 0 < sparked.files[1].accepted
    assert sparked.rejected_by_reason == duck.rejected_by_reason
    assert (tmp_path / "s.csv").read_text() == (tmp_path / "d.csv").read_text()
    assert _workspace_rows(tmp_path / "s", "records") == _workspace_rows(tmp_path / "d", "records")
    # A second Spark run skips what is already in the workspace, as DuckDB's does.
    again = spark_ingest_records(spark, inputs, tmp_path / "s", rejects_path=tmp_path / "s2.csv")
    assert [f.status for f in again.files] == ["skipped"] * 3
    assert (tmp_path / "s2.csv").read_text() == (tmp_path / "d.csv").read_text()
