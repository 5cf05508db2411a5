"""read model: target judgements and task states from events (with history), stream positions; what
a round's snapshot came from

Revision ID: 0003_read_model
Revises: 0002_rounds
Create Date: 2026-11-23 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003_read_model"
down_revision: str | None = "0002_rounds"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _position() -> list[sa.Column[object]]:
    return [
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=True),
        sa.Column("stream_sequence", sa.BigInteger(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "rm_target_judgement",
        *_position(),
        sa.Column("target_id", sa.Uuid(), nullable=False),
        sa.Column("judgement_version", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("indicator_name", sa.Text(), nullable=False),
        sa.Column("nature", sa.String(length=10), nullable=True),
        sa.Column("unit", sa.String(length=50), nullable=True),
        sa.Column("target_type", sa.String(length=20), nullable=False),
        sa.Column("target_text_value", sa.Numeric(), nullable=False),
        sa.Column("strict", sa.Boolean(), nullable=False),
        sa.Column("baseline_year", sa.Integer(), nullable=False),
        sa.Column("target_year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("value", sa.Numeric(), nullable=True),
        sa.Column("baseline", sa.Numeric(), nullable=True),
        sa.Column("required_value", sa.Numeric(), nullable=True),
        sa.Column("target_value", sa.Numeric(), nullable=True),
        sa.Column("rules_version", sa.String(length=50), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False, comment="when it was judged"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_rm_target_judgement")),
    )
    op.create_index(
        "ix_rm_target_judgement_plan_id_target_id", "rm_target_judgement", ["plan_id", "target_id"]
    )
    op.create_table(
        "rm_task_state",
        *_position(),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("region_name", sa.String(length=200), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("progress_percent", sa.Integer(), nullable=False),
        sa.Column("lead_departments", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("co_departments", postgresql.ARRAY(sa.Text()), nullable=False),
        sa.Column("returned_count", sa.Integer(), nullable=False),
        sa.Column("last_reported_on", sa.Date(), nullable=True),
        sa.Column("last_report_summary", sa.Text(), nullable=True),
        sa.Column("current", sa.Boolean(), nullable=False),
        sa.Column("plan_start", sa.Date(), nullable=False),
        sa.Column("yellow_within_days", sa.Integer(), nullable=True),
        sa.Column("behind_tolerance_pct", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False, comment="when it changed"),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_rm_task_state")),
    )
    op.create_index("ix_rm_task_state_plan_id_task_id", "rm_task_state", ["plan_id", "task_id"])
    op.create_table(
        "rm_plan_indicator",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("item_id", sa.Uuid(), nullable=False),
        sa.Column("lead_department", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("plan_id", "item_id", name=op.f("pk_rm_plan_indicator")),
    )
    op.create_table(
        "rm_stream_position",
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("stream", name=op.f("pk_rm_stream_position")),
    )
    op.add_column("evaluation_round", sa.Column("snapshot_origin", sa.String(length=20), nullable=True))
    op.add_column(
        "evaluation_round",
        sa.Column("snapshot_sources", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column(
        "evaluation_round", sa.Column("calculation_rules_version", sa.String(length=100), nullable=True)
    )
    op.add_column("evaluation_round", sa.Column("scoring_rules_version", sa.String(length=50), nullable=True))


def downgrade() -> None:
    op.drop_column("evaluation_round", "scoring_rules_version")
    op.drop_column("evaluation_round", "calculation_rules_version")
    op.drop_column("evaluation_round", "snapshot_sources")
    op.drop_column("evaluation_round", "snapshot_origin")
    op.drop_table("rm_stream_position")
    op.drop_table("rm_plan_indicator")
    op.drop_index("ix_rm_task_state_plan_id_task_id", table_name="rm_task_state")
    op.drop_table("rm_task_state")
    op.drop_index("ix_rm_target_judgement_plan_id_target_id", table_name="rm_target_judgement")
    op.drop_table("rm_target_judgement")
