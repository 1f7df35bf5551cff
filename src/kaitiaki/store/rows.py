"""Idempotent bulk inserts: the same rows written twice (a resumed scan, a re-run) are one."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_rows(
    session: Session, table: Any, rows: Sequence[dict[str, Any]], update: Sequence[str] = ()
) -> None:
    """INSERT ... ON CONFLICT: ignore, or update ``update`` columns (the row's primary key)."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(table)
    if update:
        keys = [c.name for c in table.primary_key.columns]
        statement = statement.on_conflict_do_update(
            index_elements=keys, set_={c: statement.excluded[c] for c in update}
        )
    else:
        statement = statement.on_conflict_do_nothing()
    session.execute(statement, list(rows))
