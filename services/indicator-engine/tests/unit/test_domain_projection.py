"""Projection to the target year and the early warning, with the arithmetic by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.domain.projection import Method, Projection, early_warning, project, project_pooled
from indicator_engine.domain.targets import BaselineRule, Target

D = Decimal


def _series(**values: str) -> dict[int, Decimal]:
    return {int(year[1:]): D(v) for year, v in values.items()}


def test_linear_trend_on_a_straight_line() -> None:
    # 100, 96, 92 in 2021–2023: slope −4 a year → 2025: 92 − 8 = 84
    result = project(_series(y2021="100", y2022="96", y2023="92"), 2025)
    assert result == Projection("linear_trend", 2025, D(84), (2021, 2022, 2023))


def test_linear_trend_least_squares() -> None:
    # 10, 12, 11 in 2021–2023: x̄ = 2022, ȳ = 11, Σ(x−x̄)(y−ȳ) = (−1)(−1) + 0 + (1)(0) = 1,
    # Σ(x−x̄)² = 2 → slope 0.5 → 2025: 11 + 0.5 × 3 = 12.5
    assert project(_series(y2021="10", y2022="12", y2023="11"), 2025).value == D("12.5")


def test_linear_trend_with_a_gap_and_a_non_terminating_answer() -> None:
    # 1, 2, 2 in 2021, 2022, 2024 (x = 0, 1, 3): x̄ = 4/3, ȳ = 5/3,
    # Sxy = 8 − 3 × 4/3 × 5/3 = 4/3, Sxx = 10 − 3 × 16/9 = 14/3, slope = 2/7,
    # 2025 (x = 4): 5/3 + 2/7 × (4 − 4/3) = 5/3 + 16/21 = 51/21 = 17/7 = 2.428571…
    result = project(_series(y2021="1", y2022="2", y2024="2"), 2025)
    assert result.value == D("2.428571428571428571428571428571429")


def test_projection_is_clamped_at_a_natural_limit() -> None:
    # 10, 6 → slope −4 → 2025: 10 − 16 = −6, clamped at 0 deaths.
    result = project(_series(y2021="10", y2022="6"), 2025)
    assert (result.value, result.clamped) == (D(0), True)
    # A share rising past 100 %: 96, 98 → 2025: 104 → 100.
    share = project(_series(y2022="96", y2023="98"), 2025, upper=D(100))
    assert (share.value, share.clamped) == (D(100), True)


def test_compound_growth() -> None:
    # 100 (2021) → 81 (2023): ×0.81 per two years → 2025: 81 × 0.81 = 65.61
    assert project(_series(y2021="100", y2023="81"), 2025, "compound_growth").value == D("65.61")
    # 100 → 110 in one year → 2025 (three more): 110 × 1.1³ = 146.41
    assert project(_series(y2021="100", y2022="110"), 2025, "compound_growth").value == D("146.41")
    # 100 → 121 over two years → 2024 (one more): 121 × 1.21^(1/2) = 121 × 1.1 = 133.1
    assert project(_series(y2021="100", y2023="121"), 2024, "compound_growth").value == D("133.1")
    # Only the first and last years count: 2022's 500 changes nothing.
    assert project(_series(y2021="100", y2022="500", y2023="81"), 2025, "compound_growth").value == D("65.61")


@pytest.mark.parametrize(
    ("series", "method", "reason"),
    [
        ({2023: D(5)}, "linear_trend", "too_few_years"),
        ({}, "compound_growth", "too_few_years"),
        ({2021: D(0), 2022: D(3)}, "compound_growth", "non_positive_start"),
        ({2021: D(3), 2022: D(-1)}, "compound_growth", "negative_end"),
    ],
)
def test_no_projection(series: dict[int, Decimal], method: Method, reason: str) -> None:
    result = project(series, 2025, method)
    assert (result.value, result.reason) == (None, reason)


def test_the_target_year_must_be_ahead() -> None:
    with pytest.raises(ValueError, match="after the last observed year"):
        project(_series(y2024="1", y2025="2"), 2025)


def test_pooled_average_projected_element_by_element() -> None:
    # 年均每百万人口因自然灾害死亡率 over 2021–2025 with data for 2021–2023:
    #   deaths 4, 6, 8 → linear 10 (2024), 12 (2025); population 2000000 each year → 2000000, 2000000.
    #   (4 + 6 + 8 + 10 + 12) × 1000000 / (5 × 2000000) = 40000000 / 10000000 = 4
    rate = CATALOGUE.definition("nd_death_rate")
    deaths = _series(y2021="4", y2022="6", y2023="8")
    population = _series(y2021="2000000", y2022="2000000", y2023="2000000")
    result = project_pooled(deaths, population, range(2021, 2026), rate.formula.factor)
    assert (result.value, result.target_year, result.method) == (D(4), 2025, "linear_trend")
    # With only one year of deaths nothing can be projected.
    assert (
        project_pooled({2021: D(4)}, population, range(2021, 2026), rate.formula.factor).reason
        == "too_few_years"
    )
    # A window entirely observed is just the pooled value: (4 + 6 + 8) × 10⁶ / (6 × 10⁶) = 3
    assert project_pooled(deaths, population, range(2021, 2024), rate.formula.factor).value == D(3)
    zero = {2021: D(0), 2022: D(0)}
    assert project_pooled(deaths, zero, range(2021, 2023), rate.formula.factor).reason == "zero_denominator"


DECREASE = Target("decrease_pct", D(15), False, BaselineRule.mean_of(2016, 2019), 2020, 2025, "binding")


def test_early_warning_for_a_binding_target_projected_to_miss() -> None:
    # Baseline 105 → target 89.25. Deaths 102, 99, 96 (2021–2023): slope −3 → 2025: 90 > 89.25.
    projection = project(_series(y2021="102", y2022="99", y2023="96"), 2025)
    assert projection.value == D(90)
    warning = early_warning(DECREASE, D(105), projection)
    assert (warning.target_value, warning.projected_met, warning.warning) == (D("89.25"), False, True)
    # The same miss on an expected (预期性) target: no warning.
    expected = Target("decrease_pct", D(15), False, BaselineRule.mean_of(2016, 2019), 2020, 2025, "expected")
    assert early_warning(expected, D(105), projection).warning is False
    # Compound growth from 102 to 96 over two years: 96 × (96/102) = 90.352… → still a miss.
    compound = project(_series(y2021="102", y2022="99", y2023="96"), 2025, "compound_growth")
    assert compound.value is not None
    assert D("90.35") < compound.value < D("90.36")
    assert early_warning(DECREASE, D(105), compound).warning is True
    # 100 → 81 → 65.61 ≤ 89.25: projected met.
    assert early_warning(DECREASE, D(105), project(_series(y2021="100", y2023="81"), 2025)).warning is False


def test_early_warning_exactly_at_a_strict_limit() -> None:
    # 0.034 (2023), 0.032 (2024): slope −0.002 → 2025: 0.030, exactly the limit.
    projection = project({2023: D("0.034"), 2024: D("0.032")}, 2025)
    assert projection.value == D("0.03")
    strict = Target("max", D("0.03"), True, BaselineRule.single(2020), 2020, 2025, "binding")
    non_strict = Target("max", D("0.03"), False, BaselineRule.single(2020), 2020, 2025, "binding")
    assert early_warning(strict, D("0.04"), projection).warning is True
    assert early_warning(non_strict, D("0.04"), projection).warning is False


def test_no_projection_no_warning() -> None:
    projection = project({2023: D(96)}, 2025)
    warning = early_warning(DECREASE, D(105), projection)
    assert (warning.projected_met, warning.warning) == (None, False)


def test_projection_for_another_year_is_refused() -> None:
    with pytest.raises(ValueError, match="target's year"):
        early_warning(DECREASE, D(105), project(_series(y2021="1", y2022="2"), 2024))
