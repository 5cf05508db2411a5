from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    Boolean,
    CheckConstraint,
    DateTime,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from indicator_engine.database import Base


class IndicatorTarget(Base):
    """A quantified target of a published plan, as this service binds and judges it.

    One row per (plan version, plan indicator item): a later version of the plan brings its own rows and
    the earlier version's rows become `superseded`, so history is kept.
    """

    __tablename__ = "indicator_target"
    __table_args__ = (
        UniqueConstraint("plan_id", "item_id"),
        Index(
            "ix_indicator_target_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index("ix_indicator_target_definition_code", "definition_code"),
        CheckConstraint("type IN ('decrease_pct', 'max', 'min', 'equals')", name="type"),
        CheckConstraint("nature IS NULL OR nature IN ('binding', 'expected')", name="nature"),
        CheckConstraint("binding_method IN ('name', 'alias', 'manual', 'none')", name="binding_method"),
        CheckConstraint("state IN ('active', 'superseded')", name="state"),
        CheckConstraint("target_year > baseline_year", name="years"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(index=True)
    lineage_id: Mapped[uuid.UUID]
    plan_version: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[uuid.UUID] = mapped_column(comment="the plan's indicator item id (kept across versions)")
    region_code: Mapped[str] = mapped_column(String(6))
    plan_title: Mapped[str] = mapped_column(Text)
    period_start: Mapped[int] = mapped_column(Integer)
    period_end: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(Text, comment="indicator name as the plan writes it")
    target_text: Mapped[str] = mapped_column(Text)
    group: Mapped[str] = mapped_column(String(20))
    type: Mapped[str] = mapped_column(String(20))
    value: Mapped[Decimal] = mapped_column(Numeric)
    unit: Mapped[str | None] = mapped_column(String(10))
    strict: Mapped[bool] = mapped_column(Boolean)
    nature: Mapped[str | None] = mapped_column(String(10))
    definition_code: Mapped[str | None] = mapped_column(String(64))
    binding_method: Mapped[str] = mapped_column(String(10))
    bound_by: Mapped[str | None] = mapped_column(String(200))
    bound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    baseline_years: Mapped[list[int]] = mapped_column(ARRAY(Integer))
    baseline_year: Mapped[int] = mapped_column(Integer)
    target_year: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12), default="active")
    superseded_by: Mapped[uuid.UUID | None]
    version: Mapped[int] = mapped_column(Integer, default=1, comment="bumped by every change through the API")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
