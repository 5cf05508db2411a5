"""Indicator definitions and the data elements they are computed from, as project data.

A *data element* is one statistic reported per region and year (deaths in production-safety accidents,
GDP, resident population, …) in one canonical unit; `DataElement.to_canonical` converts the other units
it is commonly reported in (万人 → 人, 百万吨 → 万吨, …) exactly.

An *indicator definition* is a formula over elements: `numerator × factor / denominator`, or a single
element. How it aggregates:

- across regions (`RegionAggregation`):
  - `sum`: counts and amounts add up (deaths, accidents);
  - `ratio_of_sums`: a rate is recomputed from the summed numerator and the summed denominator of the
    regions below, never averaged from their rates;
  - directly reported figures (shares and times a bureau reports as such) cannot be rebuilt from
    parts, so each names its rule: `not_aggregatable` (a region's figure is only the one it reports
    itself), `weighted_mean` by a named additive element (信息发布公众覆盖率 weighted by resident
    population: the covered share of all residents), or `max` / `min` (受灾人员得到有效救助时间: the
    slowest region decides whether "within 10 hours" holds everywhere).
- across years (`PeriodAggregation`):
  - `annual`: the value of one year. Over several years (a baseline such as the 2016–2019 mean) an
    annual indicator's value is the arithmetic mean of its yearly values, the plain reading of 平均值;
  - `pooled` — the definition of 年均 used throughout: over years Y1..Yn,
    年均 = (Σ numerator) × factor / (Σ denominator), i.e. events per person-year (or per 亿元 of
    cumulative GDP), the standard epidemiological average annual rate. Years with a large population or
    GDP weigh more, and a single year with a zero denominator does not make the average undefined.
    For a single-element 年均 it is the mean of the yearly totals (Σ / n).
  - `mean_of_years`: the arithmetic mean of the yearly values, available for a bureau that defines its
    average that way; no built-in definition uses it.

`match_definition(name)` finds a definition by its name or an alias after `normalize_name` (NFKC, so
full-width letters, digits and brackets become half-width; case folded; all whitespace removed). An
unknown name, or one that two definitions claim, gives None: a target is never bound by guesswork.
Aliases are only true synonyms: "每百万人口因自然灾害死亡率" without 年均 is *not* an alias of the 年均
indicator, because it names a different period.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import MappingProxyType
from typing import Literal

from .decimals import ONE, ZERO, check_finite, mul

ElementKind = Literal["count", "amount", "reported"]
Direction = Literal["lower_is_better", "higher_is_better"]
RegionAggregationKind = Literal["sum", "ratio_of_sums", "not_aggregatable", "weighted_mean", "max", "min"]
PeriodAggregation = Literal["annual", "pooled", "mean_of_years"]

ADDITIVE_KINDS: frozenset[ElementKind] = frozenset({"count", "amount"})
REPORTED_AGGREGATIONS: frozenset[RegionAggregationKind] = frozenset(
    {"not_aggregatable", "weighted_mean", "max", "min"}
)


class CatalogueError(ValueError):
    """A definition or element that contradicts the rules above (unknown element, wrong aggregation…)."""


@dataclass(frozen=True)
class DataElement:
    code: str
    name: str
    unit: str
    kind: ElementKind
    description: str
    # Units the element is also reported in, with the exact multiplier to the canonical unit.
    input_units: tuple[tuple[str, Decimal], ...] = ()

    @property
    def additive(self) -> bool:
        return self.kind in ADDITIVE_KINDS

    def to_canonical(self, value: Decimal, unit: str | None = None) -> Decimal:
        """`value` written in `unit` (None: the canonical unit) → the canonical unit, exactly."""
        check_finite(value, self.code)
        if unit is None or unit == self.unit:
            return value
        for written, multiplier in self.input_units:
            if written == unit:
                return mul(value, multiplier)
        raise CatalogueError(f"{self.code}: unit {unit!r} is not one of {self.accepted_units()}")

    def accepted_units(self) -> tuple[str, ...]:
        return (self.unit, *(written for written, _ in self.input_units if written != self.unit))

    def problems(self, value: Decimal) -> tuple[str, ...]:
        """Reasons a value (canonical unit) cannot be a figure of this element: `negative`, `not_integral`."""
        check_finite(value, self.code)
        found: list[str] = []
        if value < ZERO:
            found.append("negative")
        if self.kind == "count" and value != value.to_integral_value():
            found.append("not_integral")
        return tuple(found)


@dataclass(frozen=True)
class Formula:
    """numerator × factor / denominator, or the numerator element alone when denominator is None."""

    numerator: str
    denominator: str | None = None
    factor: Decimal = ONE

    @property
    def elements(self) -> tuple[str, ...]:
        return (self.numerator,) if self.denominator is None else (self.numerator, self.denominator)


@dataclass(frozen=True)
class RegionAggregation:
    kind: RegionAggregationKind
    weight: str | None = None  # the additive element weighting a `weighted_mean`


SUM = RegionAggregation("sum")
RATIO_OF_SUMS = RegionAggregation("ratio_of_sums")
NOT_AGGREGATABLE = RegionAggregation("not_aggregatable")


@dataclass(frozen=True)
class Definition:
    code: str
    name: str
    aliases: tuple[str, ...]
    formula: Formula
    unit: str
    direction: Direction
    regions: RegionAggregation
    years: PeriodAggregation
    places: int  # decimal places the value is published with (display only, see decimals.present)
    description: str
    natural_min: Decimal | None = ZERO
    natural_max: Decimal | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def is_rate(self) -> bool:
        return self.formula.denominator is not None

    @property
    def is_average(self) -> bool:
        """年均 indicators: the current value covers the plan years so far, not the latest year alone."""
        return self.years != "annual"


_INVISIBLE = re.compile(r"[\s\u200b\u200c\u200d\u2060\ufeff]+")


def normalize_name(name: str) -> str:
    """Matching form of an indicator name: NFKC (full-width → half-width), case folded, no whitespace."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", name)).casefold()


