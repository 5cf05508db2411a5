"""work on a task: reports, evidence, status history, light rules, overdue and reminder keys

Revision ID: 0003_work
Revises: 0002_tasks
Create Date: 2026-11-23 11:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_work"
down_revision: str | None = "0002_tasks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "task_report",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=True),
        sa.Column("capacity", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("percent", sa.SmallInteger(), nullable=True),
        sa.Column("milestone", sa.String(length=200), nullable=True),
        sa.Column("narrative", sa.Text(), server_default="", nullable=False),
        sa.Column("submitted_by", sa.String(length=200), nullable=False),
        sa.Column("submitted_by_name", sa.String(length=200), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("percent BETWEEN 0 AND 100", name=op.f("ck_task_report_percent")),
        sa.CheckConstraint("capacity IN ('lead', 'co', 'bureau')", name=op.f("ck_task_report_capacity")),
        sa.CheckConstraint(
            "percent IS NOT NULL OR milestone IS NOT NULL", name=op.f("ck_task_report_percent_or_milestone")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_task_report_department_id_department")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_report_task_id_task"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_report")),
    )
    op.create_index("ix_task_report_task_id_submitted_at", "task_report", ["task_id", "submitted_at"])
    op.create_index(
        "ix_task_report_department_id_submitted_at", "task_report", ["department_id", "submitted_at"]
    )
    op.create_table(
        "evidence_blob",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_evidence_blob")),
    )
    op.create_table(
        "task_evidence",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("report_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("media_type", sa.String(length=200), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("kind IN ('file', 'link')", name=op.f("ck_task_evidence_kind")),
        sa.CheckConstraint(
            "(kind = 'file' AND sha256 IS NOT NULL AND url IS NULL) OR (kind = 'link' AND url IS NOT NULL)",
            name=op.f("ck_task_evidence_file_or_link"),
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["task_report.id"],
            name=op.f("fk_task_evidence_report_id_task_report"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["evidence_blob.sha256"], name=op.f("fk_task_evidence_sha256_evidence_blob")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_evidence")),
    )
    op.create_index(op.f("ix_task_evidence_report_id"), "task_evidence", ["report_id"])
    op.create_index(op.f("ix_task_evidence_sha256"), "task_evidence", ["sha256"])
    op.create_table(
        "task_status_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=False),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("capacity", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("actor_name", sa.String(length=200), nullable=True),
        sa.Column("department_id", sa.Uuid(), nullable=True),
        sa.Column("report_id", sa.Uuid(), nullable=True),
        sa.Column("task_version", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["task.id"], name=op.f("fk_task_status_change_task_id_task"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_task_status_change")),
    )
    op.create_index(op.f("ix_task_status_change_task_id"), "task_status_change", ["task_id"])
    op.create_table(
        "plan_light_rule",
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("yellow_within_days", sa.Integer(), nullable=False),
        sa.Column("behind_tolerance_pct", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint(
            "yellow_within_days BETWEEN 0 AND 366", name=op.f("ck_plan_light_rule_yellow_within_days")
        ),
        sa.CheckConstraint(
            "behind_tolerance_pct BETWEEN 0 AND 100", name=op.f("ck_plan_light_rule_behind_tolerance_pct")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["task_plan.id"],
            name=op.f("fk_plan_light_rule_plan_id_task_plan"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("plan_id", name=op.f("pk_plan_light_rule")),
    )
    op.create_table(
        "task_overdue_notice",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("task_id", "deadline", name=op.f("pk_task_overdue_notice")),
    )
    op.create_table(
        "department_reminder",
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("due_count", sa.Integer(), nullable=False),
        sa.Column("overdue_count", sa.Integer(), nullable=False),
        sa.Column("not_reported_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_department_reminder_department_id_department")
        ),
        sa.PrimaryKeyConstraint("department_id", "period", name=op.f("pk_department_reminder")),
    )
    op.create_index(
        "ix_task_open_deadline",
        "task",
        ["deadline"],
        postgresql_where=sa.text(
            "current AND status IN ('in_progress', 'not_started', 'returned') AND deadline IS NOT NULL"
        ),
    )


def downgrade() -> None:
    op.drop_index("ix_task_open_deadline", table_name="task")
    op.drop_table("department_reminder")
    op.drop_table("task_overdue_notice")
    op.drop_table("plan_light_rule")
    op.drop_index(op.f("ix_task_status_change_task_id"), table_name="task_status_change")
    op.drop_table("task_status_change")
    op.drop_index(op.f("ix_task_evidence_sha256"), table_name="task_evidence")
    op.drop_index(op.f("ix_task_evidence_report_id"), table_name="task_evidence")
    op.drop_table("task_evidence")
    op.drop_table("evidence_blob")
    op.drop_index("ix_task_report_department_id_submitted_at", table_name="task_report")
    op.drop_index("ix_task_report_task_id_submitted_at", table_name="task_report")
    op.drop_table("task_report")
