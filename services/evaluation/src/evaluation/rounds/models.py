from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from emplan_shared.exchange import CURRENT_XID, Xid8
from evaluation.database import Base


class ScoringSchemeRecord(Base):
    """One version of a plan's scoring scheme. Versions are never changed, only added, so a round
    scored with version 2 can always be scored again the same way."""

    __tablename__ = "scoring_scheme"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(200))


class EvaluationRound(Base):
    """An evaluation round of a plan: draft → under_review → approved → published.

    The snapshot is what the figures come from; at approval the scores, the scheme's rules and the
    previous round compared against are frozen into the row, so an approved round never changes
    even if data, schemes or the scoring code change later.
    """

    __tablename__ = "evaluation_round"
    __table_args__ = (
        Index(
            "ix_evaluation_round_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
        Index("ix_evaluation_round_plan_id_reference_date", "plan_id", "reference_date"),
        Index("ix_evaluation_round_changed_xid_id", "changed_xid", "id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    plan_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("plan.id"))
    region_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[str] = mapped_column(String(20))
    reference_date: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="draft")
    scheme_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("scoring_scheme.id"))
    bonus_awards: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    snapshot_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    snapshot_by: Mapped[str | None] = mapped_column(String(200))
    # read_model: taken from the service's read model; posted: a system admin's override
    snapshot_origin: Mapped[str | None] = mapped_column(String(20))
    # stream → last event sequence the snapshot includes, and the calculation rules that made it
    snapshot_sources: Mapped[dict[str, int] | None] = mapped_column(JSONB)
    calculation_rules_version: Mapped[str | None] = mapped_column(String(100))
    # the scoring code's version, frozen at approval
    scoring_rules_version: Mapped[str | None] = mapped_column(String(50))
    # Frozen at approval:
    frozen_scheme: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    frozen_result: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    previous_round_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("evaluation_round.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_by: Mapped[str | None] = mapped_column(String(200))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str | None] = mapped_column(String(200))
    # The transaction that last changed the round (a trigger moves it on update): the exchange order.
    changed_xid: Mapped[int] = mapped_column(Xid8(), server_default=CURRENT_XID)


class ImprovementMeasure(Base):
    """An improvement measure (整改措施) the bureau entered for a problem the round found."""

    __tablename__ = "improvement_measure"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    round_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("evaluation_round.id", ondelete="CASCADE"), index=True
    )
    problem: Mapped[str] = mapped_column(Text)
    measure: Mapped[str] = mapped_column(Text)
    department: Mapped[str | None] = mapped_column(String(200))
    due_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str] = mapped_column(String(200))
