"""Tasks: read, create by hand, edit with If-Match, expand groups, the plan's ledger and counts."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile

from emplan_shared.auth import CurrentPrincipal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import PayloadTooLarge, problem_responses
from emplan_shared.etags import required_if_match
from emplan_shared.pagination import Page
from task_assignment.tasks import ledger as ledgers
from task_assignment.tasks import service
from task_assignment.tasks.schemas import (
    GroupExpansion,
    Ledger,
    LedgerImportResult,
    TaskCountsRead,
    TaskCreate,
    TaskRead,
    TaskUpdate,
)

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"], responses=problem_responses(401, 403, 422))

MAX_LEDGER_BYTES = 10 * 1024 * 1024
CodePath = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 code", examples=["140900"])]


@router.post(
    "",
    status_code=201,
    response_model=TaskRead,
    operation_id="createTask",
    dependencies=[require_roles(Role.bureau_planner)],
    openapi_extra=access_rule(Role.bureau_planner),
    responses=problem_responses(409),
)
async def create_task(
    data: TaskCreate, session: DbSession, principal: CurrentPrincipal, response: Response
) -> TaskRead:
    """Create a task by hand in a published plan, with its lead and co-operating units."""
    task = await service.create_task(session, principal, data)
    response.headers["ETag"] = f'"{task.version}"'
    return task


@router.get(
    "/{task_id:uuid}",
    response_model=TaskRead,
    operation_id="getTask",
    responses=problem_responses(404),
    openapi_extra=access_rule("any"),
)
async def get_task(
    task_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> TaskRead:
    """Read a task with its departments; its ETag goes back as If-Match to change it."""
    task = await service.get_task(session, principal, task_id)
    response.headers["ETag"] = f'"{task.version}"'
    return task


@router.patch(
    "/{task_id:uuid}",
    response_model=TaskRead,
    operation_id="updateTask",
    dependencies=[require_roles(Role.bureau_planner)],
    responses=problem_responses(404, 409, 412, 428),
    # Read from the request, not declared with Header(): a missing If-Match answers 428, not 422.
    openapi_extra=access_rule(Role.bureau_planner)
    | {
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "the task's ETag as last read; a stale one answers 412",
                "schema": {"type": "string", "minLength": 1, "examples": ['"1"']},
            }
        ]
    },
)
async def update_task(
    task_id: uuid.UUID,
    data: TaskUpdate,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> TaskRead:
    """Change a task's text, deadline, parent or units (If-Match required)."""
    tags = required_if_match(request, "修改任务")
    task = await service.update_task(session, principal, task_id, data, if_match=tags)
    response.headers["ETag"] = f'"{task.version}"'
    return task


@router.get(
    "/{task_id:uuid}/subtasks",
    response_model=Page[TaskRead],
    operation_id="listSubtasks",
    responses=problem_responses(404),
    openapi_extra=access_rule("any"),
)
async def list_subtasks(
    task_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> Page[TaskRead]:
    """List a task's sub-tasks (the counties' parts of a cascaded task) visible to the caller."""
    return Page(items=await service.list_subtasks(session, principal, task_id), next_cursor=None)


@router.post(
    "/{task_id:uuid}/groups/{group_id:uuid}/expansion",
    response_model=TaskRead,
    operation_id="expandTaskGroup",
    dependencies=[require_roles(Role.bureau_planner)],
    openapi_extra=access_rule(Role.bureau_planner),
    responses=problem_responses(404, 409),
)
async def expand_group(
    task_id: uuid.UUID,
    group_id: uuid.UUID,
    data: GroupExpansion,
    session: DbSession,
    principal: CurrentPrincipal,
    response: Response,
) -> TaskRead:
    """Name the departments a group (e.g. 市安委会成员单位) stands for on this task."""
    task = await service.expand_group(session, principal, task_id, group_id, data.department_ids)
    response.headers["ETag"] = f'"{task.version}"'
    return task


@router.get(
    "/plans/{plan_id:uuid}/ledger",
    response_model=Ledger,
    operation_id="getPlanLedger",
    openapi_extra=access_rule("any"),
    responses={
        **problem_responses(404),
        200: {
            "description": "the ledger as JSON, or as an .xlsx workbook (Accept or `format=xlsx`)",
            "content": {ledgers.XLSX_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
async def get_ledger(
    plan_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    format: Annotated[
        Literal["json", "xlsx"] | None, Query(description="overrides the Accept header")
    ] = None,
) -> Ledger | Response:
    """Read a plan's 任务分工台账 (序号, 任务, 牵头单位, 配合单位, 完成时限, 进展, 状态)."""
    ledger = await service.ledger(session, principal, plan_id)
    wants_xlsx = format == "xlsx" or (
        format is None and ledgers.XLSX_MEDIA_TYPE in request.headers.get("accept", "")
    )
    if not wants_xlsx:
        return ledger
    filename = f"ledger-{plan_id}.xlsx"
    return Response(
        ledgers.export_xlsx(ledger),
        media_type=ledgers.XLSX_MEDIA_TYPE,
        headers={
            "Content-Disposition": f"attachment; filename=\"{filename}\"; filename*=UTF-8''"
            + "%E4%BB%BB%E5%8A%A1%E5%88%86%E5%B7%A5%E5%8F%B0%E8%B4%A6.xlsx"
        },
    )


@router.post(
    "/plans/{plan_id:uuid}/ledger",
    status_code=201,
    response_model=LedgerImportResult,
    operation_id="importPlanLedger",
    dependencies=[require_roles(Role.bureau_planner)],
    openapi_extra=access_rule(Role.bureau_planner),
    responses=problem_responses(400, 404, 413),
)
async def import_ledger(
    plan_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="an .xlsx sheet in the ledger layout")],
) -> LedgerImportResult:
    """Import a 任务分工台账 sheet: a task per row not yet in the plan; any row error imports nothing."""
    content = await file.read(MAX_LEDGER_BYTES + 1)
    if len(content) > MAX_LEDGER_BYTES:
        raise PayloadTooLarge("台账文件超过 10 MB", code="ledger_too_large")
    return await ledgers.import_xlsx(session, principal, plan_id, content)


@router.get(
    "/plans/{plan_id:uuid}/counts",
    response_model=TaskCountsRead,
    operation_id="getPlanTaskCounts",
    responses=problem_responses(404),
    openapi_extra=access_rule("any"),
)
async def get_plan_counts(
    plan_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, request: Request
) -> TaskCountsRead:
    """Count a plan's current tasks (sub-tasks included) by status and light."""
    return await service.plan_counts(session, principal, request.app.state.settings, plan_id)


@router.get(
    "/regions/{region_code}/counts",
    response_model=TaskCountsRead,
    operation_id="getRegionTaskCounts",
    responses=problem_responses(404),
    openapi_extra=access_rule("any"),
)
async def get_region_counts(
    region_code: CodePath, session: DbSession, principal: CurrentPrincipal, request: Request
) -> TaskCountsRead:
    """Count the current tasks owned in a region and below it, by status and light."""
    return await service.region_counts(session, principal, request.app.state.settings, region_code)
