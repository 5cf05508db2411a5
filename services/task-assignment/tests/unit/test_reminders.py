"""Reporting periods and what goes into a department's reminder, worked by hand on the calendar."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from task_assignment.work.periods import PeriodKind, parse_period, period_of
from task_assignment.work.reminders import AssignedTask, reminder_window_open, summarise
from task_assignment.work.workflow import TaskStatus


class TestPeriods:
    @pytest.mark.parametrize(
        ("label", "start", "end"),
        [
            ("2024", date(2024, 1, 1), date(2024, 12, 31)),
            ("2024-Q1", date(2024, 1, 1), date(2024, 3, 31)),
            ("2024-Q2", date(2024, 4, 1), date(2024, 6, 30)),
            ("2024-Q4", date(2024, 10, 1), date(2024, 12, 31)),
            ("2024-02", date(2024, 2, 1), date(2024, 2, 29)),  # leap year
            ("2023-02", date(2023, 2, 1), date(2023, 2, 28)),
            ("2026-11", date(2026, 11, 1), date(2026, 11, 30)),
        ],
    )
    def test_parse(self, label: str, start: date, end: date) -> None:
        period = parse_period(label)
        assert (period.start, period.end) == (start, end)

    @pytest.mark.parametrize(
        "label", ["2024-Q5", "2024-Q0", "2024-13", "2024-00", "24-Q1", "2024-1", "2024Q1"]
    )
    def test_bad_labels(self, label: str) -> None:
        with pytest.raises(ValueError, match="period"):
            parse_period(label)

    def test_period_of(self) -> None:
        assert period_of(date(2026, 11, 23), PeriodKind.quarter).label == "2026-Q4"
        assert period_of(date(2026, 3, 31), PeriodKind.quarter).label == "2026-Q1"
        assert period_of(date(2026, 4, 1), PeriodKind.quarter).label == "2026-Q2"
        assert period_of(date(2026, 11, 23), PeriodKind.month).label == "2026-11"
        assert period_of(date(2026, 12, 31), PeriodKind.month).label == "2026-12"


class TestReminders:
    def test_window(self) -> None:
        q4 = parse_period("2026-Q4")  # ends 2026-12-31
        # 15 days before the 31st is the 16th: the window opens that day
        assert not reminder_window_open(date(2026, 12, 15), q4, 15)
        assert reminder_window_open(date(2026, 12, 16), q4, 15)
        assert reminder_window_open(date(2026, 12, 31), q4, 15)
        assert not reminder_window_open(date(2027, 1, 1), q4, 15)

    def test_window_edge(self) -> None:
        november = parse_period("2026-11")
        assert reminder_window_open(date(2026, 11, 23), november, 7)  # 30 − 7 = 23: the first day
        assert not reminder_window_open(date(2026, 11, 22), november, 7)

    def test_summary(self) -> None:
        today = date(2026, 11, 23)

        def task(deadline: date | None, status: TaskStatus, reported: bool) -> AssignedTask:
            return AssignedTask(uuid.uuid4(), None, "任务", deadline, status, reported)

        late_silent = task(date(2026, 11, 22), TaskStatus.in_progress, False)  # overdue + not reported
        late_reported = task(date(2025, 12, 31), TaskStatus.returned, True)  # overdue only
        due_edge = task(date(2026, 12, 23), TaskStatus.not_started, True)  # today + 30: due
        not_due = task(date(2026, 12, 24), TaskStatus.in_progress, True)  # today + 31: nothing
        due_today = task(today, TaskStatus.in_progress, False)  # due (not overdue) + not reported
        claimed = task(date(2020, 1, 1), TaskStatus.completed, False)  # nothing owed
        closed = task(date(2020, 1, 1), TaskStatus.closed, False)
        no_deadline_silent = task(None, TaskStatus.in_progress, False)  # not reported only
        summary = summarise(
            [late_silent, late_reported, due_edge, not_due, due_today, claimed, closed, no_deadline_silent],
            today=today,
            due_within_days=30,
        )
        assert summary.overdue == [late_silent, late_reported]
        assert summary.due == [due_edge, due_today]
        assert summary.not_reported == [late_silent, due_today, no_deadline_silent]
        assert not summary.empty
        assert summarise([not_due, claimed], today=today, due_within_days=30).empty
