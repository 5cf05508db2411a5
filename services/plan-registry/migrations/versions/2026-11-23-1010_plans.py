"""plans: versions of a plan with their content, and the documents they were imported from

Revision ID: 0003_plans
Revises: 0002_directory
Create Date: 2026-11-23 10:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_plans"
down_revision: str | None = "0002_directory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan_document",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_document")),
    )
    op.create_index(op.f("ix_plan_document_sha256"), "plan_document", ["sha256"])
    op.create_table(
        "plan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lineage_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("title_key", sa.String(length=300), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("region_name", sa.String(length=100), nullable=False),
        sa.Column("region_level", sa.String(length=20), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=True),
        sa.Column("period_end", sa.Integer(), nullable=True),
        sa.Column("issuing_body", sa.String(length=200), nullable=True),
        sa.Column("doc_number", sa.String(length=100), nullable=True),
        sa.Column("issued_date", sa.Date(), nullable=True),
        sa.Column("parent_titles", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("warnings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("units", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("indicator_count", sa.Integer(), nullable=False),
        sa.Column("task_count", sa.Integer(), nullable=False),
        sa.Column("warning_count", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=True),
        sa.Column("derived_from_id", sa.Uuid(), nullable=True),
        sa.Column("superseded_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["region_code"], ["region.code"], name=op.f("fk_plan_region_code_region")),
        sa.ForeignKeyConstraint(
            ["document_id"], ["plan_document.id"], name=op.f("fk_plan_document_id_plan_document")
        ),
        sa.ForeignKeyConstraint(["derived_from_id"], ["plan.id"], name=op.f("fk_plan_derived_from_id_plan")),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"], ["plan.id"], name=op.f("fk_plan_superseded_by_id_plan")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
        sa.UniqueConstraint("lineage_id", "version", name=op.f("uq_plan_lineage_id_version")),
    )
    op.create_index(op.f("ix_plan_lineage_id"), "plan", ["lineage_id"])
    op.create_index(op.f("ix_plan_document_id"), "plan", ["document_id"])
    op.create_index("ix_plan_created_at_id", "plan", ["created_at", "id"])
    op.create_index("ix_plan_title_key", "plan", ["title_key"])
    op.create_index(
        "ix_plan_region_code", "plan", ["region_code"], postgresql_ops={"region_code": "text_pattern_ops"}
    )
    op.create_index(
        "uq_plan_lineage_published",
        "plan",
        ["lineage_id"],
        unique=True,
        postgresql_where=sa.text("status = 'published'"),
    )
    op.create_index(
        "uq_plan_lineage_draft",
        "plan",
        ["lineage_id"],
        unique=True,
        postgresql_where=sa.text("status = 'draft'"),
    )


def downgrade() -> None:
    op.drop_index("uq_plan_lineage_draft", table_name="plan")
    op.drop_index("uq_plan_lineage_published", table_name="plan")
    op.drop_index("ix_plan_region_code", table_name="plan")
    op.drop_index("ix_plan_title_key", table_name="plan")
    op.drop_index("ix_plan_created_at_id", table_name="plan")
    op.drop_index(op.f("ix_plan_document_id"), table_name="plan")
    op.drop_index(op.f("ix_plan_lineage_id"), table_name="plan")
    op.drop_table("plan")
    op.drop_index(op.f("ix_plan_document_sha256"), table_name="plan_document")
    op.drop_table("plan_document")
