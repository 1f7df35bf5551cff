"""the provider's desk: provider profiles, CyberTipline reports and their files, legal holds,
disclosures

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 04:10:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = True) -> "sa.Column[Any]":
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "provider_profiles",
        sa.Column("name", sa.String(length=60), primary_key=True),
        sa.Column("first_name", sa.String(length=200), nullable=False),
        sa.Column("last_name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("phone", sa.String(length=60)),
        sa.Column("esp_name", sa.String(length=200), nullable=False),
        sa.Column("esp_service", sa.String(length=100)),
        sa.Column("platform", sa.String(length=256)),
        sa.Column("company_template", sa.Text()),
        sa.Column("terms_of_service", sa.Text()),
        sa.Column("legal_url", sa.Text()),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        _when("updated_at", nullable=False),
    )
    op.create_table(
        "cybertip_reports",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("subject_id", sa.String(length=40), nullable=False, index=True),
        sa.Column("profile", sa.String(length=60), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False, index=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("document_sha256", sa.String(length=64), nullable=False),
        sa.Column("escalate", sa.Text()),
        sa.Column("annotations", sa.JSON()),
        sa.Column("include_files", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("environment", sa.String(length=20), nullable=False),
        sa.Column("base_url", sa.Text()),
        sa.Column("ncmec_report_id", sa.BigInteger(), index=True),
        sa.Column("error_code", sa.Integer()),
        sa.Column("error_message", sa.Text()),
        sa.Column("abandoned_report_ids", sa.JSON()),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _when("created_at", nullable=False),
        sa.Column("submitted_by", sa.String(length=200)),
        _when("submitted_at"),
        _when("finished_at"),
        _when("retracted_at"),
        _when("updated_at", nullable=False),
    )
    op.create_table(
        "cybertip_report_files",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("cybertip_reports.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("object_id", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), index=True),
        sa.Column(
            "instance_id", sa.Integer(), sa.ForeignKey("file_instances.id", ondelete="SET NULL")
        ),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("ncmec_file_id", sa.String(length=64)),
        sa.Column("received_md5", sa.String(length=32)),
        sa.UniqueConstraint("report_id", "object_id", name="uq_cybertip_file"),
    )
    op.create_table(
        "legal_holds",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("target_type", sa.String(length=20), nullable=False),
        sa.Column("target_id", sa.String(length=200), nullable=False),
        sa.Column("basis", sa.String(length=30), nullable=False),
        sa.Column("basis_text", sa.Text(), nullable=False),
        sa.Column("reference", sa.String(length=200)),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _when("created_at", nullable=False),
        _when("expires_at"),
        _when("extended_at"),
        sa.Column("extended_by", sa.String(length=200)),
        _when("released_at"),
        sa.Column("released_by", sa.String(length=200)),
        sa.Column("release_reason", sa.Text()),
    )
    op.create_index("ix_legal_holds_target", "legal_holds", ["target_type", "target_id"])
    op.create_index("ix_legal_holds_expires_at", "legal_holds", ["expires_at"])
    op.create_table(
        "disclosures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("request_ref", sa.String(length=200), nullable=False, index=True),
        sa.Column("platform", sa.String(length=100), nullable=False),
        sa.Column("account_id", sa.String(length=200), nullable=False, index=True),
        sa.Column("package_name", sa.Text(), nullable=False),
        sa.Column("package_sha256", sa.String(length=64), nullable=False),
        sa.Column("includes_files", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("files_confirmed_by", sa.String(length=200)),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        _when("created_at", nullable=False),
    )


def downgrade() -> None:
    op.drop_table("disclosures")
    op.drop_index("ix_legal_holds_expires_at", table_name="legal_holds")
    op.drop_index("ix_legal_holds_target", table_name="legal_holds")
    op.drop_table("legal_holds")
    op.drop_table("cybertip_report_files")
    op.drop_table("cybertip_reports")
    op.drop_table("provider_profiles")
