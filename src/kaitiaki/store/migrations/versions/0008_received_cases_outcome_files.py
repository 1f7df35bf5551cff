"""between agencies: received cases and their steps, signed outcome and series-update files

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON(none_as_null=True)


def _now(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    # Every package built before this revision was its referral's first and only version.
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(
            sa.Column("package_version", sa.Integer(), nullable=False, server_default="1")
        )
    with op.batch_alter_table("outcomes") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=80), nullable=True))
        batch.create_unique_constraint("uq_outcomes_external_id", ["external_id"])
    with op.batch_alter_table("trusted_keys") as batch:
        batch.add_column(sa.Column("jurisdictions", _JSON, nullable=True))
    op.create_table(
        "outcome_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("referral_id", sa.String(length=60), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("schema_version", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("new_steps", sa.Integer(), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        _now("imported_at"),
        sa.ForeignKeyConstraint(["referral_id"], ["referrals.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_index("ix_outcome_files_referral_id", "outcome_files", ["referral_id"])
    op.create_table(
        "received_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=60), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("sender_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("unknown_sender_reason", sa.Text(), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("agency", sa.String(length=200), nullable=False),
        sa.Column("schema_version", sa.String(length=10), nullable=False),
        sa.Column("package_version", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        sa.Column("built_by", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        _now("received_at"),
        sa.Column("received_by", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("assigned_to", sa.String(length=200), nullable=True),
        sa.Column("priority_tier", sa.String(length=20), nullable=True),
        sa.Column("priority_score", sa.Double(), nullable=True),
        sa.Column("hash_set", sa.String(length=200), nullable=True),
        sa.Column("document", _JSON, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sender_fingerprint", "reference", name="uq_received_ref"),
    )
    op.create_index("ix_received_cases_reference", "received_cases", ["reference"])
    op.create_table(
        "received_subjects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("priority_tier", sa.String(length=20), nullable=True),
        sa.Column("priority_score", sa.Double(), nullable=True),
        sa.Column("doc", _JSON, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["received_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "subject_id", name="uq_received_subject"),
    )
    op.create_index("ix_received_subjects_case_id", "received_subjects", ["case_id"])
    op.create_table(
        "received_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("package_version", sa.Integer(), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=False),
        _now("imported_at"),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        sa.Column("differences", _JSON, nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["received_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", "manifest_sha256", name="uq_received_version"),
    )
    op.create_index("ix_received_versions_case_id", "received_versions", ["case_id"])
    op.create_table(
        "case_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=36), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=True),
        _now("on"),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        _now("recorded_at"),
        sa.ForeignKeyConstraint(["case_id"], ["received_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("uid"),
    )
    op.create_index("ix_case_steps_case_id", "case_steps", ["case_id"])
    op.create_table(
        "case_hits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("subject_id", sa.String(length=40), nullable=False),
        sa.Column("other_type", sa.String(length=20), nullable=False),
        sa.Column("other_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        _now("found_at"),
        sa.ForeignKeyConstraint(["case_id"], ["received_cases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "case_id", "subject_id", "other_type", "other_id", "kind", name="uq_case_hit"
        ),
    )
    op.create_index("ix_case_hits_case_id", "case_hits", ["case_id"])
    op.create_index("ix_case_hits_other_id", "case_hits", ["other_id"])
    op.create_table(
        "series_update_files",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=False),
        sa.Column("key_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("schema_version", sa.String(length=10), nullable=False),
        sa.Column("imported_by", sa.String(length=200), nullable=False),
        _now("imported_at"),
        sa.Column("applied", _JSON, nullable=True),
        sa.Column("differences", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )


def downgrade() -> None:
    op.drop_table("series_update_files")
    op.drop_index("ix_case_hits_other_id", table_name="case_hits")
    op.drop_index("ix_case_hits_case_id", table_name="case_hits")
    op.drop_table("case_hits")
    op.drop_index("ix_case_steps_case_id", table_name="case_steps")
    op.drop_table("case_steps")
    op.drop_index("ix_received_versions_case_id", table_name="received_versions")
    op.drop_table("received_versions")
    op.drop_index("ix_received_subjects_case_id", table_name="received_subjects")
    op.drop_table("received_subjects")
    op.drop_index("ix_received_cases_reference", table_name="received_cases")
    op.drop_table("received_cases")
    op.drop_index("ix_outcome_files_referral_id", table_name="outcome_files")
    op.drop_table("outcome_files")
    with op.batch_alter_table("trusted_keys") as batch:
        batch.drop_column("jurisdictions")
    with op.batch_alter_table("outcomes") as batch:
        batch.drop_constraint("uq_outcomes_external_id", type_="unique")
        batch.drop_column("external_id")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("package_version")
