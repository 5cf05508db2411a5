"""The checks one data value passes before it is stored, row by row, without the database.

Numbers go through the rules of `domain.decimals` (exact, finite, at most 34 significant digits), with
one addition for people typing figures: a comma is never read. `1,234` could be one thousand two
hundred and thirty-four or, in the European habit, 1.234, so a value with thousands separators is
rejected as ambiguous with its own reason, not guessed. Full-width digits (１２３．５) have one reading
and are accepted. Values are converted to the element's canonical unit when a unit is given.

The rules that need other rows or stored values (duplicates within an upload, deaths without
accidents, the jump against last year, changes to approved figures) run in SQL, see `bulk.py`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from indicator_engine.data import regions
from indicator_engine.domain.catalogue import CatalogueError, DataElement
from indicator_engine.domain.decimals import MAX_INPUT_DIGITS, significant_digits

_PLAIN = re.compile(r"-?\d+(\.\d+)?", re.ASCII).fullmatch
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(,\d{3})+(\.\d+)?", re.ASCII).fullmatch
_DIGITS = re.compile(r"\d+", re.ASCII).fullmatch
_REGION = re.compile(r"\d{6}", re.ASCII).fullmatch

SOURCE_MAX = 200


@dataclass(frozen=True, slots=True)
class RowError:
    row: int  # 1-based: the line of a CSV (header = 1), the row of a sheet, the item of a JSON list
    field: str | None
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class CleanRow:
    row: int
    element_code: str
    region_code: str
    year: int
    month: int  # 0: the whole year
    value: Decimal
    source: str | None


Raw = str | int | float | Decimal | None


def _text(raw: Raw) -> str:
    if raw is None:
        return ""
    if isinstance(raw, str):
        return raw.strip()
    return str(raw)


def _normalized(text: str) -> str:
    # NFKC turns full-width digits, points, minus signs and commas into ASCII ones.
    return text if text.isascii() else unicodedata.normalize("NFKC", text).strip()


def parse_value(raw: Raw) -> Decimal | tuple[str, str]:
    """A value as an exact Decimal, or (code, Chinese reason) when it is not one."""
    if isinstance(raw, bool):
        return ("not_a_number", "不是有效的数值")
    if isinstance(raw, int):
        number = Decimal(raw)
    elif isinstance(raw, float):
        # Only .xlsx cells arrive as floats (Excel stores numbers as binary doubles); their shortest
        # round-trip form is the number Excel displays.
        number = Decimal(repr(raw))
    elif isinstance(raw, Decimal):
        number = raw
    else:
        text = _text(raw)
        if not text:
            return ("missing_value", "缺少数值")
        if not _PLAIN(text):
            text = _normalized(text)
            if "," in text:
                if _THOUSANDS(text):
                    return ("thousands_separator", "数值含千位分隔符，含义不明确，请去掉分隔符后填写")
                return ("not_a_number", f"不是有效的数值：{text[:40]}")
            try:
                number = Decimal(text)
            except InvalidOperation:
                return ("not_a_number", f"不是有效的数值：{text[:40]}")
        else:
            number = Decimal(text)
    if not number.is_finite():
        return ("not_finite", "数值不能为 NaN 或无穷大")
    if significant_digits(number) > MAX_INPUT_DIGITS:
        return ("too_many_digits", f"数值的有效数字超过 {MAX_INPUT_DIGITS} 位")
    return number


def parse_int(raw: Raw) -> int | None:
    """An integer written as digits (full-width accepted) or an integral number cell; None otherwise."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw
    if isinstance(raw, float | Decimal):
        try:
            return int(raw) if raw == int(raw) else None
        except (ValueError, OverflowError, InvalidOperation):
            return None  # NaN, Infinity
    text = _normalized(_text(raw))
    return int(text) if text and _DIGITS(text) else None


def region_as_text(raw: Raw) -> str:
    """A region code cell as the checks read it (full-width digits and number cells made text)."""
    text = _normalized(_text(raw))
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        text = str(parse_int(raw) or text)
    return text


class RowChecker:
    """Checks rows against the elements, the region list, the caller's jurisdiction and the year range."""

    def __init__(
        self,
        elements: Mapping[str, DataElement],
        *,
        jurisdiction: str,
        min_year: int,
        max_year: int,
    ) -> None:
        self.elements = elements
        self.jurisdiction = jurisdiction
        self.min_year = min_year
        self.max_year = max_year
        self.known_regions = regions.parents()

    def check(
        self,
        row: int,
        element_code: Raw,
        region_code: Raw,
        year: Raw,
        month: Raw,
        value: Raw,
        unit: Raw = None,
        source: Raw = None,
    ) -> CleanRow | list[RowError]:
        errors: list[RowError] = []

        element_text = _normalized(_text(element_code))
        element = self.elements.get(element_text)
        if not element_text:
            errors.append(RowError(row, "element_code", "missing_element", "缺少数据元素代码"))
        elif element is None:
            errors.append(
                RowError(row, "element_code", "unknown_element", f"未知的数据元素代码：{element_text[:64]}")
            )

        region_text = region_as_text(region_code)
        if not _REGION(region_text):
            errors.append(
                RowError(row, "region_code", "invalid_region_code", "行政区划代码应为6位数字（GB/T 2260）")
            )
        elif region_text not in self.known_regions:
            errors.append(
                RowError(row, "region_code", "unknown_region", f"未知的行政区划代码：{region_text}")
            )
        elif not region_text.startswith(self.jurisdiction):
            errors.append(
                RowError(
                    row, "region_code", "outside_jurisdiction", f"地区 {region_text} 不在当前账号的管辖范围内"
                )
            )

        year_number = parse_int(year)
        if year_number is None:
            errors.append(RowError(row, "year", "invalid_year", "年份应为4位整数"))
        elif not self.min_year <= year_number <= self.max_year:
            errors.append(
                RowError(row, "year", "year_out_of_range", f"年份应在 {self.min_year}–{self.max_year} 之间")
            )

        month_number = 0
        if month is not None and _text(month) != "":
            parsed_month = parse_int(month)
            if parsed_month is None or not 1 <= parsed_month <= 12:
                errors.append(RowError(row, "month", "invalid_month", "月份应为1–12；全年数据请留空"))
            else:
                month_number = parsed_month

        number = parse_value(value)
        if isinstance(number, tuple):
            errors.append(RowError(row, "value", *number))
        elif element is not None:
            unit_text = _normalized(_text(unit)) or None
            try:
                number = element.to_canonical(number, unit_text)
            except CatalogueError:
                accepted = "、".join(element.accepted_units())
                errors.append(
                    RowError(
                        row,
                        "unit",
                        "unknown_unit",
                        f"单位“{unit_text}”不适用于{element.name}，可用：{accepted}",
                    )
                )
            else:
                problems = element.problems(number)
                if "negative" in problems:
                    errors.append(RowError(row, "value", "negative", f"{element.name}不能为负数"))
                if "not_integral" in problems:
                    errors.append(RowError(row, "value", "not_integral", f"{element.name}应为整数"))

        source_text = _text(source) or None
        if source_text is not None and len(source_text) > SOURCE_MAX:
            errors.append(RowError(row, "source", "source_too_long", f"来源不能超过 {SOURCE_MAX} 个字符"))

        if errors:
            return errors
        assert isinstance(number, Decimal)
        assert year_number is not None
        return CleanRow(row, element_text, region_text, year_number, month_number, number, source_text)