@dataclass(frozen=True)
class Catalogue:
    """Elements and definitions, checked against each other; the name index for matching."""

    elements: Mapping[str, DataElement]
    definitions: Mapping[str, Definition]
    _index: Mapping[str, tuple[str, ...]] = field(repr=False, compare=False)

    @classmethod
    def build(cls, elements: Iterable[DataElement], definitions: Iterable[Definition]) -> Catalogue:
        element_map: dict[str, DataElement] = {}
        for element in elements:
            if element.code in element_map:
                raise CatalogueError(f"element {element.code} defined twice")
            element_map[element.code] = element
        definition_map: dict[str, Definition] = {}
        index: dict[str, list[str]] = {}
        for definition in definitions:
            if definition.code in definition_map:
                raise CatalogueError(f"definition {definition.code} defined twice")
            _check_definition(definition, element_map)
            definition_map[definition.code] = definition
            for name in dict.fromkeys(normalize_name(n) for n in definition.names):
                index.setdefault(name, []).append(definition.code)
        return cls(
            MappingProxyType(element_map),
            MappingProxyType(definition_map),
            MappingProxyType({name: tuple(codes) for name, codes in index.items()}),
        )

    def with_additions(
        self, definitions: Iterable[Definition] = (), elements: Iterable[DataElement] = ()
    ) -> Catalogue:
        """A new catalogue with more definitions and elements (as added through the API)."""
        return Catalogue.build(
            [*self.elements.values(), *elements], [*self.definitions.values(), *definitions]
        )

    def element(self, code: str) -> DataElement:
        return self.elements[code]

    def definition(self, code: str) -> Definition:
        return self.definitions[code]

    def candidates(self, name: str) -> tuple[Definition, ...]:
        """Every definition whose name or alias matches `name` after normalisation."""
        return tuple(self.definitions[code] for code in self._index.get(normalize_name(name), ()))

    def match(self, name: str) -> Definition | None:
        """The one definition `name` denotes; None when unknown or claimed by several definitions."""
        found = self.candidates(name)
        return found[0] if len(found) == 1 else None

    def ambiguous_names(self) -> dict[str, tuple[str, ...]]:
        """Normalised names claimed by more than one definition (to reject such an addition)."""
        return {name: codes for name, codes in self._index.items() if len(codes) > 1}


