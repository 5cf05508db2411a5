"""Time-proportional progress and status, with the arithmetic worked out by hand."""

from __future__ import annotations

from decimal import Decimal

import pytest

from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.domain.compute import compute_baseline, compute_year
from indicator_engine.domain.decimals import divide
from indicator_engine.domain.progress import Thresholds, assess, due_fraction, required_value
from indicator_engine.domain.targets import BaselineRule, Target, TargetType, gap, is_met, sense, target_value

D = Decimal
CITY, A, B, C = "990100", "990101", "990102", "990103"
TREE = {CITY: [A, B, C]}

# 运城-style: deaths 下降15%, baseline the 2016–2019 mean standing for 2020, target year 2025.
DECREASE = Target("decrease_pct", D(15), False, BaselineRule.mean_of(2016, 2019), 2020, 2025, "binding")
# City deaths 2016–2019 from the counties: 120, 110, 100, 90 → B = 105.
# Target value: 105 × (1 − 15/100) = 105 × 0.85 = 89.25.
# Line: R(y) = 105 − 15.75 × (y − 2020) / 5, so 2021: 101.85, 2022: 98.7, 2023: 95.55, 2024: 92.4, 2025: 89.25.
# Ratio in 2022: r = (105 − x) × 5 / (15.75 × 2) = (105 − x) / 6.3.
DEATHS_2016_2019 = {
    (county, "ps_deaths", year): D(n)
    for year, ns in {2016: (50, 40, 30), 2017: (45, 40, 25), 2018: (40, 35, 25), 2019: (30, 35, 25)}.items()
    for county, n in zip((A, B, C), ns, strict=True)
}


def _baseline() -> Decimal:
    result = compute_baseline(
        CATALOGUE.definition("ps_deaths"), CITY, DECREASE.baseline_rule, DEATHS_2016_2019, TREE
    )
    assert result.value is not None
    return result.value


def test_decrease_target_from_a_multi_year_baseline() -> None:
    baseline = _baseline()
    assert baseline == D(105)
    assert target_value(DECREASE, baseline) == D("89.25")
    assert [required_value(DECREASE, baseline, y) for y in range(2020, 2026)] == [
        D(105),
        D("101.85"),
        D("98.7"),
        D("95.55"),
        D("92.4"),
        D("89.25"),
    ]
    assert due_fraction(DECREASE, 2022) == D("0.4")
    assert due_fraction(DECREASE, 2030) == D(1)
    assert due_fraction(DECREASE, 2018) == D(0)


@pytest.mark.parametrize(
    ("year", "value", "status", "ratio"),
    [
        # r = (105 − 98) / 6.3 = 7 / 6.3 = 1.111…: ahead of the line
        (2022, "98", "on_track", divide(D(7), D("6.3"))),
        # exactly on the line: r = 6.3 / 6.3 = 1
        (2022, "98.7", "on_track", D(1)),
        # just behind: r = 6.29 / 6.3 = 0.99841…
        (2022, "98.71", "lagging", divide(D("6.29"), D("6.3"))),
        # exactly half: r = 3.15 / 6.3 = 0.5
        (2022, "101.85", "lagging", D("0.5")),
        # under half: r = 3.14 / 6.3 = 0.4984…
        (2022, "101.86", "seriously_lagging", divide(D("3.14"), D("6.3"))),
        # worse than the baseline: r = −1 / 6.3
        (2022, "106", "seriously_lagging", divide(D(-1), D("6.3"))),
        # the target value itself, non-strict: met
        (2023, "89.25", "met", divide(D("15.75") * 5, D("15.75") * 3)),
        # one hundredth above it in 2023 (line 95.55): on track, not met
        (2023, "89.26", "on_track", divide(D("15.74") * 5, D("15.75") * 3)),
        # the target year has come and 90 > 89.25: missed
        (2025, "90", "seriously_lagging", divide(D(15) * 5, D("15.75") * 5)),
        # nothing is due in the baseline year: no worse than B is on track, worse is lagging
        (2020, "104", "on_track", None),
        (2020, "106", "lagging", None),
    ],
)
def test_status_against_the_line(year: int, value: str, status: str, ratio: Decimal | None) -> None:
    progress = assess(DECREASE, D(105), year, D(value))
    assert progress.status == status
    assert progress.met == (status == "met")
    assert progress.progress_ratio == ratio
    assert progress.target_value == D("89.25")


def _bound(kind: TargetType, value: str, strict: bool) -> Target:
    return Target(kind, D(value), strict, BaselineRule.single(2020), 2020, 2025, "binding")


