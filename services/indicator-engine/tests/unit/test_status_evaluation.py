"""Targets judged from hand-made data by `results.evaluation`: baseline rule, 序时进度 status, Open SDG,
projection and early warning. Expected values are worked out in the comments."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.domain.targets import BaselineRule, Target
from indicator_engine.results import regions
from indicator_engine.results.evaluation import TargetSpec, evaluate

D = Decimal
CITY, YUEHU, YUJIANG, GUIXI = "360600", "360602", "360603", "360681"
DEATHS = CATALOGUE.definition("ps_deaths")
GDP_RATE = CATALOGUE.definition("ps_death_rate_gdp")
ND_RATE = CATALOGUE.definition("nd_death_rate")

# City-reported production-safety deaths. The 2016–2019 mean is (40 + 44 + 38 + 38) / 4 = 40;
# 2020 is the epidemic dip the 运城 plan steps around.
DEATHS_DATA = {
    (CITY, "ps_deaths", year): D(value)
    for year, value in {2016: 40, 2017: 44, 2018: 38, 2019: 38, 2020: 20, 2021: 38, 2022: 37}.items()
}


def _decrease(rule: BaselineRule, *, binding: bool = True) -> TargetSpec:
    target = Target(
        type="decrease_pct",
        value=D(15),
        strict=False,
        baseline_rule=rule,
        baseline_year=2020,
        target_year=2025,
        nature="binding" if binding else "expected",
    )
    return TargetSpec(target, DEATHS, CITY, 2021)


class TestDecreaseWithMultiYearBaseline:
    def test_mean_baseline_on_track(self) -> None:
        evaluation = evaluate(_decrease(BaselineRule.mean_of(2016, 2019)), DEATHS_DATA, {})
        progress = evaluation.progress
        assert progress is not None
        # B = 40, target value V = 40 × (1 − 15 %) = 34. Judged year 2022 (the latest with data):
        # due fraction (2022 − 2020) / (2025 − 2020) = 0.4; required 40 + (34 − 40) × 0.4 = 37.6.
        # x = 37: achieved (40 − 37) / (40 − 34) = 0.5 of the way, r = 0.5 / 0.4 = 1.25 ≥ 1: on track.
        assert evaluation.baseline.value == D(40)
        assert (evaluation.year, evaluation.value) == (2022, D(37))
        assert progress.target_value == D(34)
        assert progress.due_fraction == D("0.4")
        assert progress.required_value == D("37.6")
        assert progress.progress_ratio == D("1.25")
        assert evaluation.status == "on_track"

    def test_single_year_baseline_is_seriously_lagging(self) -> None:
        evaluation = evaluate(_decrease(BaselineRule.single(2019)), DEATHS_DATA, {})
        progress = evaluation.progress
        assert progress is not None
        # B = 38, V = 38 × 0.85 = 32.3; required in 2022: 38 − 5.7 × 0.4 = 35.72. x = 37 covered
        # (38 − 37) / 5.7 = 0.1754… of the way: r = 0.1754… / 0.4 = 0.4385… < 0.5: seriously lagging.
        assert progress.target_value == D("32.3")
        assert progress.required_value == D("35.72")
        assert evaluation.status == "seriously_lagging"

    def test_open_sdg_second_opinion(self) -> None:
        evaluation = evaluate(_decrease(BaselineRule.mean_of(2016, 2019)), DEATHS_DATA, {})
        sdg = evaluation.open_sdg
        assert sdg is not None
        # Observed CAGR (37/40)^(1/2) − 1 = 0.961769 − 1 = −0.038231; required (34/40)^(1/5) − 1 =
        # 0.968019 − 1 = −0.031981; R = 0.038231 / 0.031981 = 1.1954 ≥ 0.95: on track;
        # score (1.1954 − 0.6) / 0.7 × 5 = 4.253.
        assert sdg.category == "on_track"
        assert sdg.measure is not None
        assert D("1.195") < sdg.measure < D("1.196")
        assert sdg.score is not None
        assert D("4.25") < sdg.score < D("4.26")

    def test_projection_through_the_baseline_and_the_years_since(self) -> None:
        evaluation = evaluate(_decrease(BaselineRule.mean_of(2016, 2019)), DEATHS_DATA, {})
        projection = evaluation.projection
        assert projection is not None
        # Points (2020, 40), (2021, 38), (2022, 37): mean year 2021, mean value 115/3, slope
        # [(−1)(40 − 115/3) + (1)(37 − 115/3)] / 2 = −1.5; at 2025: 115/3 − 1.5 × 4 = 97/3 = 32.33…
        # (34 significant digits), below 34: projected to be met, no warning.
        assert projection.method == "linear_trend"
        assert projection.years_used == (2020, 2021, 2022)
        assert projection.value == D("32.33333333333333333333333333333333")
        assert evaluation.outcome == "met"
        assert not evaluation.warning

    def test_projected_miss_of_a_binding_target_warns_an_expected_one_does_not(self) -> None:
        rising = DEATHS_DATA | {(CITY, "ps_deaths", 2021): D(41), (CITY, "ps_deaths", 2022): D(42)}
        # Points (2020, 40), (2021, 41), (2022, 42): slope 1, at 2025: 45 > 34, a miss.
        binding = evaluate(_decrease(BaselineRule.mean_of(2016, 2019)), rising, {})
        assert binding.projection is not None
        assert binding.projection.value == D(45)
        assert (binding.outcome, binding.warning) == ("miss", True)
        expected = evaluate(_decrease(BaselineRule.mean_of(2016, 2019), binding=False), rising, {})
        assert (expected.outcome, expected.warning) == ("miss", False)

    def test_missing_baseline_year_is_no_data(self) -> None:
        data = {key: value for key, value in DEATHS_DATA.items() if key[2] != 2017}
        evaluation = evaluate(_decrease(BaselineRule.mean_of(2016, 2019)), data, {})
        assert (evaluation.status, evaluation.reason) == ("no_data", "baseline_incomplete")
        assert [(m.region_code, m.year) for m in evaluation.baseline.missing] == [(CITY, 2017)]


def _rate_data(year_2025: tuple[int, int, int]) -> dict[tuple[str, str, int], Decimal]:
    """Counties' deaths with GDP 300 / 100 / 100 (亿元) in 2020 and 2025."""
    data: dict[tuple[str, str, int], Decimal] = {}
    for year, deaths in ((2020, (6, 4, 10)), (2025, year_2025)):
        for county, count, gdp in zip((YUEHU, YUJIANG, GUIXI), deaths, (300, 100, 100), strict=True):
            data[(county, "ps_deaths", year)] = D(count)
            data[(county, "gdp", year)] = D(gdp)
    return data


