"""file-system metadata kept apart from user files; acquisition hashes checked per source

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Rows scanned before this revision were all taken for user files: false, as they were shown.
    with op.batch_alter_table("file_instances") as batch:
        batch.add_column(
            sa.Column("fs_metadata", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "acquisition_checks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evidence_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("expected", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("computed", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("media_size", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column("checked_by", sa.String(length=200), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["evidence_id"], ["evidence.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_acquisition_checks_evidence", "acquisition_checks", ["evidence_id", "source"]
    )


def downgrade() -> None:
    op.drop_index("ix_acquisition_checks_evidence", table_name="acquisition_checks")
    op.drop_table("acquisition_checks")
    with op.batch_alter_table("file_instances") as batch:
        batch.drop_column("fs_metadata")
