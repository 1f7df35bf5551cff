"""The one rule for missing services and tools: skip on a developer's machine, fail in CI;
and the one way to a fresh PostgreSQL schema for a test.

A module of its own (not conftest.py) so that any test module can import it by name: the bare
name ``conftest`` resolves to whichever folder's conftest was imported last.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from store_templates import migrated_postgres_schema

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("KAITIAKI_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def require(condition: bool, reason: str) -> None:
    """Skip when a service, tool or data set is missing, but fail in CI: nothing skips silently."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: a missing service or tool fails the run)")
    pytest.skip(reason)


def postgres_schema(*, migrated: bool = False) -> Iterator[str]:
    """A fresh schema's URL, dropped afterwards, so tests never see each other's rows; with
    ``migrated``, already holding the store's tables (see ``store_templates``)."""
    engine = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        engine.dispose()
        require(False, f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.orig}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    if not (migrated and migrated_postgres_schema(POSTGRES_URL, schema)):
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def external(name: str, member: str, *, decoded: bool = False) -> Path:
    """A file from a fixture another project publishes (tests/external/sources.toml); missing
    (no network, digest changed) it is a missing test tool: skip here, fail in CI."""
    from external.fetch import FixtureUnavailableError, decoded_file, external_file

    try:
        return decoded_file(name, member) if decoded else external_file(name, member)
    except FixtureUnavailableError as exc:
        require(False, f"external fixture {name}:{member} unavailable: {exc}")
        raise AssertionError("unreachable") from exc
