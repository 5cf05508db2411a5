from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated

from pydantic import BaseModel, Field, field_validator

DECIMAL_PATTERN = r"^-?\d+(\.\d+)?$"
DecimalText = Annotated[str, Field(pattern=DECIMAL_PATTERN, description="exact decimal as text")]
Year = Annotated[int, Field(ge=1949, le=2100)]


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text: never in exponent form (1E+2 → 100), no trailing zeros after the point
    (34.00 → 34): the same number always reads the same, whatever arithmetic produced it."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


class TargetType(StrEnum):
    decrease_pct = "decrease_pct"
    max = "max"
    min = "min"
    equals = "equals"


class Nature(StrEnum):
    binding = "binding"
    expected = "expected"


class BindingMethod(StrEnum):
    name = "name"
    alias = "alias"
    manual = "manual"
    none = "none"


class TargetState(StrEnum):
    active = "active"
    superseded = "superseded"


class BindingFilter(StrEnum):
    bound = "bound"
    unbound = "unbound"


class BaselineRuleRead(BaseModel):
    years: list[int] = Field(description="the year(s) the baseline is taken from; several: their mean")
    start_year: int = Field(description="the year the 序时进度 line starts from (基期年)")


class TargetRead(BaseModel):
    id: uuid.UUID
    plan_id: uuid.UUID
    lineage_id: uuid.UUID
    plan_version: int
    item_id: uuid.UUID = Field(description="the plan's indicator item, kept across plan versions")
    region_code: str
    plan_title: str
    period_start: int
    period_end: int
    name: str = Field(description="indicator name as the plan writes it")
    target_text: str
    type: TargetType
    value: DecimalText
    unit: str | None
    strict: bool
    nature: Nature | None = Field(description="约束性 / 预期性; null when the plan does not say")
    definition_code: str | None = Field(description="the bound definition; null while unbound")
    binding_method: BindingMethod = Field(
        description="name / alias: matched automatically; manual: bound by a person; none: unbound"
    )
    bound_by: str | None
    bound_at: datetime | None
    baseline: BaselineRuleRead
    target_year: int
    state: TargetState
    superseded_by: uuid.UUID | None
    version: int


class BindingUpdate(BaseModel):
    definition_code: str = Field(
        min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$", description="code of the definition"
    )


class BaselineUpdate(BaseModel):
    years: list[Year] = Field(
        min_length=1,
        max_length=20,
        description="one year (e.g. [2019]) or the years whose mean is the baseline (e.g. [2016, 2017, 2018, "
        "2019])",
    )
    start_year: Year | None = Field(
        None,
        description="the year the 序时进度 line starts from; default: the year before the plan's first year",
    )

    @field_validator("years")
    @classmethod
    def _increasing(cls, years: list[int]) -> list[int]:
        if any(later <= earlier for earlier, later in pairwise(years)):
            raise ValueError("基期年份须互不相同并按升序排列")
        return years
