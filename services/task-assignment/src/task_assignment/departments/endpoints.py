from __future__ import annotations

import uuid

from fastapi import APIRouter

from emplan_shared.auth import CurrentPrincipal
from emplan_shared.db import DbSession
from emplan_shared.errors import problem_responses
from task_assignment.departments import service
from task_assignment.departments.schemas import DepartmentWorkload

router = APIRouter(prefix="/api/v1/tasks", tags=["departments"], responses=problem_responses(401, 403))


@router.get(
    "/departments/{department_id}/workload",
    response_model=DepartmentWorkload,
    operation_id="getDepartmentWorkload",
    responses=problem_responses(404),
)
async def get_department_workload(
    department_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> DepartmentWorkload:
    """Read a department's workload: the tasks it leads and supports."""
    return await service.get_workload(session, principal, department_id)
