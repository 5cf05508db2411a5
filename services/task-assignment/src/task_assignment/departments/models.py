from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from task_assignment.database import Base


class Department(Base):
    """A department as plan-registry last described it (this service never edits it)."""

    __tablename__ = "department"
    __table_args__ = (
        Index("ix_department_region_code", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(String(6))
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text))
    active: Mapped[bool] = mapped_column(Boolean)
    version: Mapped[int] = mapped_column(Integer)
    synced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DepartmentChange(Base):
    """One directory event as applied here: the department's history, for ledgers that show old names."""

    __tablename__ = "department_change"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("department.id"), index=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    applied_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
