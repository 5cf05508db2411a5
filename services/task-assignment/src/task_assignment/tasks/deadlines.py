"""A task's deadline from the plan's words: `2023年` is the year's last day unless the text says more.

Forms met in bureau plans: 2023年 / 2023年底 / 2023年年底 / 2023年末; 2022年6月 / 6月底 / 六月底 / 6月前;
2022年6月30日(前); 上半年 / 下半年; 第三季度 / 三季度; ranges 2021—2025年 (the range's end). Text
without a date (长期坚持, 持续推进) gives no deadline: the plan set none, and inventing one would make
the task overdue on a date nobody agreed.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from datetime import date

_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_YEAR = re.compile(r"(\d{4})\s*年?")
_MONTH = re.compile(r"(\d{1,2}|十[一二]?|[一二三四五六七八九])\s*月")
_DAY = re.compile(r"月\s*(\d{1,2})\s*[日号]")
_QUARTER = re.compile(r"(?:第)?([一二三四1-4])\s*季度")


def _number(token: str) -> int:
    if token.isdigit():
        return int(token)
    if token.startswith("十"):
        return 10 + (_CN_DIGITS[token[1]] if len(token) > 1 else 0)
    return _CN_DIGITS[token]


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_deadline(text: str | None, year: int | None = None) -> date | None:
    """The last day the text allows, or None when it names no date.

    `year` is the plan's own reading of the year (deadline_year); the text wins when it names a later
    year (a range's end) or a month or day within it.
    """
    if text:
        folded = unicodedata.normalize("NFKC", text)
        years = [int(y) for y in _YEAR.findall(folded) if 1900 < int(y) < 2200]
        if years:
            # A range (2021—2025年) or a list: the last year named is when it must be done.
            last_year = years[-1]
            tail = folded[folded.rfind(str(last_year)) + 4 :]
            return _within_year(last_year, tail)
    if year is not None:
        return date(year, 12, 31)
    return None


def _within_year(year: int, tail: str) -> date:
    month_match = _MONTH.search(tail)
    if month_match:
        month = _number(month_match.group(1))
        if 1 <= month <= 12:
            day_match = _DAY.search(tail[month_match.start() :])
            if day_match:
                day = int(day_match.group(1))
                if 1 <= day <= calendar.monthrange(year, month)[1]:
                    return date(year, month, day)
            return _month_end(year, month)
    quarter = _QUARTER.search(tail)
    if quarter:
        return _month_end(year, _number(quarter.group(1)) * 3)
    if "上半年" in tail:
        return date(year, 6, 30)
    return date(year, 12, 31)
