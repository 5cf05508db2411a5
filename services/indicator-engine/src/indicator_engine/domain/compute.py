"""An indicator's value for a region from the data values of that region and every region below it.

Inputs
- `data`: (region_code, element_code, year) → Decimal in the element's canonical unit. A value absent
  from the mapping is missing; a NaN or infinite value raises `InvalidNumberError` (the input layer must
  never have let it in).
- `children`: region_code → its direct subordinate regions (GB/T 2260 province → city → county …).

Element totals (`RollupMode`)
- `reported_first` (default): a figure a region reports for itself is its total (a statistics bureau's
  published city GDP may differ from the sum of its counties); a region without its own figure takes
  the sum of its children's totals, recursively; a region with neither its own figure nor children is
  missing.
- `children_only`: a region with children always takes the sum of its children (a pure roll-up, e.g.
  to check a reported total); only regions without children use their own figures.

Results (`Result`)
- `ok`: `value` is set; for rates also the summed `numerator` and `denominator`.
- `incomplete`: some figure needed is missing; `missing` lists every (region, element, year) that is,
  at the lowest level where it is missing, so nothing is ever computed from partial data.
- `undefined`: all figures are present but the value does not exist: the denominator (or the weight
  of a weighted mean) sums to zero. `undefined_reason` says which. This is a result, not an exception.

Rates are recomputed from summed numerators and denominators (`ratio_of_sums`), never averaged; see
`catalogue` for the region and year aggregations of each definition and for the definition of 年均.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from .catalogue import Definition
from .decimals import ZERO, check_finite, divide, mean, mul, total
from .targets import BaselineRule

DataKey = tuple[str, str, int]
Data = Mapping[DataKey, Decimal]
Children = Mapping[str, Sequence[str]]
RollupMode = Literal["reported_first", "children_only"]
ComputeStatus = Literal["ok", "incomplete", "undefined"]
UndefinedReason = Literal["zero_denominator", "zero_weight"]


@dataclass(frozen=True)
class Missing:
    region_code: str
    element_code: str
    year: int

    def sort_key(self) -> tuple[str, str, int]:
        return (self.region_code, self.element_code, self.year)


@dataclass(frozen=True)
class Result:
    status: ComputeStatus
    years: tuple[int, ...]
    value: Decimal | None = None
    numerator: Decimal | None = None
    denominator: Decimal | None = None
    missing: tuple[Missing, ...] = ()
    undefined_reason: UndefinedReason | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def missing_regions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.region_code for m in self.missing))

    @property
    def missing_elements(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.element_code for m in self.missing))


def _incomplete(years: tuple[int, ...], missing: Iterable[Missing]) -> Result:
    unique = sorted(set(missing), key=Missing.sort_key)
    return Result("incomplete", years, missing=tuple(unique))


@dataclass
class _Partial:
    """A node's outcome inside the recursion: a value, or what is missing."""

    value: Decimal | None
    missing: list[Missing] = field(default_factory=list)


