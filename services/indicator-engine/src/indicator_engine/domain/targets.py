"""A plan's quantified target as the computations see it, and what "met" means for each type.

Target types (as plan-registry reads them from 下降15% / ＜0.03 / 达到90% / 保持…):
- `decrease_pct`: fall by `value` percent from the baseline; the target value is
  baseline × (1 − value / 100), and it is met when the value is at or below it (below it when strict).
- `max`: at most `value` (strict: below it, as in ＜0.03 / 低于 / 小于).
- `min`: at least `value` (strict: above it, as in 超过60%).
- `equals`: exactly `value` (compared as decimals, so 100 equals 100.0).

Comparisons are on unrounded decimals: a strict bound is missed by a value exactly at the limit, a
non-strict one is met by it.

The baseline rule names the year(s) the baseline value comes from: one year, or several whose mean is
taken (a plan may use 2019, or the 2016–2019 average to step around the 2020 epidemic dip).
`baseline_year` is the year the time-proportional path starts from; it may differ from the rule's years
(the 2016–2019 average standing in for the 2020 starting point of a 2021–2025 plan).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Literal

from .decimals import EXACT, ZERO, check_finite, mul, sub

TargetType = Literal["decrease_pct", "max", "min", "equals"]
Nature = Literal["binding", "expected"]
Sense = Literal[-1, 0, 1]

_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class BaselineRule:
    years: tuple[int, ...]

    def __post_init__(self) -> None:
        if not self.years:
            raise ValueError("a baseline rule needs at least one year")
        if any(later <= earlier for earlier, later in pairwise(self.years)):
            raise ValueError("baseline years must be distinct and in increasing order")

    @classmethod
    def single(cls, year: int) -> BaselineRule:
        return cls((year,))

    @classmethod
    def mean_of(cls, first: int, last: int) -> BaselineRule:
        """The mean of every year from `first` to `last`, both included."""
        if last < first:
            raise ValueError("last year before first year")
        return cls(tuple(range(first, last + 1)))

    @property
    def is_mean(self) -> bool:
        return len(self.years) > 1


@dataclass(frozen=True)
class Target:
    type: TargetType
    value: Decimal
    strict: bool
    baseline_rule: BaselineRule
    baseline_year: int
    target_year: int
    nature: Nature = "expected"

    def __post_init__(self) -> None:
        check_finite(self.value, "target.value")
        if self.type == "decrease_pct" and not (ZERO < self.value <= _HUNDRED):
            raise ValueError("a decrease_pct target is a percentage in (0, 100]")
        if self.target_year <= self.baseline_year:
            raise ValueError("the target year must come after the baseline year")
        if self.baseline_rule.years[-1] > self.baseline_year:
            raise ValueError("the baseline cannot come from years after the baseline year")

    @property
    def binding(self) -> bool:
        return self.nature == "binding"


def target_value(target: Target, baseline: Decimal) -> Decimal:
    """The value the target asks for by the target year (decrease_pct: baseline × (1 − pct/100))."""
    check_finite(baseline, "baseline")
    if target.type == "decrease_pct":
        return mul(baseline, sub(_HUNDRED, target.value)).scaleb(-2, context=EXACT)
    return target.value


def is_met(target: Target, baseline: Decimal, value: Decimal) -> bool:
    """Whether `value` satisfies the target itself (strict ＜/＞ versus non-strict ≤/≥ at the limit)."""
    check_finite(value, "value")
    limit = target_value(target, baseline)
    if target.type in ("decrease_pct", "max"):
        return value < limit if target.strict else value <= limit
    if target.type == "min":
        return value > limit if target.strict else value >= limit
    return value == limit


def sense(target: Target, baseline: Decimal) -> Sense:
    """Direction of desired change: −1 down (max, decrease_pct), +1 up (min), toward the value (equals)."""
    if target.type in ("decrease_pct", "max"):
        return -1
    if target.type == "min":
        return 1
    limit = target_value(target, baseline)
    return 0 if baseline == limit else (1 if limit > baseline else -1)


def gap(target: Target, baseline: Decimal, value: Decimal) -> Decimal:
    """How far `value` is from the target value on the wrong side (≤ 0: at or past it; equals: |x − V|)."""
    limit = target_value(target, baseline)
    if target.type in ("decrease_pct", "max"):
        return sub(value, limit)
    if target.type == "min":
        return sub(limit, value)
    return sub(value, limit).copy_abs()
