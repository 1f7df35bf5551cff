"""The store: migrations on both engines, URL handling, transactions."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from kaitiaki.store import Store, database_url, open_store
from kaitiaki.store.db import HEAD_REVISION, alembic_config
from kaitiaki.store.models import Base, Evidence


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    scripts = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert scripts.get_heads() == [HEAD_REVISION]


def test_migrations_create_every_model_table(store: Store) -> None:
    with store.engine.connect() as connection:
        tables = set(sa.inspect(connection).get_table_names())
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    assert set(Base.metadata.tables) <= tables
    assert version == HEAD_REVISION


def test_reopening_keeps_data(store_url: str) -> None:
    first = open_store(store_url)
    with first.session() as session:
        session.add(Evidence(name="device-1"))
    first.close()
    second = open_store(store_url)
    with second.session() as session:
        assert session.scalar(sa.select(Evidence.name)) == "device-1"
    second.close()


def test_failed_work_is_rolled_back(store: Store) -> None:
    with pytest.raises(RuntimeError), store.session() as session:
        session.add(Evidence(name="half-done"))
        session.flush()
        raise RuntimeError("bad input half-way")
    with store.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Evidence)) == 0


def test_database_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAITIAKI_DB", raising=False)
    assert database_url() == "sqlite:///kaitiaki.db"
    monkeypatch.setenv("KAITIAKI_DB", "postgresql://u@h/db")
    assert database_url() == "postgresql+psycopg://u@h/db"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"
