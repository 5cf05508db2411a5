"""The indicator catalogue: coverage of the seed plans' core indicators, aliases, rules, units."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from indicator_engine.domain.catalogue import (
    CATALOGUE,
    NOT_AGGREGATABLE,
    RATIO_OF_SUMS,
    SUM,
    CatalogueError,
    DataElement,
    Definition,
    Formula,
    RegionAggregation,
    match_definition,
    normalize_name,
)

# Names the issue requires, and the ones the seed plans use in their core tables and goal sentences
# (short indicator names, as plan-registry's parser reads them).
REQUIRED = {
    "生产安全事故死亡人数": "ps_deaths",
    "亿元地区生产总值生产安全事故死亡率": "ps_death_rate_gdp",
    "工矿商贸就业人员十万人生产安全事故死亡率": "imt_death_rate",
    "煤矿百万吨死亡率": "coal_death_rate",
    "道路交通万车死亡率": "road_death_rate",
    "年度10万人口火灾死亡率": "fire_death_rate",
    "年均每百万人口因自然灾害死亡率": "nd_death_rate",
    "年均每十万人受灾人次": "nd_affected_rate",
    "年均因自然灾害直接经济损失占地区生产总值比例": "nd_loss_share",
    "县级以上应急管理部门装备达标率": "em_equipment_rate",
    "信息发布公众覆盖率": "disaster_info_coverage",
    "受灾人员得到有效救助时间": "relief_time",
}
SEED_NAMES = {
    "单位地区生产总值生产安全事故死亡率": "ps_death_rate_gdp",
    "年均因自然灾害直接经济损失占地区生产总值的比例": "nd_loss_share",
    "灾害事故信息发布公众覆盖率": "disaster_info_coverage",
    "灾害预警信息公众覆盖率": "warning_info_coverage",
    "专职消防人员占全市总人口的比例": "firefighter_ratio",
    "灾害事故发生后受灾人员基本生活得到有效救助时间": "relief_time",
    "县级以上应急管理部门专业人才占比": "em_professional_share",
    "县级以上应急部门专业人才占比": "em_professional_share",
    "重点行业规模以上企业新增从业人员安全技能培训率": "new_worker_training_rate",
    "专业应急救援队伍防护装备配备率": "rescue_team_protective_equipment_rate",
    "县（市、区）综合救援力量建队率": "county_rescue_team_rate",
    "各类功能区和乡镇（街道）专（兼）职救援力量覆盖率": "grassroots_rescue_coverage",
}
# The names plan-registry's parser gives the goal sentences "…受灾人员（基本生活）10小时内得到有效救助"
# once the duration is taken out as the target.
PARSER_NAMES = {
    "灾害事故发生后受灾人员基本生活得到有效救助": "relief_time",
    "灾害事故发生后受灾人员得到有效救助": "relief_time",
}


@pytest.mark.parametrize(("name", "code"), [*REQUIRED.items(), *SEED_NAMES.items(), *PARSER_NAMES.items()])
def test_names_match_their_definition(name: str, code: str) -> None:
    definition = match_definition(name)
    assert definition is not None, name
    assert definition.code == code


def test_gdp_rate_aliases_are_one_definition() -> None:
    names = [
        "亿元地区生产总值生产安全事故死亡率",
        "亿元GDP生产安全事故死亡率",
        "单位地区生产总值生产安全事故死亡率",
    ]
    assert {match_definition(name) for name in names} == {CATALOGUE.definition("ps_death_rate_gdp")}


@pytest.mark.parametrize(
    "written",
    ["亿元ＧＤＰ生产安全事故死亡率", " 亿元 gdp 生产安全事故死亡率\n", "亿元GDP生产安全事故\u3000死亡率"],
)
def test_matching_folds_width_case_and_whitespace(written: str) -> None:
    definition = match_definition(written)
    assert definition is not None
    assert definition.code == "ps_death_rate_gdp"


@pytest.mark.parametrize(
    "name",
    [
        "死亡率",  # a fragment is never guessed
        "每百万人口因自然灾害死亡率",  # without 年均 it names another period
        "生产安全事故死亡人数下降",
        "森林火灾受害率",
        "",
    ],
)
def test_unknown_names_are_not_guessed(name: str) -> None:
    assert match_definition(name) is None


def test_ambiguous_name_matches_nothing() -> None:
    rival = replace(
        CATALOGUE.definition("ps_death_rate_gdp"),
        code="my_rate",
        name="自定义死亡率",
        aliases=("亿元GDP生产安全事故死亡率",),
    )
    catalogue = CATALOGUE.with_additions([rival])
    assert catalogue.match("亿元GDP生产安全事故死亡率") is None
    assert {d.code for d in catalogue.candidates("亿元GDP生产安全事故死亡率")} == {
        "ps_death_rate_gdp",
        "my_rate",
    }
    assert catalogue.ambiguous_names() == {
        normalize_name("亿元GDP生产安全事故死亡率"): ("ps_death_rate_gdp", "my_rate")
    }
    # The unambiguous names still match.
    assert catalogue.match("自定义死亡率") is rival
    assert catalogue.match("单位地区生产总值生产安全事故死亡率") is CATALOGUE.definition("ps_death_rate_gdp")


def test_builtin_catalogue_has_no_ambiguous_name() -> None:
    assert CATALOGUE.ambiguous_names() == {}


def test_aggregation_rules_of_builtin_definitions() -> None:
    for definition in CATALOGUE.definitions.values():
        elements = [CATALOGUE.element(code) for code in definition.formula.elements]
        if definition.is_rate:
            assert definition.regions == RATIO_OF_SUMS, definition.code
        elif elements[0].additive:
            assert definition.regions == SUM, definition.code
        else:
            assert definition.regions.kind in {"not_aggregatable", "weighted_mean", "max", "min"}
        # 年均 in the name ⇔ averaged over the years, pooled.
        assert definition.name.startswith("年均") == (definition.years == "pooled"), definition.code


@pytest.mark.parametrize(
    ("code", "numerator", "denominator", "factor", "unit"),
    [
        ("ps_death_rate_gdp", "ps_deaths", "gdp", 1, "人/亿元"),
        ("imt_death_rate", "imt_deaths", "imt_employees", 100000, "人/10万人"),
        ("coal_death_rate", "coal_mine_deaths", "raw_coal_output", 100, "人/百万吨"),
        ("road_death_rate", "road_traffic_deaths", "motor_vehicles", 1, "人/万车"),
        ("fire_death_rate", "fire_deaths", "resident_population", 100000, "人/10万人"),
        ("nd_death_rate", "nd_deaths", "resident_population", 1000000, "人/百万人"),
        ("nd_affected_rate", "nd_affected", "resident_population", 100000, "人次/10万人"),
        ("nd_loss_share", "nd_direct_loss", "gdp", 100, "%"),
        ("firefighter_ratio", "fulltime_firefighters", "resident_population", 1000, "‰"),
    ],
)
def test_rate_formulas(code: str, numerator: str, denominator: str, factor: int, unit: str) -> None:
    definition = CATALOGUE.definition(code)
    assert definition.formula == Formula(numerator, denominator, Decimal(factor))
    assert definition.unit == unit
    assert definition.direction == ("higher_is_better" if code == "firefighter_ratio" else "lower_is_better")


def test_directly_reported_figures_state_their_aggregation() -> None:
    assert CATALOGUE.definition("em_equipment_rate").regions == NOT_AGGREGATABLE
    assert CATALOGUE.definition("disaster_info_coverage").regions == RegionAggregation(
        "weighted_mean", "resident_population"
    )
    relief = CATALOGUE.definition("relief_time")
    assert relief.regions == RegionAggregation("max")
    assert (relief.unit, relief.direction) == ("小时", "lower_is_better")


def test_unit_conversion_is_exact() -> None:
    coal = CATALOGUE.element("raw_coal_output")
    assert coal.unit == "万吨"
    assert coal.to_canonical(Decimal("2.5"), "百万吨") == Decimal(250)  # 2.5 百万吨 = 250 万吨
    assert coal.to_canonical(Decimal(250), "万吨") == Decimal(250)
    assert coal.to_canonical(Decimal(3000000), "吨") == Decimal(300)
    population = CATALOGUE.element("resident_population")
    assert population.to_canonical(Decimal("512.36"), "万人") == Decimal(5123600)
    assert CATALOGUE.element("gdp").to_canonical(Decimal(15000), "万元") == Decimal("1.5")
    with pytest.raises(CatalogueError):
        coal.to_canonical(Decimal(1), "千克")


def test_value_problems() -> None:
    deaths = CATALOGUE.element("ps_deaths")
    assert deaths.problems(Decimal(3)) == ()
    assert deaths.problems(Decimal("-1")) == ("negative",)
    assert deaths.problems(Decimal("2.5")) == ("not_integral",)
    assert CATALOGUE.element("gdp").problems(Decimal("123.45")) == ()


def _definition(**changes: Any) -> Definition:
    return replace(
        CATALOGUE.definition("ps_death_rate_gdp"), code="x", name="测试指标", aliases=(), **changes
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"regions": SUM},  # a rate must be recomputed, never summed or averaged
        {"formula": Formula("ps_deaths", "no_such_element")},
        {"formula": Formula("ps_deaths", "gdp", Decimal(0))},
        {"formula": Formula("em_equipment_rate", "gdp")},  # a reported share is no numerator
        {"formula": Formula("ps_deaths"), "regions": RATIO_OF_SUMS},
        {"formula": Formula("em_equipment_rate"), "regions": SUM},
        {"formula": Formula("em_equipment_rate"), "regions": RegionAggregation("weighted_mean")},
        {
            "formula": Formula("em_equipment_rate"),
            "regions": RegionAggregation("weighted_mean", "em_equipment_rate"),
        },
        {"formula": Formula("em_equipment_rate"), "regions": NOT_AGGREGATABLE, "years": "pooled"},
        {"regions": RegionAggregation("ratio_of_sums", "gdp")},
        {"places": -1},
    ],
)
def test_inconsistent_definitions_are_rejected(changes: dict[str, Any]) -> None:
    with pytest.raises(CatalogueError):
        CATALOGUE.with_additions([_definition(**changes)])


def test_duplicate_codes_are_rejected() -> None:
    with pytest.raises(CatalogueError):
        CATALOGUE.with_additions([replace(CATALOGUE.definition("ps_deaths"), name="另一个")])
    with pytest.raises(CatalogueError):
        CATALOGUE.with_additions(elements=[DataElement("gdp", "重复", "亿元", "amount", "")])


# --- the seed plans' core-indicator tables, read from ../shared/seeds (never copied) ---------------


def _seeds() -> Path:
    for folder in Path(__file__).resolve().parents:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file() and "workspace" in tomllib.loads(pyproject.read_text()).get("tool", {}).get(
            "uv", {}
        ):
            seeds = folder.parent / "shared" / "seeds"
            if seeds.is_dir():
                return seeds
            break
    pytest.skip("the seed plans live in ../shared/seeds next to the repository")


def _core_table_names(text: str) -> list[str]:
    """Indicator names of the core-indicator table: the cell after each running number 1, 2, 3…

    The tables come tab-separated (one row a line) or one cell a line; the table ends at its note
    (注…) or at the first line of running text without a tab.
    """
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "核心指标" in line)
    cells: list[str] = []
    for line in lines[start + 1 :]:
        if line.strip() and "\t" not in line and cells:
            break
        row = [cell.strip() for cell in line.split("\t") if cell.strip()]
        if any(cell.startswith("注") for cell in row):
            break
        cells.extend(row)
    names, expected = [], 1
    for cell, following in pairwise(cells):
        if cell == str(expected):
            names.append(following)
            expected += 1
    return names


@pytest.mark.parametrize(
    ("file", "count"),
    [("000_0c809ad9eba66790.txt", 6), ("001_e042361886956950.txt", 7), ("002_5040169b34f97ba4.txt", 6)],
)
def test_every_core_indicator_of_the_seed_plans_has_a_definition(file: str, count: int) -> None:
    names = _core_table_names((_seeds() / file).read_text(encoding="utf-8"))
    assert len(names) == count
    unmatched = [name for name in names if match_definition(name) is None]
    assert unmatched == []


def test_seed_names_listed_here_occur_in_the_seeds() -> None:
    folded = normalize_name("".join(path.read_text(encoding="utf-8") for path in _seeds().glob("*.txt")))
    for name in SEED_NAMES:
        assert normalize_name(name) in folded, name
