"""index versions, flood guard counts, content disabling, exchange schedules and feedback

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("hash_sets") as batch:
        # Bumped on every change to the set's entries, so that each server process (and each
        # machine) can tell that its loaded index is behind without reading the entries.
        batch.add_column(
            sa.Column("version", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch.add_column(sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("removals", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    with op.batch_alter_table("hash_set_entries") as batch:
        batch.add_column(sa.Column("quarantine_reason", sa.Text(), nullable=True))
        # HMA's per-content switch: disabled until then (a far future date: indefinitely).
        batch.add_column(sa.Column("disabled_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "entry_match_counts",
        sa.Column(
            "entry_id",
            sa.Integer(),
            sa.ForeignKey("hash_set_entries.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("window_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("matches", sa.Integer(), nullable=False),
    )
    with op.batch_alter_table("exchanges") as batch:
        # Seconds between scheduled fetches; None: fetched by hand only.
        batch.add_column(sa.Column("fetch_every_s", sa.Integer(), nullable=True))
    op.create_table(
        "exchange_feedback",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "exchange_id",
            sa.Integer(),
            sa.ForeignKey("exchanges.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "entry_id",
            sa.Integer(),
            sa.ForeignKey("hash_set_entries.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("signal_type", sa.String(length=40), nullable=False),
        sa.Column("signal_value", sa.Text(), nullable=False),
        # "positive" (a true match) or "negative" (a false one), as the reviewer decided.
        sa.Column("opinion", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("exchange_feedback")
    with op.batch_alter_table("exchanges") as batch:
        batch.drop_column("fetch_every_s")
    op.drop_table("entry_match_counts")
    with op.batch_alter_table("hash_set_entries") as batch:
        batch.drop_column("disabled_until")
        batch.drop_column("quarantine_reason")
    with op.batch_alter_table("hash_sets") as batch:
        batch.drop_column("removals")
        batch.drop_column("changed_at")
        batch.drop_column("version")
