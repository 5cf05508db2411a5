"""Progress reports, their evidence, the status history, per-plan light rules, and the keys that make
the overdue notice and the reminder go out at most once."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from task_assignment.database import Base
from task_assignment.tasks.models import Task
from task_assignment.work.workflow import OPEN_STATUSES


class TaskReport(Base):
    """One progress report on a task by one department (or the owner bureau) for one period.

    Reports are never edited: a correction is a newer report, so the history shows what was said when.
    """

    __tablename__ = "task_report"
    __table_args__ = (
        CheckConstraint("percent BETWEEN 0 AND 100", name="percent"),
        CheckConstraint("capacity IN ('lead', 'co', 'bureau')", name="capacity"),
        CheckConstraint("percent IS NOT NULL OR milestone IS NOT NULL", name="percent_or_milestone"),
        Index("ix_task_report_task_id_submitted_at", "task_id", "submitted_at"),
        Index("ix_task_report_department_id_submitted_at", "department_id", "submitted_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"))
    # Null when the owner bureau reports itself (it is no assigned department).
    department_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("department.id"), nullable=True)
    capacity: Mapped[str] = mapped_column(String(8))
    period: Mapped[str] = mapped_column(String(7))
    percent: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    milestone: Mapped[str | None] = mapped_column(String(200), nullable=True)
    narrative: Mapped[str] = mapped_column(Text, server_default="")
    submitted_by: Mapped[str] = mapped_column(String(200))
    submitted_by_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    submitted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class EvidenceBlob(Base):
    """File content, stored once per SHA-256 (the same scan attached to three reports is one row)."""

    __tablename__ = "evidence_blob"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TaskEvidence(Base):
    """A file (by checksum) or a link supporting a report."""

    __tablename__ = "task_evidence"
    __table_args__ = (
        CheckConstraint("kind IN ('file', 'link')", name="kind"),
        CheckConstraint(
            "(kind = 'file' AND sha256 IS NOT NULL AND url IS NULL) OR (kind = 'link' AND url IS NOT NULL)",
            name="file_or_link",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    report_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task_report.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    media_type: Mapped[str | None] = mapped_column(String(200), nullable=True)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(ForeignKey("evidence_blob.sha256"), nullable=True, index=True)
    url: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TaskStatusChange(Base):
    """Every status change of a task: who, in which capacity, why (a return's reason lives here)."""

    __tablename__ = "task_status_change"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(20))
    capacity: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    department_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    report_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    task_version: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlanLightRule(Base):
    """A plan's own thresholds for the light; plans without a row use the service's defaults."""

    __tablename__ = "plan_light_rule"
    __table_args__ = (
        CheckConstraint("yellow_within_days BETWEEN 0 AND 366", name="yellow_within_days"),
        CheckConstraint("behind_tolerance_pct BETWEEN 0 AND 100", name="behind_tolerance_pct"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("task_plan.id", ondelete="CASCADE"), primary_key=True
    )
    yellow_within_days: Mapped[int] = mapped_column(Integer)
    behind_tolerance_pct: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TaskOverdueNotice(Base):
    """`task.overdue` was published for this task and deadline: the key that makes it once only.

    A later deadline (the bureau extends it) is a new key, so the task can be overdue again.
    """

    __tablename__ = "task_overdue_notice"

    # No foreign key: the key is a log of what was published, and the FK check cost a third of the
    # first scan over 26,000 overdue tasks (bench/task_overdue_scan.py); tasks are never deleted.
    task_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    deadline: Mapped[date] = mapped_column(Date, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    detected_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DepartmentReminder(Base):
    """`task.reminder.due` was published for this department and reporting period (at most once)."""

    __tablename__ = "department_reminder"

    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("department.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64))
    due_count: Mapped[int] = mapped_column(Integer)
    overdue_count: Mapped[int] = mapped_column(Integer)
    not_reported_count: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The daily overdue scan reads only current tasks that still owe work, by deadline: a partial index
# keeps it proportional to those rows, not to every task ever created.
Index(
    "ix_task_open_deadline",
    Task.deadline,
    postgresql_where=Task.current & Task.status.in_(sorted(OPEN_STATUSES)) & Task.deadline.is_not(None),
)
