"""A plan is one row per version; versions of the same plan share a lineage id."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from emplan_shared.exchange import CURRENT_XID, Xid8
from plan_registry.database import Base


class PlanDocument(Base):
    """The uploaded document a plan was imported from: what it was, and its decoded text, so the
    source lines of every item can be shown. Versions made from a published plan share it."""

    __tablename__ = "plan_document"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    filename: Mapped[str | None] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, deferred=True, deferred_raiseload=True)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Plan(Base):
    """One version of a plan: its metadata, its content as reviewed, and where it stands."""

    __tablename__ = "plan"
    __table_args__ = (
        UniqueConstraint("lineage_id", "version"),
        # At most one published and one draft version per lineage, whatever requests race.
        Index(
            "uq_plan_lineage_published",
            "lineage_id",
            unique=True,
            postgresql_where=text("status = 'published'"),
        ),
        Index("uq_plan_lineage_draft", "lineage_id", unique=True, postgresql_where=text("status = 'draft'")),
        # text_pattern_ops lets a jurisdiction filter (`region_code LIKE '1409%'`) use the index.
        Index("ix_plan_region_code", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
        # The list's order (newest first) and its keyset cursor.
        Index("ix_plan_created_at_id", "created_at", "id"),
        Index("ix_plan_changed_xid_id", "changed_xid", "id"),
        Index("ix_plan_title_key", "title_key"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    lineage_id: Mapped[uuid.UUID] = mapped_column(index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # draft | published | superseded
    # Increases with every change of the row; the ETag.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str | None] = mapped_column(String(300))
    # The title reduced for matching a document's parent-plan titles (quotes, brackets, spaces).
    title_key: Mapped[str | None] = mapped_column(String(300))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    region_name: Mapped[str] = mapped_column(String(100))
    region_level: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[int | None] = mapped_column(Integer)
    period_end: Mapped[int | None] = mapped_column(Integer)
    issuing_body: Mapped[str | None] = mapped_column(String(200))
    doc_number: Mapped[str | None] = mapped_column(String(100))
    issued_date: Mapped[date | None] = mapped_column(Date)
    parent_titles: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    # sections, goals, indicators, tasks as reviewed; the import's warnings; the unit resolution.
    content: Mapped[dict[str, Any]] = mapped_column(JSONB, deferred=True, deferred_raiseload=True)
    warnings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, deferred=True, deferred_raiseload=True)
    units: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, deferred=True, deferred_raiseload=True)
    indicator_count: Mapped[int] = mapped_column(Integer, default=0)
    task_count: Mapped[int] = mapped_column(Integer, default=0)
    warning_count: Mapped[int] = mapped_column(Integer, default=0)
    document_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plan_document.id"), index=True)
    derived_from_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plan.id"))
    superseded_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("plan.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    published_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The transaction that last changed the version (a trigger moves it on update): the exchange order.
    changed_xid: Mapped[int] = mapped_column(Xid8(), server_default=CURRENT_XID)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