def _check_definition(definition: Definition, elements: Mapping[str, DataElement]) -> None:
    code = definition.code
    formula = definition.formula
    for element_code in formula.elements:
        if element_code not in elements:
            raise CatalogueError(f"{code}: unknown data element {element_code}")
    check_finite(formula.factor, f"{code}.factor")
    if formula.factor <= ZERO:
        raise CatalogueError(f"{code}: the factor must be positive")
    if definition.places < 0:
        raise CatalogueError(f"{code}: places must not be negative")
    numerator = elements[formula.numerator]
    kind = definition.regions.kind
    if formula.denominator is not None:
        if not (numerator.additive and elements[formula.denominator].additive):
            raise CatalogueError(f"{code}: a rate needs additive numerator and denominator")
        if kind != "ratio_of_sums":
            raise CatalogueError(f"{code}: a rate aggregates as ratio_of_sums, never by averaging")
    elif numerator.additive:
        if kind != "sum":
            raise CatalogueError(f"{code}: a single count or amount aggregates as sum")
        if formula.factor != ONE:
            raise CatalogueError(f"{code}: a single element takes no factor")
    else:
        if kind not in REPORTED_AGGREGATIONS:
            raise CatalogueError(
                f"{code}: a reported figure aggregates as one of {sorted(REPORTED_AGGREGATIONS)}"
            )
        if definition.years != "annual":
            raise CatalogueError(f"{code}: a reported figure has no multi-year average")
        if formula.factor != ONE:
            raise CatalogueError(f"{code}: a single element takes no factor")
    weight = definition.regions.weight
    if kind == "weighted_mean":
        if weight is None or weight not in elements or not elements[weight].additive:
            raise CatalogueError(f"{code}: weighted_mean needs an additive weight element")
    elif weight is not None:
        raise CatalogueError(f"{code}: only weighted_mean takes a weight")
    if definition.years == "pooled" and not numerator.additive:
        raise CatalogueError(f"{code}: a pooled average needs additive elements")


# --- built-in data elements ------------------------------------------------------------------------

_PERSONS = (("人", ONE), ("万人", Decimal(10000)))
_YUAN_100M = (("亿元", ONE), ("万元", Decimal("0.0001")))


def _count(code: str, name: str, unit: str, description: str, *units: tuple[str, Decimal]) -> DataElement:
    return DataElement(code, name, unit, "count", description, tuple(units))


def _amount(code: str, name: str, unit: str, description: str, *units: tuple[str, Decimal]) -> DataElement:
    return DataElement(code, name, unit, "amount", description, tuple(units))


def _reported(code: str, name: str, unit: str, description: str) -> DataElement:
    return DataElement(code, name, unit, "reported", description)


