"""rounds: the plan replica, scoring schemes, evaluation rounds and improvement measures

Revision ID: 0002_rounds
Revises: 0001_messaging
Create Date: 2026-11-23 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_rounds"
down_revision: str | None = "0001_messaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "plan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lineage_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("region_name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan")),
    )
    op.create_index(op.f("ix_plan_lineage_id"), "plan", ["lineage_id"])
    op.create_index(
        "ix_plan_region_code", "plan", ["region_code"], postgresql_ops={"region_code": "text_pattern_ops"}
    )
    op.create_table(
        "scoring_scheme",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], name=op.f("fk_scoring_scheme_plan_id_plan")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scoring_scheme")),
        sa.UniqueConstraint("plan_id", "version", name=op.f("uq_scoring_scheme_plan_id_version")),
    )
    op.create_table(
        "evaluation_round",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("scheme_id", sa.Uuid(), nullable=True),
        sa.Column("bonus_awards", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("snapshot_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("snapshot_by", sa.String(length=200), nullable=True),
        sa.Column("frozen_scheme", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("frozen_result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("previous_round_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("published_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plan.id"], name=op.f("fk_evaluation_round_plan_id_plan")),
        sa.ForeignKeyConstraint(
            ["scheme_id"], ["scoring_scheme.id"], name=op.f("fk_evaluation_round_scheme_id_scoring_scheme")
        ),
        sa.ForeignKeyConstraint(
            ["previous_round_id"],
            ["evaluation_round.id"],
            name=op.f("fk_evaluation_round_previous_round_id_evaluation_round"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_round")),
    )
    op.create_index(
        "ix_evaluation_round_region_code",
        "evaluation_round",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_index(
        "ix_evaluation_round_plan_id_reference_date", "evaluation_round", ["plan_id", "reference_date"]
    )
    op.create_table(
        "improvement_measure",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("round_id", sa.Uuid(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("measure", sa.Text(), nullable=False),
        sa.Column("department", sa.String(length=200), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"],
            ["evaluation_round.id"],
            name=op.f("fk_improvement_measure_round_id_evaluation_round"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_improvement_measure")),
    )
    op.create_index(op.f("ix_improvement_measure_round_id"), "improvement_measure", ["round_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_improvement_measure_round_id"), table_name="improvement_measure")
    op.drop_table("improvement_measure")
    op.drop_index("ix_evaluation_round_plan_id_reference_date", table_name="evaluation_round")
    op.drop_index("ix_evaluation_round_region_code", table_name="evaluation_round")
    op.drop_table("evaluation_round")
    op.drop_table("scoring_scheme")
    op.drop_index("ix_plan_region_code", table_name="plan")
    op.drop_index(op.f("ix_plan_lineage_id"), table_name="plan")
    op.drop_table("plan")
