from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import (
    ARRAY,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from plan_registry.database import Base


class Region(Base):
    """An administrative division: province, prefecture city or county, keyed by its GB/T 2260 code."""

    __tablename__ = "region"
    __table_args__ = (
        # Search by the start of a name: text_pattern_ops serves LIKE 'q%' (and =) in any collation.
        Index("ix_region_name_pattern", "name", postgresql_ops={"name": "text_pattern_ops"}),
        Index("ix_region_short_name", "short_name", postgresql_ops={"short_name": "text_pattern_ops"}),
    )

    code: Mapped[str] = mapped_column(String(6), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    # The name without its level suffix (忻州市 → 忻州, 广西壮族自治区 → 广西): documents write either.
    short_name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Department(Base):
    """A department of one region (市应急管理局, 县水利局, …) and the other names it goes by."""

    __tablename__ = "department"
    __table_args__ = (
        UniqueConstraint("region_code", "name"),
        # text_pattern_ops lets a jurisdiction filter (`region_code LIKE '1409%'`) use the index.
        Index("ix_department_region_code", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    name: Mapped[str] = mapped_column(String(200))
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
