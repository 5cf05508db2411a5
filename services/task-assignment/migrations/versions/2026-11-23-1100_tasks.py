"""tasks, their assignments and groups, and the plan headers they belong to

Revision ID: 0002_tasks
Revises: 0001_departments
Create Date: 2026-11-23 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_tasks"
down_revision: str | None = "0001_departments"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_plan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("lineage_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("region_name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("period_end", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("superseded_by", sa.Uuid(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_plan")),
    )
    op.create_index(op.f("ix_task_plan_lineage_id"), "task_plan", ["lineage_id"])
    op.create_table(
        "task",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("plan_item_id", sa.Uuid(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "section",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("deadline_text", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), server_default="not_started", nullable=False),
        sa.Column("progress_percent", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("progress_note", sa.Text(), nullable=True),
        sa.Column("current", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("successor_id", sa.Uuid(), nullable=True),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "status IN ('not_started', 'in_progress', 'completed', 'closed', 'returned')",
            name=op.f("ck_task_status"),
        ),
        sa.CheckConstraint("progress_percent BETWEEN 0 AND 100", name=op.f("ck_task_progress_percent")),
        sa.CheckConstraint("parent_id IS NULL OR parent_id <> id", name=op.f("ck_task_not_own_parent")),
        sa.ForeignKeyConstraint(["plan_id"], ["task_plan.id"], name=op.f("fk_task_plan_id_task_plan")),
        sa.ForeignKeyConstraint(["parent_id"], ["task.id"], name=op.f("fk_task_parent_id_task")),
        sa.ForeignKeyConstraint(["successor_id"], ["task.id"], name=op.f("fk_task_successor_id_task")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task")),
        sa.UniqueConstraint("plan_id", "plan_item_id", name="uq_task_plan_id_plan_item_id"),
    )
    op.create_index(op.f("ix_task_parent_id"), "task", ["parent_id"])
    op.create_index(op.f("ix_task_plan_item_id"), "task", ["plan_item_id"])
    op.create_index(op.f("ix_task_status"), "task", ["status"])
    op.create_index("ix_task_plan_id_position", "task", ["plan_id", "position"])
    op.create_index(
        "ix_task_region_code", "task", ["region_code"], postgresql_ops={"region_code": "text_pattern_ops"}
    )
    op.create_index(
        "ix_task_cascade_parent_region",
        "task",
        ["parent_id", "region_code"],
        unique=True,
        postgresql_where=sa.text("origin = 'cascade'"),
    )
    op.create_table(
        "group_assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("match", sa.String(length=20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("expanded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expanded_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_group_assignment_task_id_task"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_assignment")),
        sa.UniqueConstraint("task_id", "role", "name", name="uq_group_assignment_task_id_role_name"),
    )
    op.create_index(op.f("ix_group_assignment_task_id"), "group_assignment", ["task_id"])
    op.create_table(
        "assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("unit_name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_assignment_task_id_task"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_assignment_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["group_assignment.id"],
            name=op.f("fk_assignment_group_id_group_assignment"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assignment")),
        sa.UniqueConstraint("task_id", "department_id", name="uq_assignment_task_id_department_id"),
    )
    op.create_index(op.f("ix_assignment_task_id"), "assignment", ["task_id"])
    op.create_index("ix_assignment_department_id_role", "assignment", ["department_id", "role"])


def downgrade() -> None:
    op.drop_index("ix_assignment_department_id_role", table_name="assignment")
    op.drop_index(op.f("ix_assignment_task_id"), table_name="assignment")
    op.drop_table("assignment")
    op.drop_index(op.f("ix_group_assignment_task_id"), table_name="group_assignment")
    op.drop_table("group_assignment")
    op.drop_index("ix_task_cascade_parent_region", table_name="task")
    op.drop_index("ix_task_region_code", table_name="task")
    op.drop_index("ix_task_plan_id_position", table_name="task")
    op.drop_index(op.f("ix_task_status"), table_name="task")
    op.drop_index(op.f("ix_task_plan_item_id"), table_name="task")
    op.drop_index(op.f("ix_task_parent_id"), table_name="task")
    op.drop_table("task")
    op.drop_index(op.f("ix_task_plan_lineage_id"), table_name="task_plan")
    op.drop_table("task_plan")
