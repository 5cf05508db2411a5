from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ARRAY, Boolean, DateTime, ForeignKey, Integer, Numeric, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from indicator_engine.database import Base


class DataElementRow(Base):
    """One statistic reported per region and year (deaths, GDP, population …) in its canonical unit."""

    __tablename__ = "data_element"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    unit: Mapped[str] = mapped_column(String(50))
    kind: Mapped[str] = mapped_column(String(20))  # count | amount | reported
    description: Mapped[str] = mapped_column(Text, default="")
    # [{"unit": "万人", "multiplier": "10000"}, …]: other units it is reported in, exact multipliers.
    input_units: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class IndicatorDefinitionRow(Base):
    """numerator × factor / denominator (or one element), with unit, direction and aggregation rules."""

    __tablename__ = "indicator_definition"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    aliases: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    numerator_code: Mapped[str] = mapped_column(ForeignKey("data_element.code"))
    denominator_code: Mapped[str | None] = mapped_column(ForeignKey("data_element.code"))
    factor: Mapped[Decimal] = mapped_column(Numeric, default=Decimal(1))
    unit: Mapped[str] = mapped_column(String(50))
    direction: Mapped[str] = mapped_column(String(20))  # lower_is_better | higher_is_better
    # sum | ratio_of_sums | not_aggregatable | weighted_mean | max | min
    region_aggregation: Mapped[str] = mapped_column(String(20))
    region_weight_code: Mapped[str | None] = mapped_column(ForeignKey("data_element.code"))
    period_aggregation: Mapped[str] = mapped_column(String(20))  # annual | pooled | mean_of_years
    places: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(Text, default="")
    natural_min: Mapped[Decimal | None] = mapped_column(Numeric)
    natural_max: Mapped[Decimal | None] = mapped_column(Numeric)
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str] = mapped_column(String(200), default="system")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
