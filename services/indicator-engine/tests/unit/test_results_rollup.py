"""Results of the results feature's roll-up on the real region tree, from data made by hand; every
expected value is worked out in the comments.

鹰潭市 360600 has three counties: 月湖区 360602, 余江区 360603, 贵溪市 360681."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.domain.compute import compute_many, compute_period
from indicator_engine.results import regions

D = Decimal
CITY, YUEHU, YUJIANG, GUIXI = "360600", "360602", "360603", "360681"
GDP_RATE = CATALOGUE.definition("ps_death_rate_gdp")
ND_RATE = CATALOGUE.definition("nd_death_rate")

# 2023: deaths and GDP (亿元) per county. County rates 3/300 = 0.01, 2/100 = 0.02, 5/100 = 0.05.
DATA = {
    (YUEHU, "ps_deaths", 2023): D(3),
    (YUEHU, "gdp", 2023): D(300),
    (YUJIANG, "ps_deaths", 2023): D(2),
    (YUJIANG, "gdp", 2023): D(100),
    (GUIXI, "ps_deaths", 2023): D(5),
    (GUIXI, "gdp", 2023): D(100),
    # 2024: 贵溪市 has not reported.
    (YUEHU, "ps_deaths", 2024): D(4),
    (YUEHU, "gdp", 2024): D(320),
    (YUJIANG, "ps_deaths", 2024): D(1),
    (YUJIANG, "gdp", 2024): D(110),
}


class TestCityOfThreeCounties:
    def test_rate_is_recomputed_from_sums_not_averaged(self) -> None:
        tree = regions.tree(CITY)
        result = compute_period(GDP_RATE, CITY, [2023], DATA, tree)
        # (3 + 2 + 5) / (300 + 100 + 100) = 10 / 500 = 0.02; the mean of the county rates would be
        # (0.01 + 0.02 + 0.05) / 3 = 0.0266…
        assert result.status == "ok"
        assert result.value == D("0.02")
        assert (result.numerator, result.denominator) == (D(10), D(500))

    def test_counties_keep_their_own_rates(self) -> None:
        results = compute_many(GDP_RATE, [CITY, YUEHU, YUJIANG, GUIXI], [2023], DATA, regions.tree(CITY))
        assert [results[code].value for code in (YUEHU, YUJIANG, GUIXI)] == [D("0.01"), D("0.02"), D("0.05")]

    def test_county_missing_one_year_makes_the_city_incomplete(self) -> None:
        result = compute_period(GDP_RATE, CITY, [2024], DATA, regions.tree(CITY))
        assert result.status == "incomplete"
        assert result.value is None
        assert result.missing_regions == (GUIXI,)
        assert result.missing_elements == ("gdp", "ps_deaths")

    def test_province_lists_the_other_cities_counties_but_none_of_ours(self) -> None:
        province = "360000"
        result = compute_period(GDP_RATE, province, [2023], DATA, regions.tree(province))
        assert result.status == "incomplete"
        assert not any(code.startswith("3606") for code in result.missing_regions)
        assert "360102" in result.missing_regions  # 南昌市东湖区 has no figure


class TestAnnualAverage:
    # 年均每百万人口因自然灾害死亡率 over 2021–2023, the city reporting its own totals:
    #   2021: 2 deaths, 1,000,000 people (2.0 per million); 2022: 0, 1,000,000 (0);
    #   2023: 7 deaths, 2,000,000 people (3.5).
    # 年均 = (2 + 0 + 7) × 1,000,000 / (1,000,000 + 1,000,000 + 2,000,000) = 9,000,000 / 4,000,000 = 2.25,
    # not the mean of the yearly rates (2 + 0 + 3.5) / 3 = 1.8333…
    DATA: ClassVar[dict[tuple[str, str, int], Decimal]] = {
        (CITY, "nd_deaths", 2021): D(2),
        (CITY, "resident_population", 2021): D(1_000_000),
        (CITY, "nd_deaths", 2022): D(0),
        (CITY, "resident_population", 2022): D(1_000_000),
        (CITY, "nd_deaths", 2023): D(7),
        (CITY, "resident_population", 2023): D(2_000_000),
    }

    def test_pooled_over_the_plan_years(self) -> None:
        result = compute_period(ND_RATE, CITY, range(2021, 2024), self.DATA, {})
        assert result.value == D("2.25")
        assert (result.numerator, result.denominator) == (D(9), D(4_000_000))

    def test_single_year(self) -> None:
        assert compute_period(ND_RATE, CITY, [2023], self.DATA, {}).value == D("3.5")


class TestGrid:
    def test_grid_shares_totals_and_agrees_with_one_definition_at_a_time(self) -> None:
        from indicator_engine.domain.compute import compute_grid

        tree = regions.tree(CITY)
        wanted = [CITY, YUEHU, YUJIANG, GUIXI]
        deaths = CATALOGUE.definition("ps_deaths")
        grid = compute_grid([GDP_RATE, deaths], wanted, [2023, 2024], DATA, tree)
        assert set(grid) == {
            ("ps_death_rate_gdp", 2023),
            ("ps_death_rate_gdp", 2024),
            ("ps_deaths", 2023),
            ("ps_deaths", 2024),
        }
        for (code, year), per_region in grid.items():
            assert per_region == compute_many(CATALOGUE.definition(code), wanted, [year], DATA, tree)
        # 2023 deaths for the city: 3 + 2 + 5 = 10; 2024 incomplete (贵溪市).
        assert grid[("ps_deaths", 2023)][CITY].value == D(10)
        assert grid[("ps_deaths", 2024)][CITY].missing_regions == (GUIXI,)
