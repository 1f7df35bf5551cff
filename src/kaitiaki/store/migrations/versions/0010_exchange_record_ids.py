"""exchange items keyed by the upstream record that carried them (NCMEC deletes by record id)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 14:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # One item per (record, signal): a hash several records carry has one item per record, so
    # deleting one record leaves the others' items (and the shared hash-set entry) in place.
    with op.batch_alter_table("exchange_items") as batch:
        batch.add_column(sa.Column("record_id", sa.String(length=200), nullable=True))
        batch.drop_constraint("uq_exchange_item", type_="unique")
        batch.create_unique_constraint(
            "uq_exchange_item", ["exchange_id", "signal_type", "signal_value", "record_id"]
        )
        batch.create_index("ix_exchange_items_record_id", ["record_id"])
    # NULLs are distinct in the constraint above: items keyed by signal alone (no record id)
    # stay one per signal by a partial unique index.
    op.create_index(
        "uq_exchange_item_signal",
        "exchange_items",
        ["exchange_id", "signal_type", "signal_value"],
        unique=True,
        sqlite_where=sa.text("record_id IS NULL"),
        postgresql_where=sa.text("record_id IS NULL"),
    )


def downgrade() -> None:
    # Items of records keyed by signal alone would collide: keep one per signal.
    op.execute(
        "DELETE FROM exchange_items WHERE id NOT IN (SELECT MIN(id) FROM exchange_items "
        "GROUP BY exchange_id, signal_type, signal_value)"
    )
    op.drop_index("uq_exchange_item_signal", table_name="exchange_items")
    with op.batch_alter_table("exchange_items") as batch:
        batch.drop_index("ix_exchange_items_record_id")
        batch.drop_constraint("uq_exchange_item", type_="unique")
        batch.create_unique_constraint(
            "uq_exchange_item", ["exchange_id", "signal_type", "signal_value"]
        )
        batch.drop_column("record_id")
