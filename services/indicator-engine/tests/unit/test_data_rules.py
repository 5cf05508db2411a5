"""The row rules of data values, without a database: numbers, codes, years, months, units, and the
bulk fast path agreeing with the full check."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest

from indicator_engine.data.bulk import Rejections, _take
from indicator_engine.data.parsing import csv_rows
from indicator_engine.data.rules import CleanRow, RowChecker, RowError, parse_int, parse_value
from indicator_engine.data.service import jump_flag
from indicator_engine.domain.catalogue import CATALOGUE


def checker(jurisdiction: str = "") -> RowChecker:
    return RowChecker(dict(CATALOGUE.elements), jurisdiction=jurisdiction, min_year=2000, max_year=2035)


class TestParseValue:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            ("12", Decimal("12")),
            ("0.035", Decimal("0.035")),
            ("１２３．５", Decimal("123.5")),  # full-width digits and point
            (" 7 ", Decimal("7")),
            (42, Decimal(42)),
            (0.1, Decimal("0.1")),  # an .xlsx cell: the number Excel shows, not the binary expansion
            ("1e3", Decimal("1E+3")),
        ],
    )
    def test_accepted(self, raw: object, expected: Decimal) -> None:
        result = parse_value(raw)  # type: ignore[arg-type]
        assert result == expected
        assert isinstance(result, Decimal)

    @pytest.mark.parametrize(
        ("raw", "code"),
        [
            ("1,234", "thousands_separator"),
            ("1,234.5", "thousands_separator"),
            ("１，２３４", "thousands_separator"),  # full-width comma is a comma too
            ("12,5", "not_a_number"),  # a decimal comma: not a thousands group either
            ("NaN", "not_finite"),
            ("Infinity", "not_finite"),
            ("-inf", "not_finite"),
            ("", "missing_value"),
            (None, "missing_value"),
            ("十二", "not_a_number"),
            ("12%", "not_a_number"),
            ("1" * 35, "too_many_digits"),
            (True, "not_a_number"),
        ],
    )
    def test_refused(self, raw: object, code: str) -> None:
        result = parse_value(raw)  # type: ignore[arg-type]
        assert isinstance(result, tuple)
        assert result[0] == code
        assert result[1]  # a Chinese reason

    def test_parse_int(self) -> None:
        assert parse_int("２０２１") == 2021
        assert parse_int(2021.0) == 2021
        assert parse_int(2021.5) is None
        assert parse_int(float("nan")) is None
        assert parse_int("2021年") is None


class TestRowChecker:
    def test_a_good_row_is_converted_to_the_canonical_unit(self) -> None:
        result = checker().check(5, "imt_employees", "140902", "2021", None, "3.5", "万人", " 统计局 ")
        assert result == CleanRow(5, "imt_employees", "140902", 2021, 0, Decimal("35000.0"), "统计局")

    def test_monthly(self) -> None:
        result = checker().check(2, "fire_deaths", "140902", 2021, "06", "1")
        assert isinstance(result, CleanRow)
        assert result.month == 6

    @pytest.mark.parametrize(
        ("fields", "field", "code"),
        [
            ({"element": "gdp_total"}, "element_code", "unknown_element"),
            ({"element": ""}, "element_code", "missing_element"),
            ({"region": "14090"}, "region_code", "invalid_region_code"),
            ({"region": "149999"}, "region_code", "unknown_region"),
            ({"region": "140100"}, "region_code", "outside_jurisdiction"),
            ({"year": "1999"}, "year", "year_out_of_range"),
            ({"year": "2036"}, "year", "year_out_of_range"),
            ({"year": "21"}, "year", None),
            ({"year": "二〇二一"}, "year", "invalid_year"),
            ({"month": "13"}, "month", "invalid_month"),
            ({"month": "0"}, "month", "invalid_month"),
            ({"value": "-1"}, "value", "negative"),
            ({"value": "1.5"}, "value", "not_integral"),  # a count of deaths
            ({"unit": "千人"}, "unit", "unknown_unit"),
            ({"source": "来" * 201}, "source", "source_too_long"),
        ],
    )
    def test_refused_with_field_and_reason(
        self, fields: dict[str, str], field: str, code: str | None
    ) -> None:
        row = {"element": "fire_deaths", "region": "140921", "year": "2021", "month": None, "value": "3"}
        row |= {k: v for k, v in fields.items() if k in row}
        result = checker("1409").check(
            7,
            row["element"],
            row["region"],
            row["year"],
            row["month"],
            row["value"],
            fields.get("unit"),
            fields.get("source"),
        )
        assert isinstance(result, list)
        assert {error.field for error in result} == {field}
        assert all(error.row == 7 and error.detail for error in result)
        if code is not None:
            assert code in {error.code for error in result}

    def test_every_problem_of_a_row_is_reported(self) -> None:
        result = checker().check(3, "nope", "1", "x", None, "1,000")
        assert isinstance(result, list)
        assert {error.field for error in result} == {"element_code", "region_code", "year", "value"}

    def test_shares_may_have_decimals_but_not_be_negative(self) -> None:
        assert isinstance(checker().check(1, "em_equipment_rate", "140900", "2021", None, "97.5"), CleanRow)
        refused = checker().check(1, "em_equipment_rate", "140900", "2021", None, "-0.5")
        assert isinstance(refused, list)
        assert refused[0].code == "negative"


class TestJumpFlag:
    def test_more_than_n_times_last_year(self) -> None:
        assert jump_flag(Decimal(31), Decimal(10), 3) == "jump"
        assert jump_flag(Decimal(30), Decimal(10), 3) is None  # exactly three times is not more
        assert jump_flag(Decimal(5), None, 3) is None
        assert jump_flag(Decimal(5), Decimal(0), 3) is None  # from zero: no ratio to speak of


class TestFastPath:
    """The bulk loader's inline path must accept exactly what the full check accepts."""

    ROWS = (
        "element_code,region_code,year,month,value,source\n"
        "ps_deaths,140902,2021,,12,局\n"  # 2 plain
        "ps_deaths,140902,2021,3,12,\n"  # 3 monthly
        'gdp,140902,2021,,1234.56,"统计,年鉴"\n'  # 4 amount with decimals, quoted source
        "ps_deaths,140902,2021,,1.5,\n"  # 5 a count with decimals
        "ps_deaths,140902,2021,,-1,\n"  # 6 negative
        "ps_deaths,140902,2021,0,1,\n"  # 7 month 0
        "ps_deaths,140100,2021,,1,\n"  # 8 outside 1409
        "ps_deaths,140902,1999,,1,\n"  # 9 year out of range
        "ps_deaths, 140902 ,２０２１,,１２,\n"  # 10 spaces and full width: the full check accepts
        "ps_deaths,140902,2021,,1\n"  # 11 too few columns
    )

    def test_same_verdicts_as_the_full_check(self) -> None:
        rejections = Rejections()
        lines, seen, done = _take(csv_rows(io.BytesIO(self.ROWS.encode())), checker("1409"), rejections)
        assert (seen, done) == (10, True)
        assert [line.split(",")[0] for line in lines] == ["2", "3", "4", "10"]
        assert lines[2] == '4,gdp,140902,2021,0,1234.56,"统计,年鉴"\n'
        assert lines[3] == "10,ps_deaths,140902,2021,0,12,\n"
        rejected = {(error.row, error.code) for error in rejections.rows}
        assert rejected == {
            (5, "not_integral"),
            (6, "negative"),
            (7, "invalid_month"),
            (8, "outside_jurisdiction"),
            (9, "year_out_of_range"),
            (11, "column_count"),
        }
        assert rejections.count == 6
        assert all(isinstance(error, RowError) for error in rejections.rows)

    @pytest.mark.parametrize(
        ("year", "value"),
        [
            ("2021", "007"),
            ("2021", "１２"),  # full-width digits: not ASCII, so the full check reads them
            ("2021", "²"),  # a superscript two is a digit to str.isdigit
            ("2021", "٣"),  # so is an Arabic-Indic three
            ("2021", "12."),
            ("2021", ".5"),
            ("2021", "1e3"),
            ("2021", "1,234"),
            ("２０２１", "3"),
            ("02021", "3"),
            ("2021.0", "3"),
            ("1999", "3"),
            ("2036", "3"),
        ],
    )
    def test_one_row_as_the_full_check_would(self, year: str, value: str) -> None:
        body = f'element_code,region_code,year,value\ngdp,140902,{year},"{value}"\n'
        rejections = Rejections()
        lines, _, _ = _take(csv_rows(io.BytesIO(body.encode())), checker("1409"), rejections)
        full = checker("1409").check(2, "gdp", "140902", year, None, value)
        if isinstance(full, CleanRow):
            [line] = lines
            fields = line.rstrip("\n").split(",")
            assert (int(fields[3]), Decimal(fields[5])) == (full.year, full.value)
        else:
            assert (lines, rejections.count) == ([], 1)