BUILTIN_ELEMENTS: tuple[DataElement, ...] = (
    _count("ps_accidents", "生产安全事故起数", "起", "本行政区域内当年发生的生产安全事故起数。"),
    _count("ps_deaths", "生产安全事故死亡人数", "人", "本行政区域内当年生产安全事故造成的死亡人数。"),
    _count(
        "ps_major_accidents",
        "较大及以上生产安全事故起数",
        "起",
        "当年发生的较大、重大和特别重大生产安全事故起数。",
    ),
    _count(
        "ps_severe_accidents", "重特大生产安全事故起数", "起", "当年发生的重大和特别重大生产安全事故起数。"
    ),
    _amount("gdp", "地区生产总值", "亿元", "当年地区生产总值，现价，单位亿元。", *_YUAN_100M),
    _count(
        "imt_deaths",
        "工矿商贸生产安全事故死亡人数",
        "人",
        "工矿商贸企业（不含道路交通、火灾等）生产安全事故死亡人数。",
    ),
    _count(
        "imt_employees",
        "工矿商贸就业人员数",
        "人",
        "工矿商贸行业就业人员数，单位人（以万人报送的按1万人=10000人换算）。",
        *_PERSONS,
    ),
    _count("coal_mine_deaths", "煤矿生产安全事故死亡人数", "人", "煤矿生产安全事故死亡人数。"),
    _amount(
        "raw_coal_output",
        "原煤产量",
        "万吨",
        "当年原煤产量，单位万吨；1百万吨=100万吨，1亿吨=10000万吨。",
        ("万吨", ONE),
        ("百万吨", Decimal(100)),
        ("亿吨", Decimal(10000)),
        ("吨", Decimal("0.0001")),
    ),
    _count("road_traffic_deaths", "道路交通事故死亡人数", "人", "道路交通事故死亡人数。"),
    _amount(
        "motor_vehicles",
        "机动车保有量",
        "万辆",
        "年末机动车保有量，单位万辆。",
        ("万辆", ONE),
        ("辆", Decimal("0.0001")),
    ),
    _count(
        "resident_population",
        "常住人口",
        "人",
        "年末常住人口，单位人（以万人报送的按1万人=10000人换算）。",
        *_PERSONS,
    ),
    _count("fire_deaths", "火灾死亡人数", "人", "当年火灾造成的死亡人数。"),
    _count("nd_deaths", "因自然灾害死亡人数", "人", "当年因自然灾害死亡的人数（不含失踪）。"),
    _count(
        "nd_affected",
        "自然灾害受灾人次",
        "人次",
        "当年自然灾害受灾人次。",
        ("人次", ONE),
        ("万人次", Decimal(10000)),
    ),
    _amount(
        "nd_direct_loss",
        "自然灾害直接经济损失",
        "亿元",
        "当年自然灾害造成的直接经济损失，单位亿元。",
        *_YUAN_100M,
    ),
    _count("fulltime_firefighters", "专职消防人员数", "人", "政府专职和企业专职消防人员数。"),
    _count("em_staff", "县级以上应急管理部门工作人员数", "人", "县级以上应急管理部门工作人员总数。"),
    _count(
        "em_professional_staff",
        "县级以上应急管理部门专业人才数",
        "人",
        "县级以上应急管理部门中具有相关专业背景的人员数。",
    ),
    _reported(
        "em_equipment_rate",
        "县级以上应急管理部门装备达标率",
        "%",
        "按装备配备标准评定的达标比例，由本级直接报送。",
    ),
    _reported(
        "disaster_info_coverage",
        "灾害事故信息发布公众覆盖率",
        "%",
        "灾害事故信息发布覆盖的公众比例，由本级直接报送。",
    ),
    _reported(
        "warning_info_coverage", "灾害预警信息公众覆盖率", "%", "灾害预警信息覆盖的公众比例，由本级直接报送。"
    ),
    _reported(
        "relief_time",
        "受灾人员得到有效救助时间",
        "小时",
        "灾害事故发生后受灾人员基本生活得到有效救助的时间（当年最长），由本级直接报送。",
    ),
    _reported(
        "new_worker_training_rate",
        "新增从业人员安全技能培训率",
        "%",
        "重点行业规模以上企业新增从业人员安全技能培训比例，由本级直接报送。",
    ),
    _reported(
        "rescue_team_protective_equipment_rate",
        "专业应急救援队伍防护装备配备率",
        "%",
        "专业应急救援队伍防护装备配备比例，由本级直接报送。",
    ),
    _reported(
        "county_rescue_team_rate",
        "县(市、区)综合救援力量建队率",
        "%",
        "已建立综合救援力量的县(市、区)比例，由本级直接报送。",
    ),
    _reported(
        "grassroots_rescue_coverage",
        "功能区和乡镇(街道)专(兼)职救援力量覆盖率",
        "%",
        "各类功能区和乡镇(街道)专(兼)职救援力量覆盖比例，由本级直接报送。",
    ),
)


# --- built-in definitions --------------------------------------------------------------------------


def _share_aliases(stem: str, whole: str) -> tuple[str, ...]:
    # 专职消防人员占全市总人口的比例: the plans name their own level (全市/全县/…) and may add 的.
    return tuple(
        f"{stem}占{level}{whole}{de}比例"
        for level in ("", "全市", "全县", "全区", "全省")
        for de in ("", "的")
        if (level, de) != ("", "")
    )


def _rate(
    code: str,
    name: str,
    aliases: tuple[str, ...],
    numerator: str,
    denominator: str,
    factor: int | str,
    unit: str,
    places: int,
    description: str,
    *,
    years: PeriodAggregation = "annual",
    direction: Direction = "lower_is_better",
    natural_max: Decimal | None = None,
) -> Definition:
    return Definition(
        code=code,
        name=name,
        aliases=aliases,
        formula=Formula(numerator, denominator, Decimal(factor)),
        unit=unit,
        direction=direction,
        regions=RATIO_OF_SUMS,
        years=years,
        places=places,
        description=description,
        natural_max=natural_max,
    )


def _total(code: str, name: str, aliases: tuple[str, ...], unit: str, description: str) -> Definition:
    return Definition(
        code=code,
        name=name,
        aliases=aliases,
        formula=Formula(code),
        unit=unit,
        direction="lower_is_better",
        regions=SUM,
        years="annual",
        places=0,
        description=description,
    )


def _reported_definition(
    code: str,
    name: str,
    aliases: tuple[str, ...],
    unit: str,
    regions: RegionAggregation,
    description: str,
    *,
    direction: Direction = "higher_is_better",
    places: int = 1,
) -> Definition:
    return Definition(
        code=code,
        name=name,
        aliases=aliases,
        formula=Formula(code),
        unit=unit,
        direction=direction,
        regions=regions,
        years="annual",
        places=places,
        description=description,
        natural_max=Decimal(100) if unit == "%" else None,
    )


