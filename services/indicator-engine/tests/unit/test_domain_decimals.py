"""The exact-decimal policy: what enters, what is exact, what is rounded and how."""

from __future__ import annotations

from decimal import Decimal, Inexact

import pytest

from indicator_engine.domain.decimals import (
    InvalidNumberError,
    check_finite,
    divide,
    mean,
    mul,
    present,
    significant_digits,
    to_decimal,
    total,
)


@pytest.mark.parametrize(
    "value",
    [
        0.03,
        True,
        float("nan"),
        Decimal("NaN"),
        Decimal("sNaN"),
        Decimal("Infinity"),
        Decimal("-Infinity"),
        "NaN",
        "inf",
        "-Infinity",
        "1,234",
        "1_000",
        "",
        "十二",
        None,
        "1." + "1" * 34,  # 35 significant digits
    ],
)
def test_to_decimal_rejects(value: object) -> None:
    with pytest.raises(InvalidNumberError):
        to_decimal(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.03", Decimal("0.03")),
        (" 12.5 ", Decimal("12.5")),
        ("１２.５", Decimal("12.5")),  # full-width digits read as half-width
        (7, Decimal(7)),
        (Decimal("1.500"), Decimal("1.5")),
        ("1e3", Decimal(1000)),
    ],
)
def test_to_decimal_accepts(value: object, expected: Decimal) -> None:
    assert to_decimal(value) == expected


def test_check_finite() -> None:
    assert check_finite(Decimal("1.5")) == Decimal("1.5")
    with pytest.raises(InvalidNumberError):
        check_finite(Decimal("NaN"))


def test_significant_digits() -> None:
    assert significant_digits(Decimal("1.500")) == 2
    assert significant_digits(Decimal("0.0030")) == 1
    assert significant_digits(Decimal(0)) == 0
    assert significant_digits(Decimal("1200")) == 2


def test_division_is_exact_when_it_terminates_and_34_digits_otherwise() -> None:
    # 12 / 400 = 0.03 exactly; 1 / 3 = 0.333… cut to 34 significant digits, half-even.
    assert divide(Decimal(12), Decimal(400)) == Decimal("0.03")
    assert str(divide(Decimal(1), Decimal(3))) == "0." + "3" * 34
    # 2 / 3 = 0.666…6|6… rounds the 34th digit up to 7.
    assert str(divide(Decimal(2), Decimal(3))) == "0." + "6" * 33 + "7"


def test_division_by_zero_is_never_silent() -> None:
    with pytest.raises(ZeroDivisionError):
        divide(Decimal(1), Decimal(0))


def test_sums_and_products_are_exact_or_raise() -> None:
    a = Decimal("1234567890123456789012345678901234")  # 34 digits
    assert total([Decimal("0.1")] * 10) == Decimal(1)
    # 68 digits: exact within the 100-digit context (the default 28-digit context would round it).
    assert mul(a, a) == Decimal(int(a) ** 2)
    with pytest.raises(Inexact):
        mul(mul(a, a), mul(a, a))  # 133 digits would need rounding: refused, not rounded


def test_mean() -> None:
    # (120 + 110 + 100 + 90) / 4 = 420 / 4 = 105
    assert mean([Decimal(120), Decimal(110), Decimal(100), Decimal(90)]) == Decimal(105)
    with pytest.raises(ValueError, match="no values"):
        mean([])


def test_present_rounds_half_up_for_display() -> None:
    assert present(Decimal("0.0125"), 3) == Decimal("0.013")  # half-even would give 0.012
    assert str(present(Decimal("2.5"), 0)) == "3"
    assert str(present(Decimal("0.01"), 3)) == "0.010"
