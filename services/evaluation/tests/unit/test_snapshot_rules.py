"""The rules a snapshot applies to read-model rows, on hand-worked boundaries: the light and overdue
flag judged on the reference date (task-assignment's rule), and how figures are kept or rounded."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from evaluation.domain.snapshot import Light, TaskStatus
from evaluation.readmodel.snapshot import _figure, light

START = date(2021, 1, 1)


def judge(status: TaskStatus, deadline: date | None, on: date, progress: int = 0) -> Light:
    return light(
        status=status,
        deadline=deadline,
        on=on,
        start=START,
        progress_pct=progress,
        yellow_within_days=30,
        behind_tolerance_pct=10,
    )


class TestLight:
    def test_the_deadline_day_is_still_in_time_the_next_is_red(self) -> None:
        deadline = date(2023, 6, 30)
        assert judge(TaskStatus.in_progress, deadline, date(2023, 6, 30), progress=100) is Light.yellow
        assert judge(TaskStatus.in_progress, deadline, date(2023, 7, 1), progress=100) is Light.red
        assert judge(TaskStatus.returned, deadline, date(2023, 7, 1), progress=100) is Light.red

    def test_done_or_without_deadline_is_green(self) -> None:
        late = date(2030, 1, 1)
        assert judge(TaskStatus.completed, date(2023, 6, 30), late) is Light.green
        assert judge(TaskStatus.closed, date(2023, 6, 30), late) is Light.green
        assert judge(TaskStatus.not_started, None, late) is Light.green

    def test_thirty_days_before_the_deadline_is_yellow_thirty_one_is_not(self) -> None:
        deadline = date(2023, 12, 31)
        # Progress well ahead of time, so only the nearness of the deadline can make it yellow.
        assert judge(TaskStatus.in_progress, deadline, date(2023, 12, 1), progress=100) is Light.yellow
        assert judge(TaskStatus.in_progress, deadline, date(2023, 11, 30), progress=100) is Light.green

    def test_behind_time_by_more_than_ten_points_is_yellow(self) -> None:
        # 2021-01-01 → 2025-12-31 is 1825 days; by 2023-01-01, 730 have passed (40 % of the time).
        # Yellow when 100 × 730 − p × 1825 > 10 × 1825, i.e. 73 000 − 1825 p > 18 250, i.e. p < 30.
        deadline, on = date(2025, 12, 31), date(2023, 1, 1)
        assert judge(TaskStatus.in_progress, deadline, on, progress=30) is Light.green
        assert judge(TaskStatus.in_progress, deadline, on, progress=29) is Light.yellow
        assert judge(TaskStatus.not_started, deadline, on) is Light.yellow
        # Before the plan's start nothing is behind.
        assert judge(TaskStatus.not_started, deadline, date(2021, 1, 1)) is Light.green


class TestFigures:
    def test_kept_as_given_up_to_six_places_rounded_half_up_beyond(self) -> None:
        assert str(_figure(Decimal("37"))) == "37"
        assert str(_figure(Decimal("0.025"))) == "0.025"
        assert str(_figure(Decimal("0.123456"))) == "0.123456"
        assert str(_figure(Decimal("0.0266666666666666667"))) == "0.026667"
        assert str(_figure(Decimal("0.0000005"))) == "0.000001"
        assert _figure(None) is None
