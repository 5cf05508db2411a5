from __future__ import annotations

import uuid
from enum import StrEnum

from pydantic import BaseModel, Field

from indicator_engine.targets.schemas import DecimalText, TargetRead


class DataScope(StrEnum):
    approved = "approved"
    all = "all"


class ResultStatus(StrEnum):
    ok = "ok"
    incomplete = "incomplete"
    undefined = "undefined"


class TargetStatusValue(StrEnum):
    met = "met"
    on_track = "on_track"
    lagging = "lagging"
    seriously_lagging = "seriously_lagging"
    no_data = "no_data"


class NoDataReason(StrEnum):
    baseline_incomplete = "baseline_incomplete"
    baseline_undefined = "baseline_undefined"
    no_complete_year = "no_complete_year"


class OpenSdgCategory(StrEnum):
    target_achieved = "target_achieved"
    on_track = "on_track"
    acceleration_needed = "acceleration_needed"
    limited_progress = "limited_progress"
    deterioration = "deterioration"
    unable_to_assess = "unable_to_assess"


class ProjectionMethod(StrEnum):
    linear_trend = "linear_trend"
    observed = "observed"


class ProjectionOutcome(StrEnum):
    met = "met"
    miss = "miss"
    unknown = "unknown"


class MissingValue(BaseModel):
    region_code: str
    element_code: str
    year: int


class ResultRead(BaseModel):
    """An indicator's value for a region over one year (or, for 年均 indicators, several)."""

    indicator: str = Field(description="definition code")
    indicator_name: str
    unit: str
    region_code: str
    years: list[int] = Field(description="the years the value covers")
    scope: DataScope
    status: ResultStatus = Field(
        description="ok: value set; incomplete: figures missing (listed); undefined: denominator sums to 0"
    )
    value: DecimalText | None = Field(description="exact value (34 significant digits at most)")
    display_value: DecimalText | None = Field(description="rounded half-up to the definition's places")
    numerator: DecimalText | None = Field(description="summed numerator (rates and sums)")
    denominator: DecimalText | None = Field(description="summed denominator (rates)")
    missing: list[MissingValue] = Field(description="every figure missing, at the lowest level it is missing")
    missing_regions: list[str]
    missing_elements: list[str]
    undefined_reason: str | None


class ResultBreakdown(BaseModel):
    """A region's result and the result of each region directly below it."""

    region: ResultRead
    children: list[ResultRead]


class OpenSdgRead(BaseModel):
    category: OpenSdgCategory
    score: DecimalText | None = Field(description="−5 … +5")
    measure: DecimalText | None = Field(description="R: observed CAGR ÷ |required CAGR| (directed)")
    observed_cagr: DecimalText | None
    required_cagr: DecimalText | None
    reason: str | None = Field(description="why it could not be assessed")


class ProjectionRead(BaseModel):
    method: ProjectionMethod
    target_year: int
    value: DecimalText | None = Field(description="projected (or observed) value in the target year")
    years_used: list[int]
    clamped: bool = Field(description="the line passed a natural limit (e.g. below 0) and was held at it")
    reason: str | None = Field(description="why there is no projection")
    outcome: ProjectionOutcome = Field(description="whether that value meets the target")
    warning: bool = Field(description="a binding target projected to miss: early warning")


class ProgressRead(BaseModel):
    """A target judged from data: 序时进度 status, Open SDG assessment, projection."""

    target: TargetRead
    scope: DataScope
    status: TargetStatusValue = Field(
        description="met: the target itself is met (strict ＜/＞ decided exactly at the limit); on_track: "
        "progress ratio r ≥ 1 (at or ahead of the 序时进度 line); lagging: 0.5 ≤ r < 1; seriously_lagging: "
        "r < 0.5 or moving away, or the target year reached and missed; no_data: no complete baseline or year"
    )
    reason: NoDataReason | None
    year: int | None = Field(description="the year judged (the latest complete year up to the target year)")
    value: DecimalText | None
    baseline: ResultRead
    current: ResultRead | None
    target_value: DecimalText | None
    required_value: DecimalText | None = Field(description="序时进度: the value due in the year judged")
    due_fraction: DecimalText | None = Field(description="(year − start year) ÷ (target year − start year)")
    progress_ratio: DecimalText | None = Field(description="achieved share of the way ÷ due share")
    open_sdg: OpenSdgRead | None
    projection: ProjectionRead | None


class RecomputeReport(BaseModel):
    evaluated: int = Field(description="targets judged")
    status_changes: int = Field(description="status.changed events published")
    warnings: int = Field(description="warning.raised events published")


class RecomputeRequest(BaseModel):
    plan_id: uuid.UUID | None = Field(None, description="only this plan's targets; all active ones if null")
