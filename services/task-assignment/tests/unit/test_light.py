"""The status light, worked by hand on dates (deadline, start, today) and progress."""

from __future__ import annotations

from datetime import date

import pytest

from task_assignment.work.light import Light, LightRules, compute_light, is_behind, is_overdue
from task_assignment.work.workflow import TaskStatus

RULES = LightRules(yellow_within_days=30, behind_tolerance_pct=10)
START = date(2026, 1, 1)
DEADLINE = date(2026, 12, 31)  # 364 days after START


def light(today: date, progress: int | None = None, status: TaskStatus = TaskStatus.in_progress) -> Light:
    return compute_light(
        status=status, deadline=DEADLINE, today=today, start=START, progress_pct=progress, rules=RULES
    )


class TestOverdue:
    def test_the_deadline_day_is_still_in_time(self) -> None:
        assert not is_overdue(TaskStatus.in_progress, DEADLINE, DEADLINE)
        assert is_overdue(TaskStatus.in_progress, DEADLINE, date(2027, 1, 1))

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            (TaskStatus.not_started, True),
            (TaskStatus.in_progress, True),
            (TaskStatus.returned, True),
            (TaskStatus.completed, False),  # claimed before the scan: the lead did its part
            (TaskStatus.closed, False),
        ],
    )
    def test_only_owed_work_is_overdue(self, status: TaskStatus, expected: bool) -> None:
        assert is_overdue(status, DEADLINE, date(2027, 3, 1)) is expected

    def test_no_deadline_never_overdue(self) -> None:
        assert not is_overdue(TaskStatus.not_started, None, date(2099, 1, 1))


class TestLight:
    def test_red_after_the_deadline(self) -> None:
        assert light(date(2027, 1, 1), progress=99) == Light.red

    def test_yellow_within_n_days(self) -> None:
        # 2026-12-01 is 30 days before the deadline: yellow; 2026-11-30 (31 days) is not, at 95 %.
        assert light(date(2026, 12, 1), progress=95) == Light.yellow
        assert light(date(2026, 11, 30), progress=95) == Light.green
        assert light(DEADLINE, progress=100) == Light.yellow

    def test_behind_time_elapsed(self) -> None:
        # 2026-07-02 is day 182 of 364: exactly 50 % elapsed. Tolerance 10 points.
        today = date(2026, 7, 2)
        assert light(today, progress=40) == Light.green  # 50 − 40 = 10: not more than the tolerance
        assert light(today, progress=39) == Light.yellow  # 11 points behind
        assert light(today, progress=None) == Light.yellow  # nothing reported counts as 0 %
        assert light(date(2026, 2, 6), progress=None) == Light.green  # day 36: 9.9 % elapsed
        assert light(date(2026, 2, 7), progress=None) == Light.yellow  # day 37: 10.2 % elapsed

    def test_claimed_and_closed_are_green(self) -> None:
        assert light(date(2027, 6, 1), status=TaskStatus.completed) == Light.green
        assert light(date(2027, 6, 1), status=TaskStatus.closed) == Light.green

    def test_returned_counts_as_owed(self) -> None:
        assert light(date(2027, 1, 1), progress=100, status=TaskStatus.returned) == Light.red

    def test_no_deadline_is_green(self) -> None:
        assert (
            compute_light(
                status=TaskStatus.not_started,
                deadline=None,
                today=date(2030, 1, 1),
                start=START,
                progress_pct=None,
                rules=RULES,
            )
            == Light.green
        )

    def test_rules_per_plan(self) -> None:
        strict = LightRules(yellow_within_days=90, behind_tolerance_pct=0)
        today = date(2026, 7, 2)  # 50 % elapsed, 182 days left
        assert (
            compute_light(
                status=TaskStatus.in_progress,
                deadline=DEADLINE,
                today=today,
                start=START,
                progress_pct=49,
                rules=strict,
            )
            == Light.yellow
        )
        assert (
            compute_light(
                status=TaskStatus.in_progress,
                deadline=DEADLINE,
                today=today,
                start=START,
                progress_pct=50,
                rules=strict,
            )
            == Light.green
        )
        assert (
            compute_light(
                status=TaskStatus.in_progress,
                deadline=DEADLINE,
                today=date(2026, 10, 2),  # 90 days left
                start=START,
                progress_pct=100,
                rules=strict,
            )
            == Light.yellow
        )

    def test_behind_edges(self) -> None:
        assert not is_behind(
            start=None, deadline=DEADLINE, today=date(2026, 7, 2), progress_pct=0, tolerance_pct=0
        )
        assert not is_behind(
            start=DEADLINE, deadline=DEADLINE, today=DEADLINE, progress_pct=0, tolerance_pct=0
        )
        assert not is_behind(start=START, deadline=DEADLINE, today=START, progress_pct=0, tolerance_pct=0)
        # elapsed is capped at 100 %: after the deadline 100 % progress is never behind
        assert not is_behind(
            start=START, deadline=DEADLINE, today=date(2028, 1, 1), progress_pct=100, tolerance_pct=0
        )
