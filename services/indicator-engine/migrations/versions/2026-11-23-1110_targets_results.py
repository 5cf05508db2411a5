"""plan targets bound to definitions, and the last judged status of each

Revision ID: 0003_results
Revises: 0002_data
Create Date: 2026-11-23 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_results"
down_revision: str | None = "0002_data"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "indicator_target",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("lineage_id", sa.Uuid(), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column(
            "item_id",
            sa.Uuid(),
            nullable=False,
            comment="the plan's indicator item id (kept across versions)",
        ),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("plan_title", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, comment="indicator name as the plan writes it"),
        sa.Column("target_text", sa.Text(), nullable=False),
        sa.Column("group", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=True),
        sa.Column("strict", sa.Boolean(), nullable=False),
        sa.Column("nature", sa.String(length=10), nullable=True),
        sa.Column("definition_code", sa.String(length=64), nullable=True),
        sa.Column("binding_method", sa.String(length=10), nullable=False),
        sa.Column("bound_by", sa.String(length=200), nullable=True),
        sa.Column("bound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("baseline_years", sa.ARRAY(sa.Integer()), nullable=False),
        sa.Column("baseline_year", sa.Integer(), nullable=False),
        sa.Column("target_year", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("superseded_by", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False, comment="bumped by every change through the API"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "type IN ('decrease_pct', 'max', 'min', 'equals')", name=op.f("ck_indicator_target_type")
        ),
        sa.CheckConstraint(
            "nature IS NULL OR nature IN ('binding', 'expected')", name=op.f("ck_indicator_target_nature")
        ),
        sa.CheckConstraint(
            "binding_method IN ('name', 'alias', 'manual', 'none')",
            name=op.f("ck_indicator_target_binding_method"),
        ),
        sa.CheckConstraint("state IN ('active', 'superseded')", name=op.f("ck_indicator_target_state")),
        sa.CheckConstraint("target_year > baseline_year", name=op.f("ck_indicator_target_years")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_indicator_target")),
        sa.UniqueConstraint("plan_id", "item_id", name=op.f("uq_indicator_target_plan_id_item_id")),
    )
    op.create_index(op.f("ix_indicator_target_plan_id"), "indicator_target", ["plan_id"])
    op.create_index(op.f("ix_indicator_target_definition_code"), "indicator_target", ["definition_code"])
    op.create_index(
        "ix_indicator_target_region_code",
        "indicator_target",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_table(
        "target_status",
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=True, comment="why the status is no_data"),
        sa.Column("year", sa.Integer(), nullable=True, comment="the year judged (latest complete year)"),
        sa.Column("value", sa.Numeric(), nullable=True),
        sa.Column("baseline", sa.Numeric(), nullable=True),
        sa.Column("target_value", sa.Numeric(), nullable=True),
        sa.Column("required_value", sa.Numeric(), nullable=True),
        sa.Column("sdg_category", sa.String(length=24), nullable=True),
        sa.Column("sdg_score", sa.Numeric(), nullable=True),
        sa.Column("projection_method", sa.String(length=20), nullable=False),
        sa.Column("projected_value", sa.Numeric(), nullable=True),
        sa.Column("projection_outcome", sa.String(length=10), nullable=False),
        sa.Column("status_version", sa.Integer(), nullable=False, comment="number of status changes so far"),
        sa.Column("warnings_raised", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('met', 'on_track', 'lagging', 'seriously_lagging', 'no_data')",
            name=op.f("ck_target_status_status"),
        ),
        sa.CheckConstraint(
            "projection_outcome IN ('met', 'miss', 'unknown')",
            name=op.f("ck_target_status_projection_outcome"),
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["indicator_target.id"],
            name=op.f("fk_target_status_target_id_indicator_target"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("target_id", name=op.f("pk_target_status")),
    )


def downgrade() -> None:
    op.drop_table("target_status")
    op.drop_index("ix_indicator_target_region_code", table_name="indicator_target")
    op.drop_index(op.f("ix_indicator_target_definition_code"), table_name="indicator_target")
    op.drop_index(op.f("ix_indicator_target_plan_id"), table_name="indicator_target")
    op.drop_table("indicator_target")