def test_strict_and_non_strict_bounds_exactly_at_the_limit() -> None:
    # 亿元GDP死亡率 computed exactly 0.03 (3 deaths / 100 亿元).
    data = {(A, "ps_deaths", 2025): D(3), (A, "gdp", 2025): D(100)}
    value = compute_year(CATALOGUE.definition("ps_death_rate_gdp"), A, 2025, data, TREE).value
    assert value == D("0.03")
    strict, non_strict = _bound("max", "0.03", True), _bound("max", "0.03", False)  # ＜0.03 and ≤0.03
    baseline = D("0.035")
    assert not is_met(strict, baseline, value)
    assert is_met(non_strict, baseline, value)
    assert assess(strict, baseline, 2025, value).status == "seriously_lagging"
    assert assess(non_strict, baseline, 2025, value).status == "met"
    # Before the target year the strict bound is still on track at 0.03:
    # r = (0.005 − 0) × 5 / (0.005 × 3) = 1.666… ≥ 1.
    early = assess(strict, baseline, 2023, value)
    assert (early.status, early.met) == ("on_track", False)
    # Floors: 达到80% (≥) is met by 80; 超过60% (＞) is not met by 60.
    assert is_met(_bound("min", "80", False), D(70), D(80))
    assert not is_met(_bound("min", "60", True), D(50), D(60))
    assert is_met(_bound("min", "60", True), D(50), D("60.01"))
    # equals compares decimals: 100.0 equals 100.
    assert is_met(_bound("equals", "100", False), D(90), D("100.0"))


def test_min_target_progress() -> None:
    # 装备达标率 from 60 % (2020) to ≥ 80 % (2025): line 60 + 20 × (y − 2020) / 5 = 64, 68, 72, 76, 80.
    target = _bound("min", "80", False)
    assert required_value(target, D(60), 2023) == D(72)
    # 2023 at 70: r = (70 − 60) × 5 / (20 × 3) = 50 / 60 = 0.8333… → lagging
    progress = assess(target, D(60), 2023, D(70))
    assert (progress.status, progress.progress_ratio) == ("lagging", divide(D(50), D(60)))
    assert assess(target, D(60), 2023, D(72)).status == "on_track"
    assert assess(target, D(60), 2023, D(65)).status == "seriously_lagging"  # r = 25 / 60 < 0.5


def test_a_bound_held_at_baseline_must_keep_holding() -> None:
    # 煤矿百万吨死亡率 ＜0.04 with a baseline already at 0.03: the required value is the bound itself.
    target = _bound("max", "0.04", True)
    assert required_value(target, D("0.03"), 2022) == D("0.04")
    assert assess(target, D("0.03"), 2022, D("0.035")).status == "met"
    assert assess(target, D("0.03"), 2022, D("0.041")).status == "seriously_lagging"
    # A baseline exactly on the strict limit: staying there is lagging, going above is serious.
    assert assess(target, D("0.04"), 2022, D("0.04")).status == "lagging"
    assert assess(target, D("0.04"), 2022, D("0.045")).status == "seriously_lagging"
    assert assess(target, D("0.04"), 2022, D("0.039")).status == "met"


def test_equals_target_moves_toward_the_value_from_either_side() -> None:
    target = _bound("equals", "100", False)
    assert sense(target, D(80)) == 1
    assert sense(target, D(120)) == -1
    assert sense(target, D(100)) == 0
    # From 80 toward 100: gap 20; in 2022 at 90: r = (20 − 10) × 5 / (20 × 2) = 1.25 → on track.
    assert gap(target, D(80), D(90)) == D(10)
    assert assess(target, D(80), 2022, D(90)).status == "on_track"
    # Overshooting to 110 is as far as 90: the same ratio.
    assert assess(target, D(80), 2022, D(110)).progress_ratio == D("1.25")


def test_custom_thresholds() -> None:
    # r = 6.29 / 6.3 ≈ 0.998: lagging by default, on track with a 0.99 threshold.
    assert assess(DECREASE, D(105), 2022, D("98.71"), Thresholds(D("0.99"), D("0.5"))).status == "on_track"
    with pytest.raises(ValueError, match="thresholds"):
        Thresholds(D("0.5"), D("0.9"))


@pytest.mark.parametrize(
    "make",
    [
        lambda: Target("decrease_pct", D(0), False, BaselineRule.single(2020), 2020, 2025),
        lambda: Target("decrease_pct", D(101), False, BaselineRule.single(2020), 2020, 2025),
        lambda: Target("max", D(1), False, BaselineRule.single(2020), 2025, 2025),
        lambda: Target("max", D(1), False, BaselineRule.single(2021), 2020, 2025),
        lambda: Target("max", D("NaN"), False, BaselineRule.single(2020), 2020, 2025),
        lambda: BaselineRule(()),
        lambda: BaselineRule((2019, 2018)),
        lambda: BaselineRule.mean_of(2019, 2016),
    ],
)
def test_invalid_targets_are_refused(make: object) -> None:
    assert callable(make)
    with pytest.raises(ValueError):  # noqa: PT011 - InvalidNumberError and ValueError alike
        make()
