"""The Open SDG progress assessment on both sides of every threshold.

With a target: baseline 100 in 2020, target value 59.049 in 2025, so
    CAGR_T = (59.049 / 100) ^ (1/5) − 1 = 0.9 − 1 = −0.1   (0.9^5 = 0.59049)
and, one year later (2021), CAGR = y / 100 − 1, R = −1 × CAGR / 0.1 = (100 − y) / 10.
Score: −5 + (R + 0.6) × 5 / 1.2 below R = 0.6, (R − 0.6) × 5 / 0.7 from 0.6 to 1.3.
"""

from __future__ import annotations

from decimal import Context, Decimal

import pytest

from indicator_engine.domain.open_sdg import (
    assess_with_target,
    assess_without_target,
    cagr,
    scaling_factor,
    score_with_target,
    score_without_target,
)
from indicator_engine.domain.targets import BaselineRule, Target

D = Decimal
MAX = Target("max", D("59.049"), False, BaselineRule.single(2020), 2020, 2025, "binding")


@pytest.mark.parametrize(
    ("latest", "category", "ratio", "score"),
    [
        # R = 0.95 exactly: on track; score (0.95 − 0.6) × 5 / 0.7 = 2.5
        ("90.5", "on_track", D("0.95"), D("2.5")),
        # R = 0.94: acceleration needed; score 0.34 × 5 / 0.7 = 17/7 = 2.428571…
        ("90.6", "acceleration_needed", D("0.94"), D("2.428571428571428571428571428571429")),
        # R = 0.6 exactly: acceleration needed, score 0
        ("94", "acceleration_needed", D("0.6"), D(0)),
        # R = 0.59: limited progress; score −5 + 1.19 × 5 / 1.2 = −5 + 4.958333… = −0.041666…
        # (the quotient has 34 significant digits, 4.958…3, so the difference has 33 decimals)
        ("94.1", "limited_progress", D("0.59"), D("-0.041666666666666666666666666666667")),
        # R = 0 exactly (no change): limited progress, score −2.5
        ("100", "limited_progress", D(0), D("-2.5")),
        # R = −0.01: deterioration; score −5 + 0.59 × 5 / 1.2 = −5 + 2.458333… = −2.541666…
        ("100.1", "deterioration", D("-0.01"), D("-2.541666666666666666666666666666667")),
        # R = −0.6: score −5
        ("106", "deterioration", D("-0.6"), D(-5)),
        # R = 1.3: score 5; R = 1.5 above the top: 5
        ("87", "on_track", D("1.3"), D(5)),
        ("85", "on_track", D("1.5"), D(5)),
    ],
)
def test_with_target_thresholds(latest: str, category: str, ratio: Decimal, score: Decimal) -> None:
    result = assess_with_target(MAX, D(100), 2021, D(latest))
    assert result.required_cagr == D("-0.1")
    assert result.observed_cagr == D(latest) / 100 - 1
    assert (result.category, result.measure, result.score) == (category, ratio, score)


def test_target_achieved_scores_five_and_strictness_counts() -> None:
    assert assess_with_target(MAX, D(100), 2021, D("59.049")).category == "target_achieved"
    assert assess_with_target(MAX, D(100), 2021, D("59.049")).score == D(5)
    strict = Target("max", D("59.049"), True, BaselineRule.single(2020), 2020, 2025)
    # Not achieved at the strict limit; R = 40.951 / 10 = 4.0951 → on track.
    result = assess_with_target(strict, D(100), 2021, D("59.049"))
    assert (result.category, result.measure, result.score) == ("on_track", D("4.0951"), D(5))


def test_several_years_of_growth() -> None:
    # 2020 → 2023: (72.9 / 100) ^ (1/3) − 1 = 0.9 − 1 = −0.1 = CAGR_T: R = 1; score 0.4 × 5 / 0.7 = 20/7.
    result = assess_with_target(MAX, D(100), 2023, D("72.9"))
    assert (result.category, result.observed_cagr, result.measure) == ("on_track", D("-0.1"), D(1))
    assert result.score == D("2.857142857142857142857142857142857")


