"""The migrations build exactly the tables the models describe: a column added to a model
without its migration (or the other way round) fails here, not in a user's store."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kaitiaki.store import Store
from kaitiaki.store.models import Base


def _columns_and_tables(diffs: list[Any]) -> list[Any]:
    # Type and server-default drift between dialects is noise here; what must agree is which
    # tables and columns exist.
    kept = []
    for diff in diffs:
        op = diff[0] if isinstance(diff, tuple) else diff[0][0]
        if op in ("add_table", "remove_table", "add_column", "remove_column"):
            kept.append(diff)
    return kept


def test_a_migrated_store_has_every_models_table_and_column(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        diffs = compare_metadata(context, Base.metadata)
    assert _columns_and_tables(diffs) == []
