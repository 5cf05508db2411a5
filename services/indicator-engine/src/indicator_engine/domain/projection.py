"""Projection of an indicator to the target year, and the early warning for binding targets.

Methods (the result always names the one used):
- `linear_trend`: the ordinary least-squares line through every observed (year, value) point,
  evaluated at the target year: ŷ(T) = ȳ + b (T − x̄), b = Σ(x − x̄)(y − ȳ) / Σ(x − x̄)². Computed from
  exact sums with one final division, so it is exact whenever the quotient terminates. Needs two
  distinct years.
- `compound_growth`: the compound annual growth rate between the first and the last observed year,
  continued to the target year: ŷ(T) = y_last × (y_last / y_first) ^ ((T − t_last) / (t_last − t_first)).
  The same growth model as the Open SDG assessment. Needs two distinct years, y_first > 0, y_last ≥ 0.

A projection beyond a natural limit (a negative count by a falling line, a share above 100 %) is
clamped to it, and `clamped` says so.

年均 indicators (`project_pooled`): the numerator and denominator series are projected separately,
each missing year of the averaging window from the observed years before it; the 年均 value is then
Σ numerator × factor / Σ denominator over the whole window, as `compute` defines it.

Early warning (`early_warning`): a binding (约束性) target whose projected value at the target year does
not meet it (`targets.is_met`, strictness included) raises `warning`. No projection, no warning;
`projected_met` is then None so the caller can say that the trend could not be assessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .decimals import ZERO, check_finite, divide, mul, power, rounded, sub, total
from .targets import Target, is_met, target_value

Method = Literal["linear_trend", "compound_growth"]
Reason = Literal["too_few_years", "non_positive_start", "negative_end", "zero_denominator"]


@dataclass(frozen=True)
class Projection:
    method: Method
    target_year: int
    value: Decimal | None
    years_used: tuple[int, ...]
    clamped: bool = False
    reason: Reason | None = None  # why there is no value


def _checked(series: Mapping[int, Decimal], target_year: int) -> list[tuple[int, Decimal]]:
    points = sorted(series.items())
    for year, value in points:
        check_finite(value, f"series[{year}]")
    if points and points[-1][0] >= target_year:
        raise ValueError("the target year must come after the last observed year")
    return points


def _linear(points: list[tuple[int, Decimal]], target_year: int) -> Decimal:
    origin = points[0][0]
    xs = [Decimal(year - origin) for year, _ in points]
    ys = [value for _, value in points]
    n = Decimal(len(points))
    sx, sy = total(xs), total(ys)
    sxy = total(mul(x, y) for x, y in zip(xs, ys, strict=True))
    sxx = total(mul(x, x) for x in xs)
    slope_num = sub(mul(n, sxy), mul(sx, sy))
    slope_den = sub(mul(n, sxx), mul(sx, sx))
    # ŷ(T) = [Sy·D + N·(n·T − Sx)] / (n·D): one division for the whole projection.
    t = Decimal(target_year - origin)
    numerator = total([mul(sy, slope_den), mul(slope_num, sub(mul(n, t), sx))])
    return divide(numerator, mul(n, slope_den))


def _clamp(value: Decimal, lower: Decimal | None, upper: Decimal | None) -> tuple[Decimal, bool]:
    if lower is not None and value < lower:
        return lower, True
    if upper is not None and value > upper:
        return upper, True
    return value, False


def project(
    series: Mapping[int, Decimal],
    target_year: int,
    method: Method = "linear_trend",
    *,
    lower: Decimal | None = ZERO,
    upper: Decimal | None = None,
) -> Projection:
    """The value at `target_year` extrapolated from the observed `series` (year → value)."""
    points = _checked(series, target_year)
    years = tuple(year for year, _ in points)
    if len(points) < 2:
        return Projection(method, target_year, None, years, reason="too_few_years")
    if method == "linear_trend":
        raw = _linear(points, target_year)
    else:
        (first_year, first), (last_year, last) = points[0], points[-1]
        if first <= ZERO:
            return Projection(method, target_year, None, years, reason="non_positive_start")
        if last < ZERO:
            return Projection(method, target_year, None, years, reason="negative_end")
        growth = divide(last, first)
        exponent = divide(Decimal(target_year - last_year), Decimal(last_year - first_year))
        raw = rounded(mul(last, power(growth, exponent)))
    value, clamped = _clamp(raw, lower, upper)
    return Projection(method, target_year, value, years, clamped)


def project_pooled(
    numerators: Mapping[int, Decimal],
    denominators: Mapping[int, Decimal],
    window: Iterable[int],
    factor: Decimal,
    method: Method = "linear_trend",
) -> Projection:
    """A 年均 value over `window` with the years still missing projected element by element."""
    years = tuple(sorted(set(window)))
    if not years:
        raise ValueError("an empty averaging window")
    target_year = years[-1]
    num_values: list[Decimal] = []
    den_values: list[Decimal] = []
    for series, values in ((numerators, num_values), (denominators, den_values)):
        for year in years:
            if year in series:
                values.append(check_finite(series[year], f"series[{year}]"))
                continue
            past = {y: v for y, v in series.items() if y < year}
            projected = project(past, year, method)
            if projected.value is None:
                return Projection(method, target_year, None, tuple(sorted(past)), reason=projected.reason)
            values.append(projected.value)
    denominator = total(den_values)
    used = tuple(sorted({*numerators, *denominators}))
    if denominator.is_zero():
        return Projection(method, target_year, None, used, reason="zero_denominator")
    return Projection(method, target_year, divide(mul(total(num_values), factor), denominator), used)


@dataclass(frozen=True)
class EarlyWarning:
    projection: Projection
    target_value: Decimal
    projected_met: bool | None
    warning: bool


def early_warning(target: Target, baseline: Decimal, projection: Projection) -> EarlyWarning:
    """Whether the target is projected to be met in its target year; a warning for a binding miss."""
    if projection.target_year != target.target_year:
        raise ValueError("the projection is not for the target's year")
    limit = target_value(target, baseline)
    if projection.value is None:
        return EarlyWarning(projection, limit, None, False)
    met = is_met(target, baseline, projection.value)
    return EarlyWarning(projection, limit, met, target.binding and not met)
