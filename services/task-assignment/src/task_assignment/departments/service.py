from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.errors import NotFound
from task_assignment.departments.repository import DepartmentRepository
from task_assignment.departments.schemas import DepartmentWorkload, TaskCounts


async def get_workload(
    session: AsyncSession, principal: Principal, department_id: uuid.UUID
) -> DepartmentWorkload:
    repository = DepartmentRepository(session)
    department = await repository.get_visible(department_id, principal)
    if department is None:
        raise NotFound("部门不存在", code="department_not_found")
    return DepartmentWorkload(
        id=department.id,
        region_code=department.region_code,
        name=department.name,
        aliases=department.aliases,
        active=department.active,
        version=department.version,
        synced_at=department.synced_at,
        history_length=await repository.count_changes(department.id),
        tasks=TaskCounts(),
    )
