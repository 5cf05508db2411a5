"""indicator definitions, data elements, data values with their history, bulk load batches

Revision ID: 0002_data
Revises: 0001_messaging
Create Date: 2026-11-23 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_data"
down_revision: str | None = "0001_messaging"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _stamps() -> list[sa.Column[object]]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "data_element",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("unit", sa.String(length=50), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("input_units", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        *_stamps(),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_data_element")),
    )
    op.create_index(op.f("ix_data_element_name"), "data_element", ["name"])
    op.create_table(
        "indicator_definition",
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("numerator_code", sa.String(length=64), nullable=False),
        sa.Column("denominator_code", sa.String(length=64), nullable=True),
        sa.Column("factor", sa.Numeric(), nullable=False),
        sa.Column("unit", sa.String(length=50), nullable=False),
        sa.Column("direction", sa.String(length=20), nullable=False),
        sa.Column("region_aggregation", sa.String(length=20), nullable=False),
        sa.Column("region_weight_code", sa.String(length=64), nullable=True),
        sa.Column("period_aggregation", sa.String(length=20), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("natural_min", sa.Numeric(), nullable=True),
        sa.Column("natural_max", sa.Numeric(), nullable=True),
        sa.Column("builtin", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        *_stamps(),
        sa.ForeignKeyConstraint(
            ["numerator_code"],
            ["data_element.code"],
            name=op.f("fk_indicator_definition_numerator_code_data_element"),
        ),
        sa.ForeignKeyConstraint(
            ["denominator_code"],
            ["data_element.code"],
            name=op.f("fk_indicator_definition_denominator_code_data_element"),
        ),
        sa.ForeignKeyConstraint(
            ["region_weight_code"],
            ["data_element.code"],
            name=op.f("fk_indicator_definition_region_weight_code_data_element"),
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_indicator_definition")),
    )
    op.create_index(op.f("ix_indicator_definition_name"), "indicator_definition", ["name"])
    op.create_table(
        "data_value",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("element_code", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("review_flag", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("month BETWEEN 0 AND 12", name=op.f("ck_data_value_month_range")),
        sa.CheckConstraint(
            "state IN ('draft', 'submitted', 'approved')", name=op.f("ck_data_value_state_known")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_value")),
        sa.UniqueConstraint(
            "element_code",
            "region_code",
            "year",
            "month",
            name=op.f("uq_data_value_element_code_region_code_year_month"),
        ),
    )
    op.create_index(
        "ix_data_value_region_code",
        "data_value",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_table(
        "data_value_history",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("value_id", sa.BigInteger(), nullable=False),
        sa.Column("element_code", sa.String(length=64), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("review_flag", sa.String(length=40), nullable=True),
        sa.Column("batch_id", sa.Uuid(), nullable=True),
        sa.Column("entered_by", sa.String(length=200), nullable=False),
        sa.Column("entered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_by_action", sa.String(length=20), nullable=False),
        sa.Column("superseded_by", sa.String(length=200), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_value_history")),
    )
    op.create_index(op.f("ix_data_value_history_value_id"), "data_value_history", ["value_id"])
    op.create_index(
        op.f("ix_data_value_history_element_code_region_code_year_month"),
        "data_value_history",
        ["element_code", "region_code", "year", "month"],
    )
    op.create_table(
        "data_batch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("format", sa.String(length=10), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("partial", sa.Boolean(), nullable=False),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_rejected", sa.Integer(), nullable=False),
        sa.Column("rows_flagged", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_batch")),
    )


def downgrade() -> None:
    op.drop_table("data_batch")
    op.drop_table("data_value_history")
    op.drop_table("data_value")
    op.drop_table("indicator_definition")
    op.drop_table("data_element")
