"""robust matching: a file's trimmed views and robust signature, an entry's signature, the view
a match was made on

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("files", sa.Column("pdq_views", sa.JSON(none_as_null=True), nullable=True))
    op.add_column("files", sa.Column("robust", sa.LargeBinary(), nullable=True))
    op.add_column("hash_set_entries", sa.Column("robust", sa.LargeBinary(), nullable=True))
    op.add_column("matches", sa.Column("view", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch:
        batch.drop_column("view")
    with op.batch_alter_table("hash_set_entries") as batch:
        batch.drop_column("robust")
    with op.batch_alter_table("files") as batch:
        batch.drop_column("robust")
        batch.drop_column("pdq_views")
