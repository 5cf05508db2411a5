"""`task.state.changed`: a task's whole state, published through the outbox in the transaction of any
change an evaluation needs to see (creation, edit, progress report, status change).

A peer (the evaluation's read model) keeps the newest state per task and never has to ask this
service: lead and co-operating units by name, deadline, status, progress (a parent's derived from its
county sub-tasks), times returned, the last report, and what the light is computed from (the plan's
start and its light rule). A report on a county sub-task changes its parent's progress too, so the
parent's state is published with it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.db import utcnow
from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.outbox import enqueue
from task_assignment.database import messaging
from task_assignment.tasks import cascade as cascading
from task_assignment.tasks.models import AssignmentRole, PlanRef, Task
from task_assignment.tasks.repository import TaskRepository
from task_assignment.work.models import PlanLightRule, TaskReport, TaskStatusChange

Cause = Literal["created", "updated", "report", "status"]
# Reports are dated where the bureaus are (the service's `timezone` setting defaults to the same).
CHINA = ZoneInfo("Asia/Shanghai")
SUMMARY_CHARS = 200


def _county_names() -> dict[str, str]:
    return {county.code: county.name for county in cascading.counties_below("000000")}


async def publish_task_states(
    session: AsyncSession,
    task_ids: Iterable[uuid.UUID],
    *,
    cause: Cause,
) -> int:
    """Enqueue `task.state.changed` for each task (and each task above it); returns how many."""
    repository = TaskRepository(session)
    await repository.flush()
    wanted: dict[uuid.UUID, None] = {}
    for task_id in task_ids:
        for above in await repository.ancestors(task_id):
            wanted[above] = None
    if not wanted:
        return 0
    ids = list(wanted)
    tasks = {t.id: t for t in (await session.execute(select(Task).where(Task.id.in_(ids)))).scalars()}
    plans = {
        p.id: p
        for p in (
            await session.execute(select(PlanRef).where(PlanRef.id.in_({t.plan_id for t in tasks.values()})))
        ).scalars()
    }
    rules = {
        r.plan_id: r
        for r in (
            await session.execute(select(PlanLightRule).where(PlanLightRule.plan_id.in_(list(plans))))
        ).scalars()
    }
    lead: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    co: dict[uuid.UUID, list[str]] = {i: [] for i in ids}
    for assignment, department in await repository.assignments(ids):
        (lead if assignment.role == AssignmentRole.lead.value else co)[assignment.task_id].append(
            department.name
        )
    for group in await repository.groups(ids):
        if group.expanded_at is None:  # an expanded group is there as its departments (or sub-tasks)
            (lead if group.role == AssignmentRole.lead.value else co)[group.task_id].append(group.name)
    returned: dict[uuid.UUID, int] = {
        task_id: int(count)
        for task_id, count in await session.execute(
            select(TaskStatusChange.task_id, func.count())
            .where(TaskStatusChange.task_id.in_(ids), TaskStatusChange.to_status == "returned")
            .group_by(TaskStatusChange.task_id)
        )
    }
    last_reports = {
        r.task_id: r
        for r in (
            await session.execute(
                select(TaskReport)
                .where(TaskReport.task_id.in_(ids))
                .order_by(TaskReport.task_id, TaskReport.submitted_at.desc(), TaskReport.id.desc())
                .ext(distinct_on(TaskReport.task_id))
            )
        ).scalars()
    }
    counties: dict[str, str] | None = None
    now = utcnow()
    for task_id in ids:
        task = tasks[task_id]
        plan = plans[task.plan_id]
        if task.region_code == plan.region_code:
            region_name: str | None = plan.region_name
        else:
            counties = counties if counties is not None else _county_names()
            region_name = counties.get(task.region_code)
        progress, _children = await repository.progress_and_children(task.id)
        rule = rules.get(plan.id)
        report = last_reports.get(task.id)
        event = catalogue.TASK_STATE_CHANGED.build(
            payloads.TaskStateChanged(
                task_id=task.id,
                plan_id=task.plan_id,
                parent_id=task.parent_id,
                region_code=task.region_code,
                region_name=region_name,
                kind=task.kind,
                code=task.code,
                title=task.title,
                deadline=task.deadline,
                status=task.status,
                progress_percent=progress,
                lead_departments=lead[task.id],
                co_departments=co[task.id],
                returned_count=int(returned.get(task.id, 0)),
                last_report=payloads.TaskStateReport(
                    reported_on=report.submitted_at.astimezone(CHINA).date(),
                    summary=(report.milestone or report.narrative or "")[:SUMMARY_CHARS] or "（无文字说明）",
                    percent=report.percent,
                )
                if report is not None
                else None,
                current=task.current,
                plan_start=date(plan.period_start, 1, 1),
                yellow_within_days=rule.yellow_within_days if rule else None,
                behind_tolerance_pct=rule.behind_tolerance_pct if rule else None,
                version=task.version,
                cause=cause,
                changed_at=now,
            ),
            subject=f"task/{task.id}",
            region_code=task.region_code,
        )
        await enqueue(session, messaging.outbox_event, event)
    return len(ids)
