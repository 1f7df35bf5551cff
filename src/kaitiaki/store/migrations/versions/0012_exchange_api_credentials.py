"""per-API exchange credentials (HMA's /c/exchanges/api/<name>)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exchange_api_credentials",
        sa.Column("api", sa.String(length=40), primary_key=True),
        # Encrypted (kaitiaki.exchanges.secret); the plain text is never stored.
        sa.Column("credentials", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("exchange_api_credentials")
