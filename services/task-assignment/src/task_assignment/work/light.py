"""The status light (亮灯) of a task, as a pure rule, and the same rule as one SQL expression.

- red: overdue — work is still owed (not started, in progress, returned) and the deadline has passed;
- yellow: work is still owed and the deadline is within `yellow_within_days` days, or the progress
  lags the share of time elapsed (from the task's start to its deadline) by more than
  `behind_tolerance_pct` percentage points (no progress reported counts as 0 %);
- green: otherwise, including completed (claimed) and closed tasks and tasks without a deadline.

Both thresholds are configurable per plan; the defaults are the service's settings. Lists and counts
use the SQL form (`light_case`) so the light is never stale; `compute_light` is the reference the
tests compare it with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, and_, case, literal, or_, type_coerce

from task_assignment.work.workflow import OPEN_STATUSES, TaskStatus


class Light(StrEnum):
    green = "green"
    yellow = "yellow"
    red = "red"


@dataclass(frozen=True)
class LightRules:
    yellow_within_days: int = 30
    behind_tolerance_pct: int = 10


def is_overdue(status: TaskStatus, deadline: date | None, today: date) -> bool:
    """Overdue: work still owed after the deadline day (the deadline day itself is still in time)."""
    return status in OPEN_STATUSES and deadline is not None and today > deadline


def is_behind(
    *, start: date | None, deadline: date, today: date, progress_pct: int | None, tolerance_pct: int
) -> bool:
    """Progress lags the elapsed share of time by more than the tolerance.

    elapsed% − progress% > tolerance, in integers: 100·elapsed_days − progress·total_days >
    tolerance·total_days (no floats, so the SQL form gives the same answer on every boundary).
    """
    if start is None or start >= deadline or today <= start:
        return False
    total = (deadline - start).days
    elapsed = min((today - start).days, total)
    return 100 * elapsed - (progress_pct or 0) * total > tolerance_pct * total


def compute_light(
    *,
    status: TaskStatus,
    deadline: date | None,
    today: date,
    start: date | None,
    progress_pct: int | None,
    rules: LightRules,
) -> Light:
    if status not in OPEN_STATUSES or deadline is None:
        return Light.green
    if today > deadline:
        return Light.red
    if (deadline - today).days <= rules.yellow_within_days:
        return Light.yellow
    if is_behind(
        start=start,
        deadline=deadline,
        today=today,
        progress_pct=progress_pct,
        tolerance_pct=rules.behind_tolerance_pct,
    ):
        return Light.yellow
    return Light.green


def light_case(
    *,
    status: ColumnElement[Any],
    deadline: ColumnElement[Any],
    start: ColumnElement[Any],
    progress_pct: ColumnElement[Any],
    yellow_within_days: ColumnElement[Any],
    behind_tolerance_pct: ColumnElement[Any],
    today: date,
) -> ColumnElement[str]:
    """`compute_light` as a SQL CASE over the given columns (dates subtract to whole days in PostgreSQL)."""
    day = literal(today)
    owed = status.in_([s.value for s in OPEN_STATUSES])

    def days(later: ColumnElement[Any], earlier: ColumnElement[Any]) -> ColumnElement[int]:
        # date − date is an integer number of days in PostgreSQL; say so to SQLAlchemy
        return type_coerce(later - earlier, Integer)

    total = days(deadline, start)
    elapsed = case((days(day, start) < total, days(day, start)), else_=total)
    behind = and_(
        start.is_not(None),
        start < deadline,
        day > start,
        100 * elapsed - case((progress_pct.is_(None), 0), else_=progress_pct) * total
        > behind_tolerance_pct * total,
    )
    return case(
        (or_(~owed, deadline.is_(None)), literal(Light.green.value)),
        (day > deadline, literal(Light.red.value)),
        (or_(days(deadline, day) <= yellow_within_days, behind), literal(Light.yellow.value)),
        else_=literal(Light.green.value),
    )
