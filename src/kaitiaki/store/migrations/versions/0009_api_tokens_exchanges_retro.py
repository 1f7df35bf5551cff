"""the hash-sharing ecosystem: API tokens, exchanges and their items, retroactive matching,
allowlist banks and quarantined entries

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True)


def upgrade() -> None:
    with op.batch_alter_table("hash_sets") as batch:
        batch.add_column(
            sa.Column("allowlist", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("retro_matched_through", sa.Integer(), nullable=True))
    with op.batch_alter_table("hash_set_entries") as batch:
        batch.add_column(sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("scopes", _JSON, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
        sa.UniqueConstraint("token_sha256"),
    )
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("api", sa.String(length=40), nullable=False),
        sa.Column("config", _JSON, nullable=True),
        sa.Column("credentials", sa.Text(), nullable=True),
        sa.Column("hash_set", sa.String(length=200), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("checkpoint", _JSON, nullable=True),
        sa.Column("last_fetch_started", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fetch_finished", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_fetch_status", sa.String(length=20), nullable=True),
        sa.Column("last_fetch_items", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "exchange_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(length=40), nullable=False),
        sa.Column("signal_value", sa.Text(), nullable=False),
        sa.Column("opinion", sa.String(length=20), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["exchange_id"], ["exchanges.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["entry_id"], ["hash_set_entries.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("exchange_id", "signal_type", "signal_value", name="uq_exchange_item"),
    )
    op.create_index("ix_exchange_items_exchange_id", "exchange_items", ["exchange_id"])
    op.create_index("ix_exchange_items_entry_id", "exchange_items", ["entry_id"])


def downgrade() -> None:
    op.drop_index("ix_exchange_items_entry_id", table_name="exchange_items")
    op.drop_index("ix_exchange_items_exchange_id", table_name="exchange_items")
    op.drop_table("exchange_items")
    op.drop_table("exchanges")
    op.drop_table("api_tokens")
    with op.batch_alter_table("hash_set_entries") as batch:
        batch.drop_column("quarantined_at")
    with op.batch_alter_table("hash_sets") as batch:
        batch.drop_column("retro_matched_through")
        batch.drop_column("allowlist")
