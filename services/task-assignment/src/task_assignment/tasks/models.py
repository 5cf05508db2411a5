"""Tasks of published plans (and manual ones), their department assignments and unexpanded groups.

Status, progress and version live on the task row itself: the ledger and the workload views read one
row per task without a join, and the ETag is the row's `version`.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from emplan_shared.exchange import CURRENT_XID, Xid8
from task_assignment.database import Base


class TaskStatus(StrEnum):
    not_started = "not_started"
    in_progress = "in_progress"
    completed = "completed"
    closed = "closed"
    returned = "returned"


class TaskKind(StrEnum):
    key_task = "key_task"
    focus_area = "focus_area"
    key_project = "key_project"
    other = "other"


class TaskOrigin(StrEnum):
    plan = "plan"  # created from plan.published
    manual = "manual"  # created through the API
    cascade = "cascade"  # a county's sub-task of a task assigned to 各县〈市、区〉人民政府
    ledger = "ledger"  # imported from a 任务分工台账 sheet


class AssignmentRole(StrEnum):
    lead = "lead"
    co = "co"


class PlanRef(Base):
    """The header of a published plan version, as plan.published described it."""

    __tablename__ = "task_plan"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    lineage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(String(6))
    region_name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    period_start: Mapped[int] = mapped_column(Integer)
    period_end: Mapped[int] = mapped_column(Integer)
    current: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    superseded_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    published_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Task(Base):
    __tablename__ = "task"
    __table_args__ = (
        CheckConstraint(
            "status IN ('not_started', 'in_progress', 'completed', 'closed', 'returned')", name="status"
        ),
        CheckConstraint("progress_percent BETWEEN 0 AND 100", name="progress_percent"),
        CheckConstraint("parent_id IS NULL OR parent_id <> id", name="not_own_parent"),
        UniqueConstraint("plan_id", "plan_item_id", name="uq_task_plan_id_plan_item_id"),
        # One cascaded sub-task per county and parent, whatever the redelivery.
        Index(
            "ix_task_cascade_parent_region",
            "parent_id",
            "region_code",
            unique=True,
            postgresql_where=text("origin = 'cascade'"),
        ),
        Index("ix_task_plan_id_position", "plan_id", "position"),
        Index("ix_task_region_code", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
        Index("ix_task_changed_xid_id", "changed_xid", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task_plan.id"))
    # The owner's region: the plan's region, or the county for a cascaded sub-task. Jurisdiction reads it.
    region_code: Mapped[str] = mapped_column(String(6))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("task.id"), index=True, nullable=True)
    origin: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    plan_item_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True, index=True)
    position: Mapped[int] = mapped_column(Integer)
    code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, server_default="")
    section: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    deadline: Mapped[date | None] = mapped_column(Date, nullable=True)
    deadline_text: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[str] = mapped_column(String(20), server_default=TaskStatus.not_started.value, index=True)
    # 0–100; for a parent with sub-tasks it is derived from them (cascade.py), otherwise set by reports.
    progress_percent: Mapped[int] = mapped_column(SmallInteger, server_default=text("0"))
    progress_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    # False once the plan version is superseded; the task keeps its history and points at its successor.
    current: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    successor_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("task.id"), nullable=True)
    version: Mapped[int] = mapped_column(Integer, server_default=text("1"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The transaction that last changed the task (a trigger moves it on update): the exchange API's order.
    changed_xid: Mapped[int] = mapped_column(Xid8(), server_default=CURRENT_XID)


class GroupAssignment(Base):
    """A unit name standing for several departments (市安委会有关成员单位): a person expands it."""

    __tablename__ = "group_assignment"
    __table_args__ = (
        UniqueConstraint("task_id", "role", "name", name="uq_group_assignment_task_id_role_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    match: Mapped[str] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)
    expanded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    expanded_by: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Assignment(Base):
    """A department's role in a task: lead (牵头) or co-operating (配合)."""

    __tablename__ = "assignment"
    __table_args__ = (
        UniqueConstraint("task_id", "department_id", name="uq_assignment_task_id_department_id"),
        Index("ix_assignment_department_id_role", "department_id", "role"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    task_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("task.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("department.id"))
    role: Mapped[str] = mapped_column(String(8))
    # The name as the plan wrote it (市应急局), kept for the ledger even when the directory renames.
    unit_name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    group_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("group_assignment.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
