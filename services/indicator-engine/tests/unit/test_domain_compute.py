"""Values from hand-made data whose right answers are worked out in the comments."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.domain.compute import (
    Data,
    Missing,
    compute_baseline,
    compute_current,
    compute_many,
    compute_period,
    compute_year,
)
from indicator_engine.domain.decimals import InvalidNumberError, divide
from indicator_engine.domain.targets import BaselineRule

D = Decimal
PROVINCE, CITY, OTHER_CITY = "990000", "990100", "990200"
A, B, C = "990101", "990102", "990103"
TREE = {PROVINCE: [CITY, OTHER_CITY], CITY: [A, B, C]}

GDP_RATE = CATALOGUE.definition("ps_death_rate_gdp")
IMT_RATE = CATALOGUE.definition("imt_death_rate")
COAL_RATE = CATALOGUE.definition("coal_death_rate")
DEATHS = CATALOGUE.definition("ps_deaths")
ND_RATE = CATALOGUE.definition("nd_death_rate")


def _data(rows: dict[tuple[str, str], dict[int, str]]) -> dict[tuple[str, str, int], Decimal]:
    return {
        (region, element, year): D(v)
        for (region, element), years in rows.items()
        for year, v in years.items()
    }


# 2021: three counties.
#   A: 3 deaths / 100 亿元 = 0.03        B: 1 / 400 = 0.0025        C: 6 / 500 = 0.012
#   city: (3 + 1 + 6) / (100 + 400 + 500) = 10 / 1000 = 0.01
#   mean of the county rates: (0.03 + 0.0025 + 0.012) / 3 = 0.0445 / 3 = 0.014833… ≠ 0.01
CITY_2021 = _data(
    {
        (A, "ps_deaths"): {2021: "3"},
        (B, "ps_deaths"): {2021: "1"},
        (C, "ps_deaths"): {2021: "6"},
        (A, "gdp"): {2021: "100"},
        (B, "gdp"): {2021: "400"},
        (C, "gdp"): {2021: "500"},
    }
)


def test_city_rate_is_recomputed_from_sums_not_averaged() -> None:
    county = {r: compute_year(GDP_RATE, r, 2021, CITY_2021, TREE).value for r in (A, B, C)}
    assert county == {A: D("0.03"), B: D("0.0025"), C: D("0.012")}
    city = compute_year(GDP_RATE, CITY, 2021, CITY_2021, TREE)
    assert city.status == "ok"
    assert (city.value, city.numerator, city.denominator) == (D("0.01"), D(10), D(1000))
    mean_of_rates = divide(D("0.0445"), D(3))
    assert city.value != mean_of_rates


def test_rate_with_a_factor() -> None:
    # 工矿商贸: A 2 deaths / 200000 employees, B 1 / 150000, C 0 / 150000.
    #   A: 2 × 100000 / 200000 = 1        B: 100000 / 150000 = 0.666…        C: 0
    #   city: 3 × 100000 / 500000 = 0.6   (the mean of the county rates would be 0.555…)
    data = _data(
        {
            (A, "imt_deaths"): {2021: "2"},
            (B, "imt_deaths"): {2021: "1"},
            (C, "imt_deaths"): {2021: "0"},
            (A, "imt_employees"): {2021: "200000"},
            (B, "imt_employees"): {2021: "150000"},
            (C, "imt_employees"): {2021: "150000"},
        }
    )
    assert compute_year(IMT_RATE, A, 2021, data, TREE).value == D(1)
    assert compute_year(IMT_RATE, B, 2021, data, TREE).value == D("0." + "6" * 33 + "7")
    assert compute_year(IMT_RATE, C, 2021, data, TREE).value == D(0)
    assert compute_year(IMT_RATE, CITY, 2021, data, TREE).value == D("0.6")


def test_coal_rate_with_output_converted_to_10k_tonnes() -> None:
    # A reports 2.5 百万吨 = 250 万吨 (converted at input), B 150 万吨; deaths A 1, B 0, C no coal.
    # city: 1 death × 100 / 400 万吨 = 0.25 per million tonnes (1 death / 4 百万吨).
    coal = CATALOGUE.element("raw_coal_output")
    data = {
        (A, "coal_mine_deaths", 2021): D(1),
        (B, "coal_mine_deaths", 2021): D(0),
        (C, "coal_mine_deaths", 2021): D(0),
        (A, "raw_coal_output", 2021): coal.to_canonical(D("2.5"), "百万吨"),
        (B, "raw_coal_output", 2021): D(150),
        (C, "raw_coal_output", 2021): D(0),
    }
    assert compute_year(COAL_RATE, CITY, 2021, data, TREE).value == D("0.25")
    # C alone has no coal output: its rate does not exist (0 / 0), it is not an error.
    c_only = compute_year(COAL_RATE, C, 2021, data, TREE)
    assert (c_only.status, c_only.value, c_only.undefined_reason) == ("undefined", None, "zero_denominator")


def test_a_city_figure_of_its_own_comes_first_unless_rolling_up() -> None:
    # The statistics bureau publishes city GDP 1010 (not the counties' 1000):
    #   reported_first: 10 / 1010 = 0.00990099…        children_only: 10 / 1000 = 0.01
    data = {**CITY_2021, (CITY, "gdp", 2021): D(1010)}
    reported = compute_year(GDP_RATE, CITY, 2021, data, TREE)
    assert reported.denominator == D(1010)
    assert reported.value == divide(D(10), D(1010))
    rolled = compute_year(GDP_RATE, CITY, 2021, data, TREE, mode="children_only")
    assert (rolled.value, rolled.denominator) == (D("0.01"), D(1000))


def test_roll_up_through_two_levels() -> None:
    # The other city reports for itself only (no counties in the tree): 2 deaths, GDP 1000.
    # province: (10 + 2) / (1000 + 1000) = 12 / 2000 = 0.006
    data = {**CITY_2021, (OTHER_CITY, "ps_deaths", 2021): D(2), (OTHER_CITY, "gdp", 2021): D(1000)}
    province = compute_year(GDP_RATE, PROVINCE, 2021, data, TREE)
    assert (province.value, province.numerator, province.denominator) == (D("0.006"), D(12), D(2000))
    assert compute_year(DEATHS, PROVINCE, 2021, data, TREE).value == D(12)


# 年均每百万人口因自然灾害死亡率 over 2021–2023 (population in persons):
#   year   A: deaths/pop      B: deaths/pop      C: deaths/pop      city deaths / pop        yearly rate
#   2021   1 / 1000000        0 / 600000         0 / 400000         1 / 2000000              0.5
#   2022   2 / 1000000        1 / 600000         0 / 400000         3 / 2000000              1.5
#   2023   1 / 2000000        1 / 1200000        0 / 800000         2 / 4000000              0.5
#   年均 (pooled): (1 + 3 + 2) × 1000000 / (2000000 + 2000000 + 4000000) = 6000000 / 8000000 = 0.75
#   the mean of the yearly rates would be (0.5 + 1.5 + 0.5) / 3 = 0.8333…
ND = _data(
    {
        (A, "nd_deaths"): {2021: "1", 2022: "2", 2023: "1"},
        (B, "nd_deaths"): {2021: "0", 2022: "1", 2023: "1"},
        (C, "nd_deaths"): {2021: "0", 2022: "0", 2023: "0"},
        (A, "resident_population"): {2021: "1000000", 2022: "1000000", 2023: "2000000"},
        (B, "resident_population"): {2021: "600000", 2022: "600000", 2023: "1200000"},
        (C, "resident_population"): {2021: "400000", 2022: "400000", 2023: "800000"},
    }
)


def test_annual_average_is_pooled_over_the_years() -> None:
    result = compute_period(ND_RATE, CITY, range(2021, 2024), ND, TREE)
    assert result.status == "ok"
    assert result.years == (2021, 2022, 2023)
    assert (result.value, result.numerator, result.denominator) == (D("0.75"), D(6), D(8000000))
    yearly = [compute_year(ND_RATE, CITY, y, ND, TREE).value for y in (2021, 2022, 2023)]
    assert yearly == [D("0.5"), D("1.5"), D("0.5")]


def test_current_value_of_an_annual_average_covers_the_plan_years_so_far() -> None:
    assert compute_current(ND_RATE, CITY, 2023, 2021, ND, TREE).value == D("0.75")
    # 2021–2022: 4 × 1000000 / 4000000 = 1
    assert compute_current(ND_RATE, CITY, 2022, 2021, ND, TREE).value == D(1)
    # An annual indicator's current value is the year's own: deaths 2023 = 1 + 1 + 0 = 2.
    nd_deaths_total = replace(
        DEATHS, code="nd_deaths_total", formula=replace(DEATHS.formula, numerator="nd_deaths")
    )
    assert compute_current(nd_deaths_total, CITY, 2023, 2021, ND, TREE).value == D(2)
    with pytest.raises(ValueError, match="before the plan"):
        compute_current(ND_RATE, CITY, 2020, 2021, ND, TREE)


def test_mean_of_yearly_values_when_a_definition_asks_for_it() -> None:
    by_mean = replace(ND_RATE, code="nd_mean", years="mean_of_years")
    # (0.5 + 1.5 + 0.5) / 3 = 2.5 / 3 = 0.8333… (34 significant digits)
    assert compute_period(by_mean, CITY, range(2021, 2024), ND, TREE).value == D("0." + "8" * 1 + "3" * 33)


def test_a_county_missing_one_year_makes_the_city_incomplete() -> None:
    data = dict(ND)
    del data[(C, "nd_deaths", 2022)]
    del data[(C, "resident_population", 2022)]
    result = compute_period(ND_RATE, CITY, range(2021, 2024), data, TREE)
    assert result.status == "incomplete"
    assert result.value is None
    assert result.missing == (
        Missing(C, "nd_deaths", 2022),
        Missing(C, "resident_population", 2022),
    )
    assert result.missing_regions == (C,)
    assert result.missing_elements == ("nd_deaths", "resident_population")
    # The years C did report are fine, and so are the other counties.
    assert compute_year(ND_RATE, CITY, 2021, data, TREE).value == D("0.5")
    assert compute_period(ND_RATE, A, range(2021, 2024), data, TREE).status == "ok"


def test_every_missing_figure_is_listed() -> None:
    data = {k: v for k, v in CITY_2021.items() if k[0] != B}
    result = compute_year(GDP_RATE, CITY, 2021, data, TREE)
    assert result.status == "incomplete"
    assert result.missing == (Missing(B, "gdp", 2021), Missing(B, "ps_deaths", 2021))


def test_division_by_zero_is_undefined_not_an_exception() -> None:
    zero_gdp = {k: (D(0) if k[1] == "gdp" else v) for k, v in CITY_2021.items()}
    result = compute_year(GDP_RATE, CITY, 2021, zero_gdp, TREE)
    assert (result.status, result.value, result.undefined_reason) == ("undefined", None, "zero_denominator")
    assert (result.numerator, result.denominator) == (D(10), D(0))
    nothing = {k: D(0) for k in CITY_2021}
    assert compute_year(GDP_RATE, CITY, 2021, nothing, TREE).undefined_reason == "zero_denominator"


def test_a_pooled_average_survives_one_year_with_a_zero_denominator() -> None:
    # GDP 0 in 2021 (no activity), 1000 in 2022; losses 0 and 5 亿元: (0 + 5) × 100 / (0 + 1000) = 0.5 %.
    share = CATALOGUE.definition("nd_loss_share")
    data = {(A, "nd_direct_loss", 2021): D(0), (A, "nd_direct_loss", 2022): D(5)}
    data |= {(A, "gdp", 2021): D(0), (A, "gdp", 2022): D(1000)}
    assert compute_year(share, A, 2021, data, TREE).status == "undefined"
    assert compute_period(share, A, (2021, 2022), data, TREE).value == D("0.5")


def test_baseline_mean_of_several_years() -> None:
    # City deaths 2016–2019 summed over the counties: 120, 110, 100, 90 → mean 420 / 4 = 105.
    per_year = {2016: (50, 40, 30), 2017: (45, 40, 25), 2018: (40, 35, 25), 2019: (30, 35, 25)}
    data = {
        (county, "ps_deaths", year): D(n)
        for year, ns in per_year.items()
        for county, n in zip((A, B, C), ns, strict=True)
    }
    assert compute_baseline(DEATHS, CITY, BaselineRule.mean_of(2016, 2019), data, TREE).value == D(105)
    assert compute_baseline(DEATHS, CITY, BaselineRule.single(2019), data, TREE).value == D(90)


def test_baseline_mean_of_yearly_rates_for_an_annual_rate() -> None:
    # A alone: 2018: 2 / 100 = 0.02, 2019: 3 / 300 = 0.01 → mean (0.02 + 0.01) / 2 = 0.015
    # (pooled it would be 5 / 400 = 0.0125: annual indicators average their yearly values).
    data = {
        (A, "ps_deaths", 2018): D(2),
        (A, "gdp", 2018): D(100),
        (A, "ps_deaths", 2019): D(3),
        (A, "gdp", 2019): D(300),
    }
    assert compute_baseline(GDP_RATE, A, BaselineRule.mean_of(2018, 2019), data, TREE).value == D("0.015")
    # A year whose rate is undefined makes the mean undefined.
    data[(A, "gdp", 2019)] = D(0)
    assert compute_baseline(GDP_RATE, A, BaselineRule.mean_of(2018, 2019), data, TREE).status == "undefined"


def test_population_weighted_coverage() -> None:
    # A 90 % of 1000000, B 80 % of 600000, C 100 % of 400000:
    # (90 × 1000000 + 80 × 600000 + 100 × 400000) / 2000000 = 178000000 / 2000000 = 89 (plain mean: 90)
    coverage = CATALOGUE.definition("disaster_info_coverage")
    data = _data(
        {
            (A, "disaster_info_coverage"): {2022: "90"},
            (B, "disaster_info_coverage"): {2022: "80"},
            (C, "disaster_info_coverage"): {2022: "100"},
            (A, "resident_population"): {2022: "1000000"},
            (B, "resident_population"): {2022: "600000"},
            (C, "resident_population"): {2022: "400000"},
        }
    )
    assert compute_year(coverage, CITY, 2022, data, TREE).value == D(89)
    # The city's own figure comes first.
    assert compute_year(
        coverage, CITY, 2022, {**data, (CITY, "disaster_info_coverage", 2022): D(92)}, TREE
    ).value == D(92)
    del data[(B, "resident_population", 2022)]
    assert compute_year(coverage, CITY, 2022, data, TREE).missing == (
        Missing(B, "resident_population", 2022),
    )
    zero = {k: (D(0) if k[1] == "resident_population" else v) for k, v in data.items()}
    zero[(B, "resident_population", 2022)] = D(0)
    assert compute_year(coverage, CITY, 2022, zero, TREE).undefined_reason == "zero_weight"


def test_relief_time_takes_the_slowest_region() -> None:
    relief = CATALOGUE.definition("relief_time")
    data = {
        (A, "relief_time", 2022): D(8),
        (B, "relief_time", 2022): D(12),
        (C, "relief_time", 2022): D("9.5"),
    }
    assert compute_year(relief, CITY, 2022, data, TREE).value == D(12)
    del data[(C, "relief_time", 2022)]
    assert compute_year(relief, CITY, 2022, data, TREE).missing == (Missing(C, "relief_time", 2022),)


def test_a_figure_that_does_not_aggregate_is_the_region_own_only() -> None:
    equipment = CATALOGUE.definition("em_equipment_rate")
    data = {(A, "em_equipment_rate", 2022): D(70), (B, "em_equipment_rate", 2022): D(90)}
    result = compute_year(equipment, CITY, 2022, data, TREE)
    assert result.missing == (Missing(CITY, "em_equipment_rate", 2022),)
    assert compute_year(
        equipment, CITY, 2022, {**data, (CITY, "em_equipment_rate", 2022): D(85)}, TREE
    ).value == D(85)


def test_nan_in_the_data_is_refused() -> None:
    data = {**CITY_2021, (B, "gdp", 2021): D("NaN")}
    with pytest.raises(InvalidNumberError):
        compute_year(GDP_RATE, CITY, 2021, data, TREE)


def test_a_cycle_in_the_region_tree_is_refused() -> None:
    with pytest.raises(ValueError, match="cycle"):
        compute_year(DEATHS, CITY, 2021, {}, {CITY: [A], A: [CITY]})


def test_no_years() -> None:
    with pytest.raises(ValueError, match="no years"):
        compute_period(DEATHS, CITY, [], {}, TREE)


def test_data_type_is_a_plain_mapping() -> None:
    data: Data = CITY_2021
    assert compute_year(DEATHS, CITY, 2021, data, TREE).value == D(10)


def test_many_regions_at_once_give_the_same_results() -> None:
    regions = [PROVINCE, CITY, OTHER_CITY, A, B, C]
    data = {
        **ND,
        (OTHER_CITY, "nd_deaths", 2021): D(1),
        (OTHER_CITY, "resident_population", 2021): D(1000000),
    }
    many = compute_many(ND_RATE, regions, [2021], data, TREE)
    assert many == {r: compute_year(ND_RATE, r, 2021, data, TREE) for r in regions}
    # province 2021: (1 + 1) × 10⁶ / (2000000 + 1000000) = 0.666…
    assert many[PROVINCE].value == D("0." + "6" * 33 + "7")
    assert many[OTHER_CITY].value == D(1)
