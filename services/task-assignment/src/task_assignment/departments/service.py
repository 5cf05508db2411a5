from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.errors import NotFound
from task_assignment.departments.repository import DepartmentRepository
from task_assignment.departments.schemas import DepartmentWorkload, TaskCounts
from task_assignment.settings import Settings
from task_assignment.tasks import service as tasks_service
from task_assignment.tasks.repository import TaskRepository
from task_assignment.tasks.schemas import DepartmentTask, LightCounts, StatusCounts


async def get_workload(
    session: AsyncSession, principal: Principal, settings: Settings, department_id: uuid.UUID
) -> DepartmentWorkload:
    repository = DepartmentRepository(session)
    department = await repository.get_visible(department_id, principal)
    if department is None:
        raise NotFound("部门不存在", code="department_not_found")
    by_role: dict[str, dict[str, int]] = {"lead": {}, "co": {}}
    by_light: dict[str, int] = {}
    rows = await TaskRepository(session).workload_counts(
        department.id, principal, tasks_service.lights(settings)
    )
    for role, status, light, count in rows:
        by_role[role][status] = by_role[role].get(status, 0) + count
        by_light[light] = by_light.get(light, 0) + count
    totals = {
        status: by_role["lead"].get(status, 0) + by_role["co"].get(status, 0)
        for status in {*by_role["lead"], *by_role["co"]}
    }
    return DepartmentWorkload(
        id=department.id,
        region_code=department.region_code,
        name=department.name,
        aliases=department.aliases,
        active=department.active,
        version=department.version,
        synced_at=department.synced_at,
        history_length=await repository.count_changes(department.id),
        tasks=TaskCounts(
            lead=sum(by_role["lead"].values()),
            co=sum(by_role["co"].values()),
            lead_by_status=StatusCounts(**by_role["lead"]),
            co_by_status=StatusCounts(**by_role["co"]),
            by_status=StatusCounts(**totals),
            by_light=LightCounts(**by_light),
            overdue=by_light.get("red", 0),
        ),
    )


async def list_tasks(
    session: AsyncSession,
    principal: Principal,
    department_id: uuid.UUID,
    *,
    role: str | None,
    status: str | None,
    after: tuple[date | None, uuid.UUID] | None,
    limit: int,
) -> list[DepartmentTask]:
    if await DepartmentRepository(session).get_visible(department_id, principal) is None:
        raise NotFound("部门不存在", code="department_not_found")
    rows = await TaskRepository(session).department_tasks(
        department_id, principal, role=role, status=status, after=after, limit=limit
    )
    return [
        DepartmentTask(
            id=task.id,
            plan_id=task.plan_id,
            parent_id=task.parent_id,
            region_code=task.region_code,
            kind=task.kind,
            code=task.code,
            title=task.title,
            deadline=task.deadline,
            status=task.status,
            role=role_,
        )
        for task, role_ in rows
    ]
