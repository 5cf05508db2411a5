"""The departments tasks are assigned to: a replica of plan-registry's directory, fed by its events."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Request

from emplan_shared.auth import CurrentPrincipal, access_rule
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, ProblemItem, problem_responses
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from task_assignment.departments import service
from task_assignment.departments.schemas import DepartmentWorkload
from task_assignment.tasks.models import AssignmentRole, TaskStatus
from task_assignment.tasks.schemas import DepartmentTask

router = APIRouter(prefix="/api/v1/tasks", tags=["departments"], responses=problem_responses(401, 403))


@router.get(
    "/departments/{department_id}/workload",
    response_model=DepartmentWorkload,
    operation_id="getDepartmentWorkload",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404, 422),
)
async def get_department_workload(
    department_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, request: Request
) -> DepartmentWorkload:
    """Read a department's workload: the tasks it leads and supports, by status and light."""
    return await service.get_workload(session, principal, request.app.state.settings, department_id)


@router.get(
    "/departments/{department_id}/tasks",
    response_model=Page[DepartmentTask],
    operation_id="listDepartmentTasks",
    openapi_extra=access_rule("any"),
    responses=problem_responses(400, 404, 422),
)
async def list_department_tasks(
    department_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    role: AssignmentRole | None = None,
    status: TaskStatus | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[DepartmentTask]:
    """List the current tasks a department leads or supports across plans, soonest deadline first."""
    key = decode_cursor(cursor)
    try:
        after = (date.fromisoformat(key[0]) if key[0] else None, uuid.UUID(key[1])) if key else None
    except (ValueError, TypeError, IndexError) as exc:
        raise BadRequest(
            "分页游标无效",
            code="invalid_cursor",
            errors=[ProblemItem(field="query.cursor", detail="无法解析")],
        ) from exc
    items = await service.list_tasks(
        session,
        principal,
        department_id,
        role=role.value if role else None,
        status=status.value if status else None,
        after=after,
        limit=limit,
    )
    next_cursor = None
    if len(items) == limit:
        last = items[-1]
        next_cursor = encode_cursor([last.deadline.isoformat() if last.deadline else None, str(last.id)])
    return Page(items=items, next_cursor=next_cursor)