_POPULATION_WEIGHTED = RegionAggregation("weighted_mean", "resident_population")
_HUNDRED = Decimal(100)

BUILTIN_DEFINITIONS: tuple[Definition, ...] = (
    _total(
        "ps_deaths",
        "生产安全事故死亡人数",
        ("安全生产事故死亡人数", "各类生产安全事故死亡人数"),
        "人",
        "当年生产安全事故死亡人数，下级合计。",
    ),
    _total(
        "ps_accidents",
        "生产安全事故起数",
        ("各类生产安全事故起数", "安全生产事故起数"),
        "起",
        "当年生产安全事故起数，下级合计。",
    ),
    _total(
        "ps_major_accidents",
        "较大及以上生产安全事故起数",
        ("较大以上生产安全事故起数",),
        "起",
        "当年较大及以上生产安全事故起数，下级合计。",
    ),
    _total(
        "ps_severe_accidents",
        "重特大生产安全事故起数",
        ("重特大事故起数", "重大及以上生产安全事故起数"),
        "起",
        "当年重特大生产安全事故起数，下级合计。",
    ),
    _rate(
        "ps_death_rate_gdp",
        "亿元地区生产总值生产安全事故死亡率",
        (
            "亿元GDP生产安全事故死亡率",
            "单位地区生产总值生产安全事故死亡率",
            "单位GDP生产安全事故死亡率",
            "亿元国内生产总值生产安全事故死亡率",
            "单位国内生产总值生产安全事故死亡率",
        ),
        "ps_deaths",
        "gdp",
        1,
        "人/亿元",
        3,
        "生产安全事故死亡人数 ÷ 地区生产总值（亿元，现价）。",
    ),
    _rate(
        "imt_death_rate",
        "工矿商贸就业人员十万人生产安全事故死亡率",
        (
            "工矿商贸就业人员10万人生产安全事故死亡率",
            "工矿商贸十万就业人员生产安全事故死亡率",
            "工矿商贸10万就业人员生产安全事故死亡率",
        ),
        "imt_deaths",
        "imt_employees",
        100000,
        "人/10万人",
        3,
        "工矿商贸生产安全事故死亡人数 × 100000 ÷ 工矿商贸就业人员数（人）。",
    ),
    _rate(
        "coal_death_rate",
        "煤矿百万吨死亡率",
        ("煤矿百万吨生产安全事故死亡率", "煤炭百万吨死亡率"),
        "coal_mine_deaths",
        "raw_coal_output",
        100,
        "人/百万吨",
        3,
        "煤矿生产安全事故死亡人数 × 100 ÷ 原煤产量（万吨），即每百万吨原煤的死亡人数。",
    ),
    _rate(
        "road_death_rate",
        "道路交通万车死亡率",
        ("道路交通事故万车死亡率",),
        "road_traffic_deaths",
        "motor_vehicles",
        1,
        "人/万车",
        2,
        "道路交通事故死亡人数 ÷ 机动车保有量（万辆）。",
    ),
    _rate(
        "fire_death_rate",
        "年度10万人口火灾死亡率",
        ("年度十万人口火灾死亡率", "10万人口火灾死亡率", "十万人口火灾死亡率"),
        "fire_deaths",
        "resident_population",
        100000,
        "人/10万人",
        3,
        "当年火灾死亡人数 × 100000 ÷ 常住人口（人）。",
    ),
    _rate(
        "nd_death_rate",
        "年均每百万人口因自然灾害死亡率",
        ("年均每百万人口因灾死亡率", "年均百万人口因自然灾害死亡率"),
        "nd_deaths",
        "resident_population",
        1000000,
        "人/百万人",
        2,
        "统计期内因自然灾害死亡人数之和 × 1000000 ÷ 各年常住人口之和（人·年）。",
        years="pooled",
    ),
    _rate(
        "nd_affected_rate",
        "年均每十万人受灾人次",
        ("年均每10万人受灾人次",),
        "nd_affected",
        "resident_population",
        100000,
        "人次/10万人",
        0,
        "统计期内自然灾害受灾人次之和 × 100000 ÷ 各年常住人口之和（人·年）。",
        years="pooled",
    ),
    _rate(
        "nd_loss_share",
        "年均因自然灾害直接经济损失占地区生产总值比例",
        (
            "年均因自然灾害直接经济损失占地区生产总值的比例",
            "年均因自然灾害直接经济损失占GDP比例",
            "年均因自然灾害直接经济损失占GDP的比例",
            "年均因自然灾害直接经济损失占国内生产总值比例",
            "年均因自然灾害直接经济损失占国内生产总值的比例",
            "年均因灾直接经济损失占地区生产总值比例",
            "年均因灾直接经济损失占地区生产总值的比例",
        ),
        "nd_direct_loss",
        "gdp",
        100,
        "%",
        2,
        "统计期内自然灾害直接经济损失之和 × 100 ÷ 同期地区生产总值之和（均为亿元）。",
        years="pooled",
    ),
    _rate(
        "firefighter_ratio",
        "专职消防人员占总人口比例",
        _share_aliases("专职消防人员", "总人口"),
        "fulltime_firefighters",
        "resident_population",
        1000,
        "‰",
        2,
        "专职消防人员数 × 1000 ÷ 常住人口（人）。",
        direction="higher_is_better",
        natural_max=Decimal(1000),
    ),
    _rate(
        "em_professional_share",
        "县级以上应急管理部门专业人才占比",
        ("县级以上应急部门专业人才占比", "县级以上应急管理部门专业人才比例"),
        "em_professional_staff",
        "em_staff",
        100,
        "%",
        1,
        "县级以上应急管理部门专业人才数 × 100 ÷ 工作人员总数。",
        direction="higher_is_better",
        natural_max=_HUNDRED,
    ),
    _reported_definition(
        "em_equipment_rate",
        "县级以上应急管理部门装备达标率",
        ("县级以上应急部门装备达标率", "应急管理部门装备达标率"),
        "%",
        NOT_AGGREGATABLE,
        "按装备配备标准评定，由本级直接报送；上级数值不由下级推算。",
    ),
    _reported_definition(
        "disaster_info_coverage",
        "灾害事故信息发布公众覆盖率",
        ("信息发布公众覆盖率", "灾害事故信息公众覆盖率"),
        "%",
        _POPULATION_WEIGHTED,
        "由本级直接报送；本级未报送时按下级常住人口加权平均。",
    ),
    _reported_definition(
        "warning_info_coverage",
        "灾害预警信息公众覆盖率",
        ("预警信息公众覆盖率", "灾害预警信息发布公众覆盖率"),
        "%",
        _POPULATION_WEIGHTED,
        "由本级直接报送；本级未报送时按下级常住人口加权平均。",
    ),
    _reported_definition(
        "relief_time",
        "受灾人员得到有效救助时间",
        (
            "受灾人员基本生活得到有效救助时间",
            "灾害事故发生后受灾人员基本生活得到有效救助时间",
            "灾害事故发生后受灾人员得到有效救助时间",
            "自然灾害发生后受灾人员基本生活得到有效救助时间",
            # As goal sentences state it (…10小时内得到有效救助), without 时间.
            "受灾人员得到有效救助",
            "受灾人员基本生活得到有效救助",
            "灾害事故发生后受灾人员基本生活得到有效救助",
            "灾害事故发生后受灾人员得到有效救助",
        ),
        "小时",
        RegionAggregation("max"),
        "由本级直接报送；本级未报送时取下级最长时间（各地均须在目标时间内）。",
        direction="lower_is_better",
    ),
    _reported_definition(
        "new_worker_training_rate",
        "重点行业规模以上企业新增从业人员安全技能培训率",
        ("新增从业人员安全技能培训率",),
        "%",
        NOT_AGGREGATABLE,
        "由本级直接报送。",
    ),
    _reported_definition(
        "rescue_team_protective_equipment_rate",
        "专业应急救援队伍防护装备配备率",
        (),
        "%",
        NOT_AGGREGATABLE,
        "由本级直接报送。",
    ),
    _reported_definition(
        "county_rescue_team_rate",
        "县(市、区)综合救援力量建队率",
        ("县级综合救援力量建队率",),
        "%",
        NOT_AGGREGATABLE,
        "由本级直接报送。",
    ),
    _reported_definition(
        "grassroots_rescue_coverage",
        "各类功能区和乡镇(街道)专(兼)职救援力量覆盖率",
        ("乡镇(街道)专(兼)职救援力量覆盖率", "功能区和乡镇(街道)专(兼)职救援力量覆盖率"),
        "%",
        NOT_AGGREGATABLE,
        "由本级直接报送。",
    ),
)

CATALOGUE = Catalogue.build(BUILTIN_ELEMENTS, BUILTIN_DEFINITIONS)


def match_definition(name: str, catalogue: Catalogue = CATALOGUE) -> Definition | None:
    """The definition `name` denotes (exact name or alias after normalisation), or None."""
    return catalogue.match(name)
