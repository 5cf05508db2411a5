"""Time-proportional progress (序时进度) of a target and its status.

Notation: t0 = `target.baseline_year`, T = `target.target_year`, B = the baseline value (see
`compute.compute_baseline`), V = `targets.target_value` (for decrease_pct B × (1 − pct/100)), x = the
value in year y, g(·) = `targets.gap` (how far a value is from satisfying the target; ≤ 0 once there).

Due fraction:  f(y) = (y − t0) / (T − t0), held within [0, 1].

Required value for year y (the value the straight line from the baseline to the target reaches in y):
- the baseline does not satisfy the target yet (g(B) > 0): R(y) = B + (V − B) × f(y), for every type —
  decrease_pct from B down to B(1 − pct/100), max from B down to V, min from B up to V, equals from B
  to V;
- the baseline already satisfies it (g(B) ≤ 0): R(y) = V, the bound is to be held every year.

Progress ratio (achieved share of the way ÷ due share):  r = ((g(B) − g(x)) / g(B)) / f(y); r = 1 means x
is exactly on the line, r ≥ 1 at or ahead of it; r < 0 means x moved away from the target.

Status in year y — the first rule that applies:
1. `met`: x satisfies the target itself (`targets.is_met`, so strict ＜ / ＞ versus non-strict ≤ / ≥
   is decided exactly at the limit).
2. `seriously_lagging`: y ≥ T, the target year has come and the target is missed.
3. When g(B) > 0:
   - y ≤ t0 (nothing is due yet): `on_track` if x is no worse than B, else `lagging`;
   - r ≥ 1 (`Thresholds.on_track`): `on_track`;
   - 0.5 ≤ r < 1 (`Thresholds.lagging`, at least half the progress due): `lagging`;
   - r < 0.5, including any move away from the target: `seriously_lagging`.
4. When g(B) ≤ 0 (the baseline already satisfied the target, or sat exactly on a strict limit) and x
   does not: `lagging` if x is no worse than B (a strict limit not yet passed), otherwise
   `seriously_lagging` (it has regressed past the target).

The thresholds are compared exactly, by cross-multiplication, never through a rounded ratio;
`Progress.progress_ratio` is the ratio rounded per `decimals` for display.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from .decimals import ONE, ZERO, add, check_finite, divide, mul, sub
from .targets import Target, gap, is_met, target_value

Status = Literal["met", "on_track", "lagging", "seriously_lagging"]


@dataclass(frozen=True)
class Thresholds:
    on_track: Decimal = ONE
    lagging: Decimal = Decimal("0.5")

    def __post_init__(self) -> None:
        if not (ZERO <= self.lagging <= self.on_track):
            raise ValueError("thresholds must satisfy 0 ≤ lagging ≤ on_track")


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Progress:
    status: Status
    met: bool
    year: int
    value: Decimal
    baseline: Decimal
    target_value: Decimal
    required_value: Decimal
    due_fraction: Decimal
    progress_ratio: Decimal | None  # None when nothing is due yet or the baseline needed no progress


def _elapsed(target: Target, year: int) -> int:
    return min(max(year - target.baseline_year, 0), target.target_year - target.baseline_year)


def due_fraction(target: Target, year: int) -> Decimal:
    """f(y) = (y − t0) / (T − t0), within [0, 1]."""
    return divide(Decimal(_elapsed(target, year)), Decimal(target.target_year - target.baseline_year))


def required_value(target: Target, baseline: Decimal, year: int) -> Decimal:
    """R(y): the value year `year` should have reached by time-proportional progress."""
    check_finite(baseline, "baseline")
    limit = target_value(target, baseline)
    if gap(target, baseline, baseline) <= ZERO:
        return limit
    span = Decimal(target.target_year - target.baseline_year)
    return add(baseline, divide(mul(sub(limit, baseline), Decimal(_elapsed(target, year))), span))


def assess(
    target: Target,
    baseline: Decimal,
    year: int,
    value: Decimal,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Progress:
    """Status of `target` in `year` with `value` against the time-proportional line from `baseline`."""
    check_finite(value, "value")
    check_finite(baseline, "baseline")
    limit = target_value(target, baseline)
    met = is_met(target, baseline, value)
    gap_base = gap(target, baseline, baseline)
    gap_now = gap(target, baseline, value)
    elapsed = _elapsed(target, year)
    span = target.target_year - target.baseline_year
    # r = (gB − gx)·span / (gB·elapsed); the classification compares these two products exactly.
    achieved = mul(sub(gap_base, gap_now), Decimal(span))
    due = mul(gap_base, Decimal(elapsed))
    ratio = divide(achieved, due) if gap_base > ZERO and elapsed > 0 else None
    status: Status
    if met:
        status = "met"
    elif year >= target.target_year:
        status = "seriously_lagging"
    elif gap_base > ZERO:
        if elapsed == 0:
            status = "on_track" if gap_now <= gap_base else "lagging"
        elif achieved >= mul(thresholds.on_track, due):
            status = "on_track"
        elif achieved >= mul(thresholds.lagging, due):
            status = "lagging"
        else:
            status = "seriously_lagging"
    else:
        status = "lagging" if gap_now <= gap_base else "seriously_lagging"
    return Progress(
        status=status,
        met=met,
        year=year,
        value=value,
        baseline=baseline,
        target_value=limit,
        required_value=required_value(target, baseline, year),
        due_fraction=due_fraction(target, year),
        progress_ratio=ratio,
    )