class _Evaluator:
    def __init__(self, data: Data, children: Children, mode: RollupMode) -> None:
        self._data = data
        self._children = children
        self._mode = mode
        self._totals: dict[DataKey, _Partial] = {}
        self._visiting: set[str] = set()

    def own(self, region: str, element: str, year: int) -> Decimal | None:
        value = self._data.get((region, element, year))
        if value is None:
            return None
        if value.__class__ is Decimal and value.is_finite():
            return value  # the common case, without building check_finite's message
        return check_finite(value, f"{region}/{element}/{year}")

    def _kids(self, region: str) -> Sequence[str]:
        return self._children.get(region, ())

    def _descend(self, region: str) -> None:
        if region in self._visiting:
            raise ValueError(f"the region tree has a cycle through {region}")
        self._visiting.add(region)

    def total(self, region: str, element: str, year: int) -> _Partial:
        """An additive element's total for the region (own figure or sum of the children)."""
        key = (region, element, year)
        cached = self._totals.get(key)
        if cached is not None:
            return cached
        own = self.own(region, element, year)
        kids = self._kids(region)
        if own is not None and (self._mode == "reported_first" or not kids):
            result = _Partial(own)
        elif not kids:
            result = _Partial(None, [Missing(region, element, year)])
        else:
            self._descend(region)
            parts = [self.total(kid, element, year) for kid in kids]
            self._visiting.discard(region)
            missing = [m for part in parts for m in part.missing]
            result = (
                _Partial(None, missing)
                if missing
                else _Partial(total(part.value for part in parts if part.value is not None))
            )
        self._totals[key] = result
        return result

    def extreme(self, region: str, element: str, year: int, kind: Literal["max", "min"]) -> _Partial:
        own = self.own(region, element, year)
        kids = self._kids(region)
        if own is not None and (self._mode == "reported_first" or not kids):
            return _Partial(own)
        if not kids:
            return _Partial(None, [Missing(region, element, year)])
        self._descend(region)
        parts = [self.extreme(kid, element, year, kind) for kid in kids]
        self._visiting.discard(region)
        missing = [m for part in parts for m in part.missing]
        if missing:
            return _Partial(None, missing)
        values = [part.value for part in parts if part.value is not None]
        return _Partial(max(values) if kind == "max" else min(values))

    def weighted(
        self, region: str, element: str, weight: str, year: int
    ) -> tuple[Decimal, Decimal, list[Missing]]:
        """(Σ value × weight, Σ weight, missing) over the regions that report the value."""
        own = self.own(region, element, year)
        kids = self._kids(region)
        if own is not None and (self._mode == "reported_first" or not kids):
            w = self.total(region, weight, year)
            if w.value is None:
                return ZERO, ZERO, w.missing
            return mul(own, w.value), w.value, []
        if not kids:
            return ZERO, ZERO, [Missing(region, element, year)]
        self._descend(region)
        parts = [self.weighted(kid, element, weight, year) for kid in kids]
        self._visiting.discard(region)
        missing = [m for part in parts for m in part[2]]
        return total(p[0] for p in parts), total(p[1] for p in parts), missing


def _reported_year(ev: _Evaluator, definition: Definition, region: str, year: int) -> Result:
    element = definition.formula.numerator
    kind = definition.regions.kind
    years = (year,)
    if kind == "not_aggregatable":
        own = ev.own(region, element, year)
        return (
            Result("ok", years, own)
            if own is not None
            else _incomplete(years, [Missing(region, element, year)])
        )
    if kind in ("max", "min"):
        part = ev.extreme(region, element, year, "max" if kind == "max" else "min")
        return Result("ok", years, part.value) if not part.missing else _incomplete(years, part.missing)
    weight = definition.regions.weight
    assert weight is not None  # the catalogue guarantees a weight for weighted_mean
    weighted_sum, weight_sum, missing = ev.weighted(region, element, weight, year)
    if missing:
        return _incomplete(years, missing)
    if weight_sum.is_zero():
        return Result("undefined", years, undefined_reason="zero_weight")
    return Result("ok", years, divide(weighted_sum, weight_sum), weighted_sum, weight_sum)


def _single_year(ev: _Evaluator, definition: Definition, region: str, years: tuple[int, ...]) -> Result:
    """`_pooled` for one year, without the lists: the case a full recomputation runs ~10⁵ times."""
    formula = definition.formula
    num = ev.total(region, formula.numerator, years[0])
    if formula.denominator is None:
        if num.value is None:
            return _incomplete(years, num.missing)
        return Result("ok", years, num.value, num.value)
    den = ev.total(region, formula.denominator, years[0])
    if num.value is None or den.value is None:
        return _incomplete(years, [*num.missing, *den.missing])
    if den.value.is_zero():
        return Result(
            "undefined",
            years,
            numerator=num.value,
            denominator=den.value,
            undefined_reason="zero_denominator",
        )
    scaled = num.value if formula.factor == 1 else mul(num.value, formula.factor)
    return Result("ok", years, divide(scaled, den.value), num.value, den.value)


def _pooled(ev: _Evaluator, definition: Definition, region: str, years: tuple[int, ...]) -> Result:
    """Σ numerator × factor / Σ denominator over `years` (one year: that year's value)."""
    if len(years) == 1:
        return _single_year(ev, definition, region, years)
    formula = definition.formula
    missing: list[Missing] = []
    numerators: list[Decimal] = []
    denominators: list[Decimal] = []
    for year in years:
        num = ev.total(region, formula.numerator, year)
        missing.extend(num.missing)
        if num.value is not None:
            numerators.append(num.value)
        if formula.denominator is not None:
            den = ev.total(region, formula.denominator, year)
            missing.extend(den.missing)
            if den.value is not None:
                denominators.append(den.value)
    if missing:
        return _incomplete(years, missing)
    numerator = total(numerators)
    if formula.denominator is None:
        value = numerator if len(years) == 1 else divide(numerator, Decimal(len(years)))
        return Result("ok", years, value, numerator)
    denominator = total(denominators)
    if denominator.is_zero():
        return Result(
            "undefined",
            years,
            numerator=numerator,
            denominator=denominator,
            undefined_reason="zero_denominator",
        )
    return Result("ok", years, divide(mul(numerator, formula.factor), denominator), numerator, denominator)


