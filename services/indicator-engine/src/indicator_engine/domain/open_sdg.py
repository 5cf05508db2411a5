"""The Open SDG progress assessment (Statistics Canada's method, open-sdg `docs/progress-methodology.md`),
implemented from that document's description as a second opinion next to `progress`.

Growth. With y0 the value in the base year t0 and yi the value in the latest year ti:
    CAGR = (yi / y0) ^ (1 / (ti − t0)) − 1
d = +1 when progress means going up, −1 when it means going down.

With a quantitative target (`assess_with_target`); the base year and value are the target's baseline,
yT = `targets.target_value` in the target year T:
    CAGR_T = (yT / y0) ^ (1 / (T − t0)) − 1                 (growth needed to reach the target on time)
    R      = d × CAGR / |CAGR_T|                           (observed against the magnitude of the needed)
    target already met (`targets.is_met`, strictness included) → `target_achieved`, score 5
    R ≥ 0.95 → `on_track`; 0.6 ≤ R < 0.95 → `acceleration_needed` ("progress made but acceleration
    needed"); 0 ≤ R < 0.6 → `limited_progress`; R < 0 → `deterioration`.
    Score: −5 for R ≤ −0.6, rising linearly to 0 at R = 0.6, then linearly to +5 at R = 1.3, +5 above.
    d comes from the target type (max and decrease_pct: −1; min: +1; equals: toward the value).
    If CAGR_T is 0 (a strict limit equal to the baseline) R is taken at its limit: any move in the
    desired direction is `on_track` (score 5), none is `limited_progress` (R = 0, score −2.5), a move the
    other way is `deterioration` (score −5).

Without a target (`assess_without_target`), the directed growth d × CAGR itself is judged:
    ≥ 1.5 %·C → `on_track`; ≥ 0.5 %·C → `acceleration_needed`; ≥ 0 → `limited_progress`;
    < 0 → `deterioration`.
    Score: −5 at ≤ −2 %, linear to −2.5 at 0, to 0 at 0.5 %·C, to 2.5 at 1.5 %·C, to 5 at 2 %·C, 5 above.
    C scales the thresholds above 0 near a natural limit in the desired direction (a share cannot pass
    100 %); thresholds ≤ 0 are never scaled. The document gives C only as an image, with these
    properties: C ∈ [0, 1]; with C the `on_track` growth must be attainable for 15 years without passing
    the limit; C is near 1 far from the limit and 0 at it. C is derived here from the first property:
        maximum limit L (desired up, 0 < y0 < L):   C = min(1, ((L / y0) ^ (1/15) − 1) / 0.015)
        minimum limit L (desired down, y0 > L ≥ 0): C = min(1, (1 − (L / y0) ^ (1/15)) / 0.015)
        y0 at or past the limit: C = 0. With C = 0 and d × CAGR ≥ 0 the status is `on_track`, score 5.
    (An open question to confirm against the document's own formula.)

Data requirements (else `unable_to_assess`, with a reason): a latest year after the base year; all
values (y0, yi, yT and any `series` given) positive, or all negative, in which case d is flipped. A base
or target value of exactly 0 is replaced by 0.001 before the check, as the document prescribes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .catalogue import Direction
from .decimals import ONE, ZERO, add, check_finite, divide, mul, power, sub
from .targets import Target, is_met, sense, target_value

Category = Literal[
    "target_achieved",
    "on_track",
    "acceleration_needed",
    "limited_progress",
    "deterioration",
    "unable_to_assess",
]

ZERO_REPLACEMENT = Decimal("0.001")
R_ON_TRACK = Decimal("0.95")
R_MODERATE = Decimal("0.6")
R_SCORE_MIN = Decimal("-0.6")
R_SCORE_MAX = Decimal("1.3")
G_ON_TRACK = Decimal("0.015")
G_MODERATE = Decimal("0.005")
G_SCORE_MIN = Decimal("-0.02")
G_SCORE_MAX = Decimal("0.02")
LIMIT_HORIZON_YEARS = 15
FIVE = Decimal(5)
HALF_FIVE = Decimal("2.5")


@dataclass(frozen=True)
class Assessment:
    category: Category
    score: Decimal | None
    measure: Decimal | None = None  # R with a target, d × CAGR without
    observed_cagr: Decimal | None = None
    required_cagr: Decimal | None = None
    scaling: Decimal | None = None  # C, without a target
    reason: str | None = None  # why it could not be assessed


def _unable(reason: str) -> Assessment:
    return Assessment("unable_to_assess", None, reason=reason)


def cagr(base: Decimal, latest: Decimal, years: int) -> Decimal:
    """(latest / base) ^ (1 / years) − 1; base and latest of the same sign, years > 0."""
    if years <= 0:
        raise ValueError("CAGR needs a later year than the base year")
    ratio = divide(latest, base)
    grown = ratio if years == 1 else power(ratio, divide(ONE, Decimal(years)))
    return sub(grown, ONE)


def _signs(values: Iterable[Decimal]) -> int | None:
    """+1 if all positive, −1 if all negative, None otherwise (zeros or mixed signs)."""
    items = list(values)
    if all(v > ZERO for v in items):
        return 1
    if all(v < ZERO for v in items):
        return -1
    return None


def _interpolate(x: Decimal, x0: Decimal, x1: Decimal, s0: Decimal, s1: Decimal) -> Decimal:
    """Linear score between (x0, s0) and (x1, s1)."""
    return add(s0, divide(mul(sub(x, x0), sub(s1, s0)), sub(x1, x0)))


def score_with_target(ratio: Decimal) -> Decimal:
    if ratio <= R_SCORE_MIN:
        return -FIVE
    if ratio < R_MODERATE:
        return _interpolate(ratio, R_SCORE_MIN, R_MODERATE, -FIVE, ZERO)
    if ratio < R_SCORE_MAX:
        return _interpolate(ratio, R_MODERATE, R_SCORE_MAX, ZERO, FIVE)
    return FIVE


def score_without_target(growth: Decimal, scaling: Decimal = ONE) -> Decimal:
    if growth <= G_SCORE_MIN:
        return -FIVE
    if growth < ZERO:
        return _interpolate(growth, G_SCORE_MIN, ZERO, -FIVE, -HALF_FIVE)
    if scaling.is_zero():
        return FIVE
    moderate, on_track, top = mul(G_MODERATE, scaling), mul(G_ON_TRACK, scaling), mul(G_SCORE_MAX, scaling)
    if growth < moderate:
        return _interpolate(growth, ZERO, moderate, -HALF_FIVE, ZERO)
    if growth < on_track:
        return _interpolate(growth, moderate, on_track, ZERO, HALF_FIVE)
    if growth < top:
        return _interpolate(growth, on_track, top, HALF_FIVE, FIVE)
    return FIVE


def _category_with_target(ratio: Decimal) -> Category:
    if ratio >= R_ON_TRACK:
        return "on_track"
    if ratio >= R_MODERATE:
        return "acceleration_needed"
    if ratio >= ZERO:
        return "limited_progress"
    return "deterioration"


def _category_without_target(growth: Decimal, scaling: Decimal) -> Category:
    if scaling.is_zero() and growth >= ZERO:
        return "on_track"
    if growth >= mul(G_ON_TRACK, scaling):
        return "on_track"
    if growth >= mul(G_MODERATE, scaling):
        return "acceleration_needed"
    if growth >= ZERO:
        return "limited_progress"
    return "deterioration"


def _nonzero(value: Decimal) -> Decimal:
    return ZERO_REPLACEMENT if value.is_zero() else value


def assess_with_target(
    target: Target,
    baseline: Decimal,
    latest_year: int,
    latest_value: Decimal,
    *,
    series: Iterable[Decimal] = (),
) -> Assessment:
    """Progress towards `target` from its baseline (in `target.baseline_year`) to the latest value."""
    check_finite(baseline, "baseline")
    check_finite(latest_value, "latest_value")
    if is_met(target, baseline, latest_value):
        return Assessment("target_achieved", FIVE)
    years = latest_year - target.baseline_year
    if years <= 0:
        return _unable("no_data_after_base_year")
    base = _nonzero(baseline)
    goal = _nonzero(target_value(target, baseline))
    sign = _signs([base, latest_value, goal, *series])
    if sign is None:
        return _unable("values_not_all_positive_or_all_negative")
    direction = sense(target, baseline)
    if direction == 0:
        return _unable("no_direction")
    d = Decimal(direction * sign)
    observed = cagr(base, latest_value, years)
    required = cagr(base, goal, target.target_year - target.baseline_year)
    directed = mul(d, observed)
    if required.is_zero():
        if directed > ZERO:
            return Assessment("on_track", FIVE, None, observed, required)
        if directed.is_zero():
            return Assessment("limited_progress", -HALF_FIVE, ZERO, observed, required)
        return Assessment("deterioration", -FIVE, None, observed, required)
    ratio = divide(directed, required.copy_abs())
    return Assessment(_category_with_target(ratio), score_with_target(ratio), ratio, observed, required)


def scaling_factor(direction: Direction, base: Decimal, limit: Decimal | None) -> Decimal:
    """C for a natural limit in the desired direction (see the module docstring); 1 without one."""
    if limit is None or base <= ZERO:
        return ONE
    root = divide(ONE, Decimal(LIMIT_HORIZON_YEARS))
    if direction == "higher_is_better":
        if base >= limit:
            return ZERO
        headroom = sub(power(divide(limit, base), root), ONE)
    else:
        if base <= limit:
            return ZERO
        headroom = sub(ONE, power(divide(limit, base), root)) if limit > ZERO else ONE
    return min(ONE, divide(headroom, G_ON_TRACK))


def assess_without_target(
    direction: Direction,
    base_year: int,
    base_value: Decimal,
    latest_year: int,
    latest_value: Decimal,
    *,
    natural_min: Decimal | None = None,
    natural_max: Decimal | None = None,
    series: Iterable[Decimal] = (),
) -> Assessment:
    """Progress of an indicator without a quantitative target, from its own growth rate."""
    check_finite(base_value, "base_value")
    check_finite(latest_value, "latest_value")
    years = latest_year - base_year
    if years <= 0:
        return _unable("no_data_after_base_year")
    base = _nonzero(base_value)
    sign = _signs([base, latest_value, *series])
    if sign is None:
        return _unable("values_not_all_positive_or_all_negative")
    d = Decimal((1 if direction == "higher_is_better" else -1) * sign)
    observed = cagr(base, latest_value, years)
    growth = mul(d, observed)
    limit = natural_max if direction == "higher_is_better" else natural_min
    scaling = scaling_factor(direction, base, limit) if sign > 0 else ONE
    return Assessment(
        _category_without_target(growth, scaling),
        score_without_target(growth, scaling),
        growth,
        observed,
        None,
        scaling,
    )
