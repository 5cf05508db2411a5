from __future__ import annotations

import uuid

from fastapi import APIRouter, Path, Query

from emplan_shared.auth import CurrentPrincipal, Role, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import problem_responses
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from plan_registry.directory import service
from plan_registry.directory.schemas import DepartmentCreate, DepartmentRead, RegionCreate, RegionRead

router = APIRouter(prefix="/api/v1/directory", tags=["directory"], responses=problem_responses(401, 403, 422))


@router.post(
    "/regions",
    status_code=201,
    response_model=RegionRead,
    operation_id="createRegion",
    dependencies=[require_roles(Role.system_admin)],
    responses=problem_responses(409),
)
async def create_region(data: RegionCreate, session: DbSession) -> RegionRead:
    """Add a region to the directory."""
    return RegionRead.model_validate(await service.create_region(session, data))


@router.get(
    "/regions/{code}", response_model=RegionRead, operation_id="getRegion", responses=problem_responses(404)
)
async def get_region(
    session: DbSession, _principal: CurrentPrincipal, code: str = Path(pattern=r"^\d{6}$")
) -> RegionRead:
    """Read a region by its GB/T 2260 code."""
    return RegionRead.model_validate(await service.get_region(session, code))


@router.post(
    "/departments",
    status_code=201,
    response_model=DepartmentRead,
    operation_id="createDepartment",
    dependencies=[require_roles(Role.bureau_planner)],
    responses=problem_responses(409),
)
async def create_department(
    data: DepartmentCreate, session: DbSession, principal: CurrentPrincipal
) -> DepartmentRead:
    """Add a department to a region of the caller's jurisdiction."""
    return DepartmentRead.model_validate(await service.create_department(session, principal, data))


@router.get(
    "/departments/{department_id}",
    response_model=DepartmentRead,
    operation_id="getDepartment",
    responses=problem_responses(404),
)
async def get_department(
    department_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> DepartmentRead:
    """Read a department."""
    return DepartmentRead.model_validate(await service.get_department(session, principal, department_id))


@router.get(
    "/departments",
    response_model=Page[DepartmentRead],
    operation_id="listDepartments",
    responses=problem_responses(400),
)
async def list_departments(
    session: DbSession,
    principal: CurrentPrincipal,
    region_code: str | None = Query(None, pattern=r"^\d{6}$"),
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[DepartmentRead]:
    """List the departments of the caller's jurisdiction, optionally of one region."""
    key = decode_cursor(cursor)
    after = uuid.UUID(key[0]) if key else None
    rows = await service.list_departments(
        session, principal, region_code=region_code, after=after, limit=limit + 1
    )
    items = [DepartmentRead.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor([str(items[-1].id)]) if len(rows) > limit else None
    return Page[DepartmentRead](items=items, next_cursor=next_cursor)
