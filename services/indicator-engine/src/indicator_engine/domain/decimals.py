"""Exact decimals: the one arithmetic policy of every indicator computation.

Policy
- Every number is a `decimal.Decimal`. Where a number enters (`to_decimal`) floats and booleans are
  refused, and so are NaN, sNaN and ±Infinity, strings with thousands separators or underscores, and
  numbers with more than `MAX_INPUT_DIGITS` (34) significant digits. Full-width digits (１２.５) are
  read as their half-width form: there is only one way to read them.
- Addition, subtraction and multiplication run in `EXACT`: 100 significant digits with the `Inexact`
  signal trapped, so a sum or a product is exact or raises `ArithmeticError`; it is never silently
  rounded. Inputs and rounded intermediates have at most 34 significant digits, so a product of two of
  them (≤ 68 digits) and sums of thousands of values stay inside 100 digits.
- Division and fractional powers run in `ROUNDED`: 34 significant digits (the precision of IEEE 754
  decimal128), ROUND_HALF_EVEN. A quotient that has at most 34 significant digits comes out exactly
  (12 / 400 = 0.03); any other is correctly rounded to 34 digits. A rate is computed with one division
  (numerator × factor first, exactly, then ÷ denominator), so it carries at most one rounding.
- Comparisons with targets use these unrounded values. Rounding for display is separate: `present`
  quantises to the places a definition is published with, ROUND_HALF_UP (四舍五入, the convention of
  Chinese statistical publications); a presented value is never fed back into a comparison.
- Division by zero is not an error path: callers test the divisor and report an "undefined" result.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    Overflow,
)

MAX_INPUT_DIGITS = 34

EXACT = Context(
    prec=100,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow, Inexact],
)
ROUNDED = Context(
    prec=34,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
_PRESENT = Context(prec=100, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Overflow])

ZERO = Decimal(0)
ONE = Decimal(1)


class InvalidNumberError(ValueError):
    """A value that is not an exact, finite decimal (float, NaN, Infinity, text that is not a number)."""


def significant_digits(value: Decimal) -> int:
    """Significant digits of a finite value, trailing zeros not counted (1.500 → 2, 0 → 0)."""
    digits = value.as_tuple().digits
    stripped = len(digits)
    while stripped and digits[stripped - 1] == 0:
        stripped -= 1
    leading = 0
    while leading < stripped and digits[leading] == 0:
        leading += 1
    return stripped - leading


def check_finite(value: Decimal, what: str = "value") -> Decimal:
    """Return `value` if it is a finite Decimal; raise `InvalidNumberError` otherwise."""
    if not isinstance(value, Decimal) or isinstance(value, bool):
        raise InvalidNumberError(f"{what}: expected a Decimal, got {type(value).__name__}")
    if not value.is_finite():
        raise InvalidNumberError(f"{what}: {value} is not a finite number")
    return value


def to_decimal(value: object, what: str = "value") -> Decimal:
    """The one entrance for numbers: Decimal, int or numeric text; never float, NaN or Infinity."""
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidNumberError(f"{what}: {type(value).__name__} is not accepted, use Decimal or text")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, str):
        text = unicodedata.normalize("NFKC", value).strip()
        if not text or "_" in text or "," in text:
            raise InvalidNumberError(f"{what}: {value!r} is not a plain decimal number")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise InvalidNumberError(f"{what}: {value!r} is not a number") from None
    else:
        raise InvalidNumberError(f"{what}: {type(value).__name__} is not a number")
    check_finite(number, what)
    if significant_digits(number) > MAX_INPUT_DIGITS:
        raise InvalidNumberError(f"{what}: more than {MAX_INPUT_DIGITS} significant digits")
    return number


def add(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.add(a, b)


def sub(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.subtract(a, b)


def mul(a: Decimal, b: Decimal) -> Decimal:
    return EXACT.multiply(a, b)


def total(values: Iterable[Decimal]) -> Decimal:
    """Exact sum; 0 for no values."""
    result = ZERO
    for value in values:
        result = EXACT.add(result, value)
    return result


def divide(a: Decimal, b: Decimal) -> Decimal:
    """a / b to 34 significant digits (exact when the quotient fits); b must not be zero."""
    if b.is_zero():
        raise ZeroDivisionError("divide: the caller must report a zero divisor as undefined")
    return ROUNDED.divide(a, b)


def power(base: Decimal, exponent: Decimal) -> Decimal:
    """base ** exponent, correctly rounded to 34 significant digits (exact when the result fits)."""
    return ROUNDED.power(base, exponent)


def rounded(value: Decimal) -> Decimal:
    """`value` correctly rounded to 34 significant digits (a final result built from rounded parts)."""
    return ROUNDED.plus(value)


def mean(values: Iterable[Decimal]) -> Decimal:
    """Arithmetic mean: exact sum, one division."""
    items = list(values)
    if not items:
        raise ValueError("mean of no values")
    return divide(total(items), Decimal(len(items)))


def present(value: Decimal, places: int) -> Decimal:
    """The value as published: `places` decimal places, ROUND_HALF_UP. For display only."""
    return value.quantize(Decimal(1).scaleb(-places), context=_PRESENT)