def test_decrease_pct_target_is_the_same_as_its_target_value() -> None:
    # 下降40.951% from 100 → 59.049.
    decrease = Target("decrease_pct", D("40.951"), False, BaselineRule.single(2020), 2020, 2025)
    assert assess_with_target(decrease, D(100), 2021, D("90.5")).measure == D("0.95")


def test_min_target_counts_growth_as_progress() -> None:
    # 50 → ≥ 80.5255 (= 50 × 1.1^5): CAGR_T = 0.1; 2021 at 55: CAGR 0.1, R = 1.
    target = Target("min", D("80.5255"), False, BaselineRule.single(2020), 2020, 2025)
    result = assess_with_target(target, D(50), 2021, D(55))
    assert (result.category, result.required_cagr, result.measure) == ("on_track", D("0.1"), D(1))
    # Falling to 45: CAGR −0.1, R = −1 → deterioration.
    assert assess_with_target(target, D(50), 2021, D(45)).category == "deterioration"


def test_zero_required_growth() -> None:
    # A strict limit equal to the baseline (＜100 from 100): any fall is on track, none is limited.
    target = Target("max", D(100), True, BaselineRule.single(2020), 2020, 2025)
    assert assess_with_target(target, D(100), 2021, D(99)).category == "target_achieved"
    stay = assess_with_target(target, D(100), 2021, D(100))
    assert (stay.category, stay.score) == ("limited_progress", D("-2.5"))
    worse = assess_with_target(target, D(100), 2021, D(101))
    assert (worse.category, worse.score) == ("deterioration", D(-5))


def test_zero_base_value_is_replaced_by_a_thousandth() -> None:
    # min 1 from a base of 0 → 0.001: CAGR_T = 1000^(1/5) − 1 = 10^0.6 − 1 = 2.981071705534972507702523…
    target = Target("min", D(1), False, BaselineRule.single(2020), 2020, 2025)
    result = assess_with_target(target, D(0), 2021, D("0.01"))
    assert result.required_cagr is not None
    assert abs(result.required_cagr - D("2.98107170553497250770252305087")) < D("1e-28")
    # CAGR = 0.01 / 0.001 − 1 = 9; R = 9 / 2.98107… = 3.019… → on track
    assert (result.observed_cagr, result.category) == (D(9), "on_track")


@pytest.mark.parametrize(
    ("latest_year", "latest", "series", "reason"),
    [
        (2020, "90", (), "no_data_after_base_year"),
        (2021, "90", (D(-1),), "values_not_all_positive_or_all_negative"),
        (2022, "90", (D(0),), "values_not_all_positive_or_all_negative"),
    ],
)
def test_unable_to_assess(latest_year: int, latest: str, series: tuple[Decimal, ...], reason: str) -> None:
    result = assess_with_target(MAX, D(100), latest_year, D(latest), series=series)
    assert (result.category, result.score, result.reason) == ("unable_to_assess", None, reason)


def test_all_negative_values_flip_the_direction() -> None:
    # A lower-is-better series from −100 to −110: the ratio −110 / −100 = 1.1 grows, which for negative
    # values is a fall; with d flipped to +1 the directed growth is +0.1.
    result = assess_without_target("lower_is_better", 2020, D(-100), 2021, D(-110))
    assert (result.observed_cagr, result.measure, result.category) == (D("0.1"), D("0.1"), "on_track")


@pytest.mark.parametrize(
    ("latest", "category", "score"),
    [
        # growth 1.5 %: on track, score 2.5
        ("101.5", "on_track", D("2.5")),
        # 1.4 %: acceleration needed, score (0.014 − 0.005) / 0.01 × 2.5 = 2.25
        ("101.4", "acceleration_needed", D("2.25")),
        # 0.5 %: acceleration needed, score 0
        ("100.5", "acceleration_needed", D(0)),
        # 0.4 %: limited, score −2.5 + 0.004 / 0.005 × 2.5 = −0.5
        ("100.4", "limited_progress", D("-0.5")),
        # 0: limited, score −2.5
        ("100", "limited_progress", D("-2.5")),
        # −0.1 %: deterioration, score −5 + (−0.001 + 0.02) / 0.02 × 2.5 = −5 + 2.375 = −2.625
        ("99.9", "deterioration", D("-2.625")),
        # −2 %: score −5
        ("98", "deterioration", D(-5)),
        # 1.75 %: score 2.5 + 0.0025 / 0.005 × 2.5 = 3.75; 2 %: 5
        ("101.75", "on_track", D("3.75")),
        ("102", "on_track", D(5)),
    ],
)
def test_without_target_thresholds(latest: str, category: str, score: Decimal) -> None:
    result = assess_without_target("higher_is_better", 2020, D(100), 2021, D(latest))
    assert (result.category, result.score, result.scaling) == (category, score, D(1))


