"""Reminders (催报): per department and reporting period, one summary of what is due, overdue and not
reported on. The pure part — when a period's reminder is due and which tasks go in it — lives here;
the scan that reads the tasks and writes the event is `scan_reminders` below the rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import groupby
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.outbox import enqueue
from task_assignment.database import messaging
from task_assignment.work.light import is_overdue
from task_assignment.work.models import DepartmentReminder
from task_assignment.work.periods import Period, PeriodKind, period_of
from task_assignment.work.workflow import OPEN_STATUSES, TaskStatus


def reminder_window_open(today: date, period: Period, days_before_end: int) -> bool:
    """Reminders for a period go out from `days_before_end` days before its last day to its end:
    early enough to report in time, late enough that "not reported" means something."""
    return period.end - timedelta(days=days_before_end) <= today <= period.end


@dataclass(frozen=True)
class AssignedTask:
    """One task as a department sees it for a reminder."""

    task_id: UUID
    code: str | None
    title: str
    deadline: date | None
    status: TaskStatus
    reported_in_period: bool  # this department submitted a report during the period


@dataclass
class ReminderSummary:
    due: list[AssignedTask] = field(default_factory=list)
    overdue: list[AssignedTask] = field(default_factory=list)
    not_reported: list[AssignedTask] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.due or self.overdue or self.not_reported)


def summarise(tasks: Iterable[AssignedTask], *, today: date, due_within_days: int) -> ReminderSummary:
    """Sort a department's open tasks into overdue, due (deadline within `due_within_days`), and not
    reported in the period. A task can be both overdue (or due) and not reported."""
    summary = ReminderSummary()
    horizon = today + timedelta(days=due_within_days)
    for task in tasks:
        if task.status not in OPEN_STATUSES:
            continue
        if is_overdue(task.status, task.deadline, today):
            summary.overdue.append(task)
        elif task.deadline is not None and task.deadline <= horizon:
            summary.due.append(task)
        if not task.reported_in_period:
            summary.not_reported.append(task)
    return summary


# ------------------------------------------------------------------------------------------ the scan

REMINDER_LOCK = 0x656D706C616E5244  # pg_advisory_xact_lock key ("emplan RD")
LIST_CAP = 50  # tasks named per list in one event; the counts are always complete

_ASSIGNED_OPEN = text(
    """
    SELECT a.department_id, d.name AS department_name, d.region_code AS department_region, a.role,
           t.id AS task_id, t.plan_id, t.code, t.title, t.deadline, t.status,
           EXISTS (
               SELECT 1 FROM task_report r
               WHERE r.task_id = t.id AND r.department_id = a.department_id
                 AND r.submitted_at >= :period_from AND r.submitted_at < :period_to
           ) AS reported
    FROM assignment a
    JOIN task t ON t.id = a.task_id
    JOIN department d ON d.id = a.department_id
    WHERE t.current AND t.status = ANY(:open)
      AND NOT EXISTS (
          SELECT 1 FROM department_reminder dr WHERE dr.department_id = a.department_id AND dr.period = :period
      )
    ORDER BY a.department_id, t.deadline NULLS LAST, t.position, t.id
    """
)


@dataclass(frozen=True)
class ReminderScan:
    as_of: date
    period: Period
    window_open: bool
    notified: int


def _ref(task: AssignedTask, plan_id: UUID, role: str) -> payloads.TaskRef:
    return payloads.TaskRef(
        task_id=task.task_id,
        plan_id=plan_id,
        code=task.code,
        title=task.title,
        deadline=task.deadline,
        status=task.status.value,
        role=role,
    )


async def scan_reminders(
    session: AsyncSession,
    today: date,
    *,
    kind: PeriodKind,
    days_before_end: int,
    due_within_days: int,
    timezone: str,
) -> ReminderScan:
    """Write one reminder per department for the current period, once its window is open; the caller
    commits. Departments with nothing due, overdue or unreported get none."""
    period = period_of(today, kind)
    if not reminder_window_open(today, period, days_before_end):
        return ReminderScan(today, period, False, 0)
    await session.execute(select(func.pg_advisory_xact_lock(REMINDER_LOCK)))
    zone = ZoneInfo(timezone)
    rows = (
        await session.execute(
            _ASSIGNED_OPEN,
            {
                "period": period.label,
                "period_from": datetime.combine(period.start, time(), zone),
                "period_to": datetime.combine(period.end + timedelta(days=1), time(), zone),
                "open": sorted(OPEN_STATUSES),
            },
        )
    ).all()
    notified = 0
    for department_id, group in groupby(rows, key=lambda row: row.department_id):
        items = list(group)
        tasks = {
            row.task_id: AssignedTask(
                row.task_id, row.code, row.title, row.deadline, TaskStatus(row.status), row.reported
            )
            for row in items
        }
        info = {row.task_id: (row.plan_id, row.role) for row in items}
        summary = summarise(tasks.values(), today=today, due_within_days=due_within_days)
        if summary.empty:
            continue
        event = catalogue.TASK_REMINDER_DUE.build(
            payloads.TaskReminderDue(
                department_id=department_id,
                department_name=items[0].department_name,
                region_code=items[0].department_region,
                period=period.label,
                period_start=period.start,
                period_end=period.end,
                as_of=today,
                due_count=len(summary.due),
                overdue_count=len(summary.overdue),
                not_reported_count=len(summary.not_reported),
                due=[_ref(t, *info[t.task_id]) for t in summary.due[:LIST_CAP]],
                overdue=[_ref(t, *info[t.task_id]) for t in summary.overdue[:LIST_CAP]],
                not_reported=[_ref(t, *info[t.task_id]) for t in summary.not_reported[:LIST_CAP]],
            ),
            subject=f"department/{department_id}",
            region_code=items[0].department_region,
        )
        inserted = await session.execute(
            insert(DepartmentReminder)
            .values(
                department_id=department_id,
                period=period.label,
                event_id=event.id,
                due_count=len(summary.due),
                overdue_count=len(summary.overdue),
                not_reported_count=len(summary.not_reported),
            )
            .on_conflict_do_nothing(index_elements=["department_id", "period"])
            .returning(DepartmentReminder.event_id)
        )
        if inserted.scalar_one_or_none() is not None:
            await enqueue(session, messaging.outbox_event, event)
            notified += 1
    return ReminderScan(today, period, True, notified)
