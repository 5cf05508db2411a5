"""Deadlines from a plan's words and the names that address every county, worked out by hand."""

from __future__ import annotations

from datetime import date

import pytest

from task_assignment.tasks.deadlines import parse_deadline
from task_assignment.tasks.units import county_body, fold


class TestDeadline:
    @pytest.mark.parametrize(
        ("text", "year", "expected"),
        [
            ("2023 年", 2023, date(2023, 12, 31)),
            ("2023年", None, date(2023, 12, 31)),
            ("2022年6月底", 2022, date(2022, 6, 30)),
            ("2022年六月底", 2022, date(2022, 6, 30)),
            ("2024年2月", 2024, date(2024, 2, 29)),  # a leap year's February
            ("2023年2月底前", 2023, date(2023, 2, 28)),
            ("2022年9月15日前", 2022, date(2022, 9, 15)),
            ("2022年十二月", 2022, date(2022, 12, 31)),
            ("2022年底", 2022, date(2022, 12, 31)),
            ("2022年年底前", 2022, date(2022, 12, 31)),
            ("2023年上半年", 2023, date(2023, 6, 30)),
            ("2023年下半年", 2023, date(2023, 12, 31)),
            ("2024年第三季度", 2024, date(2024, 9, 30)),
            ("2024年一季度", 2024, date(2024, 3, 31)),
            ("2021—2025年", 2021, date(2025, 12, 31)),  # a range: its end
            ("２０２３年", None, date(2023, 12, 31)),  # full-width digits
        ],
    )
    def test_forms(self, text: str, year: int | None, expected: date) -> None:
        assert parse_deadline(text, year) == expected

    def test_no_date_in_the_text(self) -> None:
        assert parse_deadline("长期坚持") is None
        assert parse_deadline(None) is None
        # The plan's own reading of the year stands when the text names none.
        assert parse_deadline("持续推进", 2024) == date(2024, 12, 31)
        assert parse_deadline(None, 2025) == date(2025, 12, 31)

    def test_impossible_day_falls_back_to_the_month_end(self) -> None:
        assert parse_deadline("2022年2月30日") == date(2022, 2, 28)


class TestCountyNames:
    @pytest.mark.parametrize(
        ("name", "body"),
        [
            ("各县〈市、区〉人民政府", "人民政府"),
            ("各县（市、区）人民政府", "人民政府"),
            ("各县(市、区)人民政府", "人民政府"),
            ("各县〈市、区〉政府", "人民政府"),
            ("各县（市、区）", "人民政府"),
            ("各区县政府", "人民政府"),
            ("各县区", "人民政府"),
            ("各县（市、区）应急管理局", "应急管理局"),
        ],
    )
    def test_names_for_every_county(self, name: str, body: str) -> None:
        assert county_body(name) == body

    @pytest.mark.parametrize(
        "name",
        ["市安委会有关成员单位", "各市人民政府", "市应急局", "有关部门", "各乡镇人民政府", "忻府区人民政府"],
    )
    def test_other_names(self, name: str) -> None:
        assert county_body(name) is None

    def test_fold(self) -> None:
        assert fold("市规划和自然资源局") != fold("市规划自然资源局")  # 和 is a word here, not punctuation
        assert fold("各县（市、区）") == fold("各县〈市、区〉") == "各县市区"
