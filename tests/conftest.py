"""Fixtures shared by the whole suite: stores on SQLite and PostgreSQL, the conformance data."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kaitiaki.store import Store, open_store
from nothing_skips import postgres_schema, require
from store_templates import migrated_sqlite

REPO = Path(__file__).resolve().parents[1]
SHARED_TESTDATA = REPO.parent / "shared" / "testdata"
# Server-database stores keep their PDQ index cache under the user's cache folder; tests (and
# the processes they start) keep theirs in a temporary folder instead.
os.environ.setdefault("KAITIAKI_INDEX_CACHE", tempfile.mkdtemp(prefix="kaitiaki-index-"))
# Served indexes checked on every lookup (read-your-writes); tests/match/test_serving.py
# runs the background poll itself.
os.environ.setdefault("KAITIAKI_INDEX_POLL_S", "0")


@pytest.fixture(scope="session")
def spark() -> Any:
    """One local[2] SparkSession per test process: the JVM takes ~20 s to start."""
    from kaitiaki.engines.spark_session import MIN_JAVA, SparkSettings, java_version, spark_session

    version = java_version()
    require(
        version is not None and version >= MIN_JAVA,
        f"Spark needs Java {MIN_JAVA}+ (found {version}); scripts/system-deps.sh installs it",
    )
    return spark_session(SparkSettings(master="local[2]", shuffle_partitions=4))


@pytest.fixture(scope="session")
def pdq_testdata() -> Path:
    path = SHARED_TESTDATA / "pdq"
    require(path.is_dir(), f"conformance data missing at {path}")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "kaitiaki.db")
    else:
        yield from postgres_schema(migrated=True)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    """SQLite only, for tests about behaviour that does not depend on the engine."""
    opened = open_store(migrated_sqlite(tmp_path / "kaitiaki.db"))
    try:
        yield opened
    finally:
        opened.close()
