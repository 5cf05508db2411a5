"""A target judged from data: baseline, current value, 序时进度 status, Open SDG assessment, projection
and early warning. Pure: data in (`compute.Data` and the region tree), an `Evaluation` out.

Rules (documented in docs/api-guide.md, "Indicator results"):
- The baseline is computed by the target's baseline rule (one year, or the mean of several years).
- The year judged is the latest year from the plan's first year up to the target year whose current
  value is complete (`compute.compute_current`: that year's value, or for 年均 indicators the average
  over the plan years up to it). No complete baseline or no complete year: status `no_data`, with the
  reason.
- Status by `domain.progress.assess` (thresholds 1 and 0.5 of the progress due), the second opinion by
  `domain.open_sdg.assess_with_target` from the baseline to the judged year's value.
- Projection to the target year, method `linear_trend`: through the baseline (at the baseline year) and
  every complete yearly value of the plan years so far; for 年均 indicators the numerator and the
  denominator are projected separately and pooled over the plan years (`projection.project_pooled`).
  Once the target year itself is complete there is nothing to project: the outcome is observed
  (method `observed`).
- Early warning: a binding (约束性) target whose projected (or observed) target-year value misses it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from indicator_engine.domain.catalogue import Definition
from indicator_engine.domain.compute import (
    Children,
    Data,
    Result,
    compute_baseline,
    compute_current,
    compute_year,
)
from indicator_engine.domain.decimals import ONE
from indicator_engine.domain.open_sdg import Assessment, assess_with_target
from indicator_engine.domain.progress import Progress, assess
from indicator_engine.domain.projection import Projection, early_warning, project, project_pooled
from indicator_engine.domain.targets import Target, is_met

StatusValue = Literal["met", "on_track", "lagging", "seriously_lagging", "no_data"]
NoDataReason = Literal["baseline_incomplete", "baseline_undefined", "no_complete_year"]
Outcome = Literal["met", "miss", "unknown"]
ProjectionMethod = Literal["linear_trend", "observed"]


@dataclass(frozen=True)
class TargetSpec:
    target: Target
    definition: Definition
    region_code: str
    period_start: int


@dataclass(frozen=True)
class Evaluation:
    status: StatusValue
    reason: NoDataReason | None
    year: int | None
    baseline: Result
    current: Result | None
    progress: Progress | None
    open_sdg: Assessment | None
    projection_method: ProjectionMethod
    projection: Projection | None
    outcome: Outcome
    binding: bool

    @property
    def warning(self) -> bool:
        """A binding target projected (or observed) to miss its target year."""
        return self.binding and self.outcome == "miss"

    @property
    def value(self) -> Decimal | None:
        return self.current.value if self.current is not None and self.current.ok else None


def data_years(spec: TargetSpec) -> range:
    """Every year an evaluation may read: from the earliest baseline year to the target year."""
    first = min(spec.target.baseline_rule.years[0], spec.target.baseline_year, spec.period_start)
    return range(first, spec.target.target_year + 1)


def evaluate(spec: TargetSpec, data: Data, children: Children) -> Evaluation:
    target, definition, region = spec.target, spec.definition, spec.region_code
    baseline = compute_baseline(definition, region, target.baseline_rule, data, children)
    if not baseline.ok or baseline.value is None:
        reason: NoDataReason = (
            "baseline_undefined" if baseline.status == "undefined" else "baseline_incomplete"
        )
        return Evaluation(
            "no_data",
            reason,
            None,
            baseline,
            None,
            None,
            None,
            "linear_trend",
            None,
            "unknown",
            target.binding,
        )
    base = baseline.value
    current: Result | None = None
    year = target.target_year
    while year >= spec.period_start:
        candidate = compute_current(definition, region, year, spec.period_start, data, children)
        if candidate.ok and candidate.value is not None:
            current = candidate
            break
        year -= 1
    if current is None or current.value is None:
        return Evaluation(
            "no_data",
            "no_complete_year",
            None,
            baseline,
            None,
            None,
            None,
            "linear_trend",
            None,
            "unknown",
            target.binding,
        )
    progress = assess(target, base, year, current.value)
    sdg = assess_with_target(target, base, year, current.value)
    if year >= target.target_year:
        outcome: Outcome = "met" if is_met(target, base, current.value) else "miss"
        return Evaluation(
            progress.status,
            None,
            year,
            baseline,
            current,
            progress,
            sdg,
            "observed",
            None,
            outcome,
            target.binding,
        )
    projected = _project(spec, base, year, data, children)
    warning = early_warning(target, base, projected)
    outcome = "unknown" if warning.projected_met is None else ("met" if warning.projected_met else "miss")
    return Evaluation(
        progress.status,
        None,
        year,
        baseline,
        current,
        progress,
        sdg,
        "linear_trend",
        projected,
        outcome,
        target.binding,
    )


def _project(spec: TargetSpec, base: Decimal, latest: int, data: Data, children: Children) -> Projection:
    target, definition, region = spec.target, spec.definition, spec.region_code
    observed = range(max(spec.period_start, target.baseline_year + 1), latest + 1)
    if not definition.is_average:
        series = {target.baseline_year: base}
        for year in observed:
            result = compute_year(definition, region, year, data, children)
            if result.ok and result.value is not None:
                series[year] = result.value
        return project(
            series,
            target.target_year,
            "linear_trend",
            lower=definition.natural_min,
            upper=definition.natural_max,
        )
    # 年均: project what is summed, then pool over the plan years (a rate's numerator and denominator;
    # otherwise the yearly values over a denominator of one per year, i.e. their mean).
    numerators: dict[int, Decimal] = {}
    denominators: dict[int, Decimal] = {}
    history = range(min(target.baseline_rule.years[0], spec.period_start), latest + 1)
    pooled = definition.is_rate and definition.years == "pooled"
    for year in history:
        result = compute_year(definition, region, year, data, children)
        if not result.ok:
            continue
        if pooled and result.numerator is not None and result.denominator is not None:
            numerators[year], denominators[year] = result.numerator, result.denominator
        elif not pooled and result.value is not None:
            numerators[year], denominators[year] = result.value, ONE
    factor = definition.formula.factor if pooled else ONE
    window = range(spec.period_start, target.target_year + 1)
    return project_pooled(numerators, denominators, window, factor, "linear_trend")
