"""Read-model tables. History is kept: one row per event (never updated), so the state as of any
stream position can be read again, and a snapshot that names its positions can be reproduced."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Index, Integer, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from evaluation.database import Base


class TargetJudgement(Base):
    """One `indicator.target.judged`: a target's status and figures from `valid_from` on."""

    __tablename__ = "rm_target_judgement"
    __table_args__ = (Index("ix_rm_target_judgement_plan_id_target_id", "plan_id", "target_id"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str | None] = mapped_column(String(64))
    stream_sequence: Mapped[int | None] = mapped_column(BigInteger)
    target_id: Mapped[uuid.UUID]
    judgement_version: Mapped[int] = mapped_column(Integer)
    plan_id: Mapped[uuid.UUID]
    item_id: Mapped[uuid.UUID]
    region_code: Mapped[str] = mapped_column(String(6))
    indicator_code: Mapped[str] = mapped_column(String(64))
    indicator_name: Mapped[str] = mapped_column(Text)
    nature: Mapped[str | None] = mapped_column(String(10))
    unit: Mapped[str | None] = mapped_column(String(50))
    target_type: Mapped[str] = mapped_column(String(20))
    target_text_value: Mapped[Decimal] = mapped_column(Numeric)
    strict: Mapped[bool] = mapped_column(Boolean)
    baseline_year: Mapped[int] = mapped_column(Integer)
    target_year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    year: Mapped[int | None] = mapped_column(Integer)
    value: Mapped[Decimal | None] = mapped_column(Numeric)
    baseline: Mapped[Decimal | None] = mapped_column(Numeric)
    required_value: Mapped[Decimal | None] = mapped_column(Numeric)
    target_value: Mapped[Decimal | None] = mapped_column(Numeric)
    rules_version: Mapped[str] = mapped_column(String(50))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), comment="when it was judged")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TaskStateRecord(Base):
    """One `task.state.changed`: a task's state from `valid_from` on."""

    __tablename__ = "rm_task_state"
    __table_args__ = (Index("ix_rm_task_state_plan_id_task_id", "plan_id", "task_id"),)

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str | None] = mapped_column(String(64))
    stream_sequence: Mapped[int | None] = mapped_column(BigInteger)
    task_id: Mapped[uuid.UUID]
    version: Mapped[int] = mapped_column(Integer)
    plan_id: Mapped[uuid.UUID]
    parent_id: Mapped[uuid.UUID | None]
    region_code: Mapped[str] = mapped_column(String(6))
    region_name: Mapped[str | None] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str | None] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    deadline: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    progress_percent: Mapped[int] = mapped_column(Integer)
    lead_departments: Mapped[list[str]] = mapped_column(ARRAY(Text))
    co_departments: Mapped[list[str]] = mapped_column(ARRAY(Text))
    returned_count: Mapped[int] = mapped_column(Integer)
    last_reported_on: Mapped[date | None] = mapped_column(Date)
    last_report_summary: Mapped[str | None] = mapped_column(Text)
    current: Mapped[bool] = mapped_column(Boolean)
    plan_start: Mapped[date] = mapped_column(Date)
    yellow_within_days: Mapped[int | None] = mapped_column(Integer)
    behind_tolerance_pct: Mapped[int | None] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), comment="when it changed")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PlanIndicatorLead(Base):
    """The unit a plan names as answering for an indicator item (from `plan.published`)."""

    __tablename__ = "rm_plan_indicator"

    plan_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    item_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    lead_department: Mapped[str | None] = mapped_column(String(200))


class StreamPosition(Base):
    """The highest sequence of each stream the read model has applied."""

    __tablename__ = "rm_stream_position"

    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
