from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    ARRAY,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from indicator_engine.database import Base


class TargetStatus(Base):
    """The last judged state of an active, bound target, from approved data only.

    Kept so a recomputation can tell a real change (→ `status.changed`, `warning.raised`) from a
    repeat: the row is locked, compared and updated in the transaction that publishes the event.
    """

    __tablename__ = "target_status"
    __table_args__ = (
        CheckConstraint(
            "status IN ('met', 'on_track', 'lagging', 'seriously_lagging', 'no_data')", name="status"
        ),
        CheckConstraint("projection_outcome IN ('met', 'miss', 'unknown')", name="projection_outcome"),
    )

    target_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("indicator_target.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40), comment="why the status is no_data")
    year: Mapped[int | None] = mapped_column(Integer, comment="the year judged (latest complete year)")
    value: Mapped[Decimal | None] = mapped_column(Numeric)
    baseline: Mapped[Decimal | None] = mapped_column(Numeric)
    target_value: Mapped[Decimal | None] = mapped_column(Numeric)
    required_value: Mapped[Decimal | None] = mapped_column(Numeric)
    sdg_category: Mapped[str | None] = mapped_column(String(24))
    sdg_score: Mapped[Decimal | None] = mapped_column(Numeric)
    projection_method: Mapped[str] = mapped_column(String(20))
    projected_value: Mapped[Decimal | None] = mapped_column(Numeric)
    projection_outcome: Mapped[str] = mapped_column(String(10))
    status_version: Mapped[int] = mapped_column(Integer, comment="number of status changes so far")
    warnings_raised: Mapped[int] = mapped_column(Integer, default=0)
    judgement_version: Mapped[int] = mapped_column(
        Integer,
        server_default=text("0"),
        comment="number of changes of the whole judgement so far (target.judged)",
    )
    changed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class IndicatorResult(Base):
    """A stored result of the full recomputation (`results.rollup.store_all`): one indicator, region and
    year, computed in PostgreSQL from the data values of the region and every region below it.

    The same rules as `domain.compute` (the reference, which `tests/.../test_rollup_sql.py` compares
    it with exactly): rates from summed numerators and denominators, exact NUMERIC sums, one division
    rounded to 34 significant digits half-even. An incomplete result keeps how many
    (region, element, year) figures are missing and which elements; the named regions are what the
    live result endpoint lists.
    """

    __tablename__ = "indicator_result"
    __table_args__ = (
        CheckConstraint("status IN ('ok', 'incomplete', 'undefined')", name="status"),
        CheckConstraint("scope IN ('approved', 'all')", name="scope"),
        # No unique index (its upkeep was three quarters of the insert); one (scope, definition, year,
        # region) row is kept by `store_all` replacing under an advisory lock. BRIN: rows are written
        # grouped by definition and year.
        Index(
            "ix_indicator_result_definition_year",
            "scope",
            "definition_code",
            "year",
            postgresql_using="brin",
        ),
    )
    # The ORM needs an identity; the table has none of its own (see above).
    __mapper_args__ = {  # noqa: RUF012 (SQLAlchemy's own class attribute)
        "primary_key": ["scope", "definition_code", "year", "region_code"]
    }

    scope: Mapped[str] = mapped_column(String(10))
    definition_code: Mapped[str] = mapped_column(String(64))
    year: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(String(6))
    status: Mapped[str] = mapped_column(String(12))
    value: Mapped[Decimal | None] = mapped_column(Numeric)
    numerator: Mapped[Decimal | None] = mapped_column(Numeric)
    denominator: Mapped[Decimal | None] = mapped_column(Numeric)
    missing_count: Mapped[int] = mapped_column(Integer, comment="missing (region, element, year) figures")
    missing_elements: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    undefined_reason: Mapped[str | None] = mapped_column(String(20))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
