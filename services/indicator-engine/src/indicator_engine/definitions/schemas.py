from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from emplan_shared.types import Name, Text
from indicator_engine.data.schemas import _encodable

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
UnitText = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50, pattern=r"^[^\x00-\x1f\x7f]+$"),
    AfterValidator(_encodable),
]
DecimalText = Annotated[str, StringConstraints(pattern=r"^\d{1,20}(\.\d{1,20})?$")]


# A Literal, not a StrEnum: a member named `count` would shadow str.count.
ElementKind = Literal["count", "amount", "reported"]


class Direction(StrEnum):
    lower_is_better = "lower_is_better"
    higher_is_better = "higher_is_better"


class RegionAggregation(StrEnum):
    sum = "sum"
    ratio_of_sums = "ratio_of_sums"
    not_aggregatable = "not_aggregatable"
    weighted_mean = "weighted_mean"
    max = "max"
    min = "min"


class PeriodAggregation(StrEnum):
    annual = "annual"
    pooled = "pooled"
    mean_of_years = "mean_of_years"


class InputUnit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: UnitText = Field(examples=["万人"])
    multiplier: DecimalText = Field(description="exact multiplier to the canonical unit", examples=["10000"])


class DataElementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(examples=["drowning_deaths"])
    name: Name = Field(examples=["溺水死亡人数"])
    unit: UnitText = Field(examples=["人"])
    kind: ElementKind = Field(
        description="count (人, 起: integral, additive), amount (亿元, 万吨: additive), reported (a share or "
        "time reported as such, not additive)"
    )
    description: Text = ""
    input_units: list[InputUnit] = Field(default_factory=list, max_length=20)


class DataElementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    unit: str
    kind: ElementKind
    description: str
    input_units: list[InputUnit]
    builtin: bool = Field(description="shipped with the service (kept in step with its catalogue)")
    version: int
    created_at: datetime
    updated_at: datetime


class DefinitionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(examples=["drowning_death_rate"])
    name: Name = Field(examples=["十万人口溺水死亡率"])
    aliases: list[Name] = Field(default_factory=list, max_length=50)
    numerator: Code = Field(description="data element code", examples=["drowning_deaths"])
    denominator: Code | None = Field(None, description="data element code; null for a single element")
    factor: DecimalText = Field(
        "1", description="exact positive multiplier of the numerator", examples=["100000"]
    )
    unit: UnitText = Field(examples=["人/10万人"])
    direction: Direction
    region_aggregation: RegionAggregation
    region_weight: Code | None = Field(None, description="additive element weighting a weighted_mean")
    period_aggregation: PeriodAggregation = Field(
        PeriodAggregation.annual,
        description="annual, or pooled for 年均 (Σ numerator × factor ÷ Σ denominator)",
    )
    places: int = Field(2, ge=0, le=10, description="decimal places the value is published with")
    description: Text = ""
    natural_min: DecimalText | None = "0"
    natural_max: DecimalText | None = None


class DefinitionUpdate(BaseModel):
    """Names and wording only; a formula is never changed under results already computed with it."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    aliases: list[Name] | None = Field(None, max_length=50)
    description: Text | None = None


class DefinitionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    code: str
    name: str
    aliases: list[str]
    numerator: str = Field(validation_alias="numerator_code")
    denominator: str | None = Field(validation_alias="denominator_code")
    factor: str
    unit: str
    direction: Direction
    region_aggregation: RegionAggregation
    region_weight: str | None = Field(validation_alias="region_weight_code")
    period_aggregation: PeriodAggregation
    places: int
    description: str
    natural_min: str | None
    natural_max: str | None
    builtin: bool
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: object) -> DefinitionRead:
        data = {name: getattr(row, name) for name in _ROW_FIELDS}
        for name in ("factor", "natural_min", "natural_max"):
            value = data[name]
            data[name] = None if value is None else _plain(value)
        return cls.model_validate(data)


_ROW_FIELDS = (
    "code name aliases numerator_code denominator_code factor unit direction region_aggregation "
    "region_weight_code period_aggregation places description natural_min natural_max builtin version "
    "created_at updated_at"
).split()


def _plain(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class DefinitionLookup(BaseModel):
    query: str
    normalized: str = Field(description="the name as matched: NFKC, case folded, no whitespace")
    match: DefinitionRead | None = Field(
        description="the one definition the name denotes; null when none or several"
    )
    candidates: list[str] = Field(description="codes of every definition whose name or alias matches")
