from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from emplan_shared.auth import CurrentPrincipal, Role, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, ProblemItem, problem_responses
from emplan_shared.etags import required_if_match
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from plan_registry.directory import service
from plan_registry.directory.schemas import (
    DepartmentCreate,
    DepartmentRead,
    DepartmentUpdate,
    RegionCreate,
    RegionLevel,
    RegionRead,
    ResolveRequest,
    ResolveResult,
)

router = APIRouter(prefix="/api/v1/directory", tags=["directory"], responses=problem_responses(401, 403, 422))

CodePath = Annotated[str, Path(pattern=r"^\d{6}$", description="GB/T 2260 code", examples=["140900"])]


def _bad_cursor() -> BadRequest:
    return BadRequest(
        "分页游标无效", code="invalid_cursor", errors=[ProblemItem(field="query.cursor", detail="无法解析")]
    )


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
    "/regions",
    response_model=Page[RegionRead],
    operation_id="searchRegions",
    responses=problem_responses(400),
)
async def search_regions(
    session: DbSession,
    _principal: CurrentPrincipal,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\x00-\x1f\x7f]+$",
            description="part of the name; one or two characters match the start of the name",
            examples=["忻州"],
        ),
    ],
    level: RegionLevel | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[RegionRead]:
    """Search regions by name: exact names first, then names starting with the query, then the rest."""
    key = decode_cursor(cursor)
    after: tuple[int, str] | None = None
    if key is not None:
        if len(key) != 2 or not isinstance(key[0], int) or not isinstance(key[1], str):
            raise _bad_cursor()
        after = (key[0], key[1])
    rows = await service.search_regions(session, q, level=level, after=after, limit=limit + 1)
    items = [RegionRead.model_validate(region) for region, _rank in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last_region, last_rank = rows[limit - 1]
        next_cursor = encode_cursor([last_rank, last_region.code])
    return Page[RegionRead](items=items, next_cursor=next_cursor)


@router.get(
    "/regions/{code}", response_model=RegionRead, operation_id="getRegion", responses=problem_responses(404)
)
async def get_region(session: DbSession, _principal: CurrentPrincipal, code: CodePath) -> RegionRead:
    """Read a region by its GB/T 2260 code."""
    return RegionRead.model_validate(await service.get_region(session, code))


@router.get(
    "/regions/{code}/children",
    response_model=Page[RegionRead],
    operation_id="listRegionChildren",
    responses=problem_responses(400, 404),
)
async def list_region_children(
    session: DbSession,
    _principal: CurrentPrincipal,
    code: CodePath,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[RegionRead]:
    """List the regions directly below a region, by code (000000 lists the provinces)."""
    key = decode_cursor(cursor)
    if key is not None and (len(key) != 1 or not isinstance(key[0], str)):
        raise _bad_cursor()
    rows = await service.region_children(session, code, after=key[0] if key else None, limit=limit + 1)
    items = [RegionRead.model_validate(region) for region in rows[:limit]]
    next_cursor = encode_cursor([items[-1].code]) if len(rows) > limit else None
    return Page[RegionRead](items=items, next_cursor=next_cursor)


@router.get(
    "/regions/{code}/ancestors",
    response_model=Page[RegionRead],
    operation_id="listRegionAncestors",
    responses=problem_responses(404),
)
async def list_region_ancestors(
    session: DbSession, _principal: CurrentPrincipal, code: CodePath
) -> Page[RegionRead]:
    """List the regions above a region, the country first (always one page)."""
    rows = await service.region_ancestors(session, code)
    return Page[RegionRead](items=[RegionRead.model_validate(region) for region in rows], next_cursor=None)


@router.post(
    "/departments",
    status_code=201,
    response_model=DepartmentRead,
    operation_id="createDepartment",
    dependencies=[require_roles(Role.bureau_planner)],
    responses=problem_responses(409),
)
async def create_department(
    data: DepartmentCreate, session: DbSession, principal: CurrentPrincipal, response: Response
) -> DepartmentRead:
    """Add a department to a region of the caller's jurisdiction."""
    department = await service.create_department(session, principal, data)
    response.headers["ETag"] = service.etag(department)
    return DepartmentRead.model_validate(department)


@router.post(
    "/departments/resolve",
    response_model=ResolveResult,
    operation_id="resolveDepartments",
    responses=problem_responses(404),
)
async def resolve_departments(
    data: ResolveRequest, session: DbSession, principal: CurrentPrincipal
) -> ResolveResult:
    """Resolve unit names as a document writes them to the departments of a region."""
    items = await service.resolve_visible_units(session, principal, data.region_code, data.names)
    return ResolveResult(region_code=data.region_code, items=items)


@router.get(
    "/departments/{department_id:uuid}",
    response_model=DepartmentRead,
    operation_id="getDepartment",
    responses=problem_responses(404),
)
async def get_department(
    department_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> DepartmentRead:
    """Read a department; its ETag goes back as If-Match to change it."""
    department = await service.get_department(session, principal, department_id)
    response.headers["ETag"] = service.etag(department)
    return DepartmentRead.model_validate(department)


@router.patch(
    "/departments/{department_id:uuid}",
    response_model=DepartmentRead,
    operation_id="updateDepartment",
    dependencies=[require_roles(Role.bureau_planner)],
    responses=problem_responses(404, 409, 412, 428),
    # Read from the request rather than declared with Header(): a missing If-Match must answer 428,
    # not the 422 of a failed validation, and the document must still say it is required.
    openapi_extra={
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "the department's ETag as last read; a stale one answers 412",
                "schema": {"type": "string", "minLength": 1, "examples": ['"1"']},
            }
        ]
    },
)
async def update_department(
    department_id: uuid.UUID,
    data: DepartmentUpdate,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> DepartmentRead:
    """Change a department's name, aliases or state (If-Match required)."""
    tags = required_if_match(request, "修改部门")
    department = await service.update_department(session, principal, department_id, data, if_match=tags)
    response.headers["ETag"] = service.etag(department)
    return DepartmentRead.model_validate(department)


@router.get(
    "/departments",
    response_model=Page[DepartmentRead],
    operation_id="listDepartments",
    responses=problem_responses(400, 404),
)
async def list_departments(
    session: DbSession,
    principal: CurrentPrincipal,
    region_code: str | None = Query(None, pattern=r"^\d{6}$"),
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[DepartmentRead]:
    """List the departments of the caller's jurisdiction, optionally of one region."""
    principal.require_region(region_code, field="query.region_code")
    key = decode_cursor(cursor)
    try:
        after = uuid.UUID(key[0]) if key else None
    except (ValueError, TypeError, AttributeError) as exc:
        raise _bad_cursor() from exc
    rows = await service.list_departments(
        session, principal, region_code=region_code, after=after, limit=limit + 1
    )
    items = [DepartmentRead.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor([str(items[-1].id)]) if len(rows) > limit else None
    return Page[DepartmentRead](items=items, next_cursor=next_cursor)
