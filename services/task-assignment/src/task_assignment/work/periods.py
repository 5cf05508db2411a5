"""Reporting periods: a year (`2024`), a quarter (`2024-Q2`) or a month (`2024-05`)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

PERIOD_PATTERN = r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$"
_PERIOD = re.compile(PERIOD_PATTERN)


class PeriodKind(StrEnum):
    month = "month"
    quarter = "quarter"


@dataclass(frozen=True)
class Period:
    label: str
    start: date
    end: date  # the last day, inclusive

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def parse_period(label: str) -> Period:
    if not _PERIOD.match(label):
        raise ValueError(f"not a period label: {label!r}")
    year = int(label[:4])
    if len(label) == 4:
        return Period(label, date(year, 1, 1), date(year, 12, 31))
    if label[5] == "Q":
        quarter = int(label[6])
        first = 3 * quarter - 2
        return Period(label, date(year, first, 1), _month_end(year, first + 2))
    month = int(label[5:7])
    return Period(label, date(year, month, 1), _month_end(year, month))


def period_of(day: date, kind: PeriodKind) -> Period:
    """The reporting period of this kind that contains `day`."""
    if kind == PeriodKind.month:
        return parse_period(f"{day.year}-{day.month:02d}")
    return parse_period(f"{day.year}-Q{(day.month - 1) // 3 + 1}")