def test_without_target_lower_is_better() -> None:
    # 100 → 98.5: CAGR −1.5 %, directed +1.5 %: on track (natural minimum 0 does not scale).
    result = assess_without_target("lower_is_better", 2020, D(100), 2021, D("98.5"), natural_min=D(0))
    assert (result.measure, result.category, result.scaling) == (D("0.015"), "on_track", D(1))


def _c_near_100(base: Decimal) -> Decimal:
    # Independently: C = (exp(ln(100 / base) / 15) − 1) / 0.015, at 50 digits.
    ctx = Context(prec=50)
    root = ctx.exp(ctx.divide(ctx.ln(ctx.divide(D(100), base)), D(15)))
    return ctx.divide(ctx.subtract(root, D(1)), D("0.015"))


def test_scaling_near_a_natural_maximum() -> None:
    c = scaling_factor("higher_is_better", D(99), D(100))
    assert abs(c - _c_near_100(D(99))) < D("1e-30")
    assert D("0.0446") < c < D("0.0447")
    # The property C is built on: 15 years at the on-track growth 1.5 %·C end at the limit.
    assert abs(D(99) * (1 + D("0.015") * c) ** 15 - 100) < D("1e-20")
    # Far from the limit there is no scaling; at the limit the thresholds fall to zero.
    assert scaling_factor("higher_is_better", D(50), D(100)) == D(1)
    assert scaling_factor("higher_is_better", D(100), D(100)) == D(0)
    assert scaling_factor("lower_is_better", D(5), D(0)) == D(1)
    assert scaling_factor("higher_is_better", D(5), None) == D(1)


def test_thresholds_scaled_near_the_limit() -> None:
    # Base 99 %, C ≈ 0.04468: on-track growth ≥ 0.0670 %, moderate ≥ 0.0223 %.
    # 99 → 99.07: growth 0.0707 % → on track; 99 → 99.05: 0.0505 % → acceleration needed;
    # 99 → 99.01: 0.0101 % → limited progress.
    def category(latest: str) -> str:
        return assess_without_target(
            "higher_is_better", 2020, D(99), 2021, D(latest), natural_max=D(100)
        ).category

    assert category("99.07") == "on_track"
    assert category("99.05") == "acceleration_needed"
    assert category("99.01") == "limited_progress"
    assert category("98.9") == "deterioration"


def test_base_at_the_limit() -> None:
    held = assess_without_target("higher_is_better", 2020, D(100), 2021, D(100), natural_max=D(100))
    assert (held.category, held.score, held.scaling) == ("on_track", D(5), D(0))
    # 100 → 99: −1 %, score −5 + 0.01 / 0.02 × 2.5 = −3.75
    fell = assess_without_target("higher_is_better", 2020, D(100), 2021, D(99), natural_max=D(100))
    assert (fell.category, fell.score) == ("deterioration", D("-3.75"))


def test_score_functions_are_continuous_at_the_category_edges() -> None:
    assert score_with_target(D("0.95")) == D("2.5")
    assert score_with_target(D(0)) == D("-2.5")
    assert score_without_target(D("0.015")) == D("2.5")
    assert score_without_target(D("0.005")) == D(0)
    assert score_without_target(D("0.0075"), D("0.5")) == D("2.5")  # 1.5 % × 0.5


def test_cagr() -> None:
    assert cagr(D(100), D(121), 2) == D("0.1")
    assert cagr(D(100), D(81), 2) == D("-0.1")
    # 1/3 − 1 with 1/3 to 34 significant digits: −0.666…67
    assert cagr(D(3), D(1), 1) == D("-0.6666666666666666666666666666666667")
    with pytest.raises(ValueError, match="later year"):
        cagr(D(1), D(2), 0)