def _year(ev: _Evaluator, definition: Definition, region: str, year: int) -> Result:
    if definition.formula.denominator is None and definition.regions.kind != "sum":
        return _reported_year(ev, definition, region, year)
    return _pooled(ev, definition, region, (year,))


def _mean_of_years(ev: _Evaluator, definition: Definition, region: str, years: tuple[int, ...]) -> Result:
    results = [_year(ev, definition, region, year) for year in years]
    missing = [m for r in results for m in r.missing]
    if missing:
        return _incomplete(years, missing)
    for result in results:
        if result.status == "undefined":
            return Result("undefined", years, undefined_reason=result.undefined_reason)
    return Result("ok", years, mean(r.value for r in results if r.value is not None))


def _span(years: Iterable[int]) -> tuple[int, ...]:
    span = tuple(sorted(set(years)))
    if not span:
        raise ValueError("no years to compute over")
    return span


def _period(ev: _Evaluator, definition: Definition, region: str, span: tuple[int, ...]) -> Result:
    if len(span) == 1:
        return _year(ev, definition, region, span[0])
    if definition.years == "pooled":
        return _pooled(ev, definition, region, span)
    return _mean_of_years(ev, definition, region, span)


def compute_period(
    definition: Definition,
    region: str,
    years: Iterable[int],
    data: Data,
    children: Children,
    *,
    mode: RollupMode = "reported_first",
) -> Result:
    """The indicator over `years` for `region`: one year's value, or the definition's average over several.

    `pooled` definitions (年均): Σ numerator × factor / Σ denominator. `annual` and `mean_of_years`
    definitions: the arithmetic mean of the yearly values (undefined if any year is undefined).
    """
    return _period(_Evaluator(data, children, mode), definition, region, _span(years))


def compute_many(
    definition: Definition,
    regions: Iterable[str],
    years: Iterable[int],
    data: Data,
    children: Children,
    *,
    mode: RollupMode = "reported_first",
) -> dict[str, Result]:
    """`compute_period` for many regions at once, each element total computed once for all of them
    (a whole roll-up costs one pass over the tree instead of one per region)."""
    span = _span(years)
    ev = _Evaluator(data, children, mode)
    return {region: _period(ev, definition, region, span) for region in regions}


def compute_grid(
    definitions: Iterable[Definition],
    regions: Iterable[str],
    years: Iterable[int],
    data: Data,
    children: Children,
    *,
    mode: RollupMode = "reported_first",
) -> dict[tuple[str, int], dict[str, Result]]:
    """Each definition's single-year value for every region and year, (code, year) → region → Result,
    with one evaluator for all of them: an element total (population, GDP …) is computed once however
    many definitions read it (a full recomputation of the country costs one pass per element and year)."""
    ev = _Evaluator(data, children, mode)
    wanted = list(regions)
    return {
        (definition.code, year): {region: _period(ev, definition, region, (year,)) for region in wanted}
        for definition in definitions
        for year in _span(years)
    }


def compute_year(
    definition: Definition,
    region: str,
    year: int,
    data: Data,
    children: Children,
    *,
    mode: RollupMode = "reported_first",
) -> Result:
    """The indicator's value for one year alone (for a 年均 indicator: that single year's rate)."""
    return compute_period(definition, region, (year,), data, children, mode=mode)


def compute_current(
    definition: Definition,
    region: str,
    year: int,
    plan_start: int,
    data: Data,
    children: Children,
    *,
    mode: RollupMode = "reported_first",
) -> Result:
    """The current value (当年值) in `year`: that year for annual indicators, plan_start..year for 年均."""
    if year < plan_start:
        raise ValueError("the year comes before the plan starts")
    years = range(plan_start, year + 1) if definition.is_average else (year,)
    return compute_period(definition, region, years, data, children, mode=mode)


def compute_baseline(
    definition: Definition,
    region: str,
    rule: BaselineRule,
    data: Data,
    children: Children,
    *,
    mode: RollupMode = "reported_first",
) -> Result:
    """The baseline (基期值) by the rule: one year's value, or the average over the rule's years."""
    return compute_period(definition, region, rule.years, data, children, mode=mode)