def _bound(strict: bool) -> TargetSpec:
    target = Target(
        type="max",
        value=D("0.02"),
        strict=strict,
        baseline_rule=BaselineRule.single(2020),
        baseline_year=2020,
        target_year=2025,
        nature="binding",
    )
    return TargetSpec(target, GDP_RATE, CITY, 2021)


class TestBoundExactlyAtTheLimit:
    # 2020: (6 + 4 + 10) / 500 = 0.04. 2025: (3 + 2 + 5) / 500 = 0.02 exactly, the limit.

    def test_non_strict_bound_is_met_at_the_limit(self) -> None:
        evaluation = evaluate(_bound(strict=False), _rate_data((3, 2, 5)), regions.tree(CITY))
        assert evaluation.baseline.value == D("0.04")
        assert (evaluation.year, evaluation.value) == (2025, D("0.02"))
        assert evaluation.status == "met"
        assert (evaluation.projection_method, evaluation.outcome, evaluation.warning) == (
            "observed",
            "met",
            False,
        )

    def test_strict_bound_is_missed_at_the_limit(self) -> None:
        evaluation = evaluate(_bound(strict=True), _rate_data((3, 2, 5)), regions.tree(CITY))
        # ＜0.02 is not satisfied by 0.02, and the target year has come: seriously lagging, and a binding
        # target observed to miss raises the warning.
        assert evaluation.status == "seriously_lagging"
        assert (evaluation.outcome, evaluation.warning) == ("miss", True)

    def test_one_death_fewer_meets_the_strict_bound(self) -> None:
        evaluation = evaluate(_bound(strict=True), _rate_data((3, 2, 4)), regions.tree(CITY))
        assert evaluation.value == D("0.018")  # 9 / 500
        assert evaluation.status == "met"


class TestAnnualAverageTarget:
    # 年均每百万人口因自然灾害死亡率 ＜ 1.0 over 2021–2025, baseline 2020, city figures, population
    # 1,000,000 every year; deaths 2020: 3, 2021: 2, 2022: 1.
    DATA: ClassVar[dict[tuple[str, str, int], Decimal]] = {
        **{(CITY, "resident_population", year): D(1_000_000) for year in (2020, 2021, 2022)},
        (CITY, "nd_deaths", 2020): D(3),
        (CITY, "nd_deaths", 2021): D(2),
        (CITY, "nd_deaths", 2022): D(1),
    }

    def _spec(self) -> TargetSpec:
        target = Target(
            type="max",
            value=D("1.0"),
            strict=True,
            baseline_rule=BaselineRule.single(2020),
            baseline_year=2020,
            target_year=2025,
            nature="binding",
        )
        return TargetSpec(target, ND_RATE, CITY, 2021)

    def test_current_value_pools_the_plan_years_so_far(self) -> None:
        evaluation = evaluate(self._spec(), self.DATA, {})
        progress = evaluation.progress
        assert progress is not None
        # Baseline 3 × 10^6 / 10^6 = 3. Judged year 2022: 年均 2021–2022 = (2 + 1) × 10^6 / 2 × 10^6 = 1.5.
        assert evaluation.baseline.value == D(3)
        assert (evaluation.year, evaluation.value) == (2022, D("1.5"))
        assert evaluation.current is not None
        assert evaluation.current.years == (2021, 2022)
        # Required in 2022: 3 + (1.0 − 3) × 2/5 = 2.2; x = 1.5 covered (3 − 1.5) / 2 = 0.75 of the way
        # against 0.4 due: r = 1.875, on track (not met: 1.5 is not below 1.0).
        assert progress.required_value == D("2.2")
        assert progress.progress_ratio == D("1.875")
        assert evaluation.status == "on_track"

    def test_projection_pools_projected_numerators_and_denominators(self) -> None:
        evaluation = evaluate(self._spec(), self.DATA, {})
        projection = evaluation.projection
        assert projection is not None
        # Each missing year from the years before it. Deaths: 2023 from (3, 2, 1): slope −1 → 0;
        # 2024 from (3, 2, 1, 0): x̄ = 2021.5, ȳ = 1.5, slope −1 → 1.5 − 2.5 = −1, held at 0;
        # 2025 from (3, 2, 1, 0, 0): x̄ = 2022, ȳ = 1.2, Sxy = −3.6 − 0.8 + 0 − 1.2 − 2.4 = −8, Sxx = 10,
        # slope −0.8 → 1.2 − 2.4 < 0, held at 0. Population stays 1,000,000.
        # 年均 2021–2025 = (2 + 1 + 0 + 0 + 0) × 10^6 / 5,000,000 = 0.6 < 1.0: met, no warning.
        assert projection.method == "linear_trend"
        assert projection.value == D("0.6")
        assert (evaluation.outcome, evaluation.warning) == ("met", False)
