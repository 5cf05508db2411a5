from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from emplan_shared.auth import CurrentPrincipal, Principal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import problem_responses
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from indicator_engine.definitions import service
from indicator_engine.definitions.schemas import (
    DataElementCreate,
    DataElementRead,
    DefinitionCreate,
    DefinitionLookup,
    DefinitionRead,
    DefinitionUpdate,
)

router = APIRouter(
    prefix="/api/v1/indicators", tags=["indicator-definitions"], responses=problem_responses(401, 403, 422)
)

SystemAdmin = Annotated[Principal, require_roles(Role.system_admin)]
DefinitionCode = Path(
    pattern=r"^[a-z][a-z0-9_]{1,63}$", description="definition code", examples=["ps_deaths"]
)
ElementCode = Path(pattern=r"^[a-z][a-z0-9_]{1,63}$", description="data element code", examples=["ps_deaths"])
READ = access_rule("any", scope="global")
ADMIN = access_rule(Role.system_admin, scope="global")


def _after(cursor: str | None) -> str | None:
    key = decode_cursor(cursor)
    return str(key[0]) if key else None


@router.get(
    "/definitions",
    response_model=Page[DefinitionRead],
    operation_id="listIndicatorDefinitions",
    openapi_extra=READ,
    responses=problem_responses(400),
)
async def list_definitions(
    session: DbSession, _principal: CurrentPrincipal, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[DefinitionRead]:
    """List indicator definitions, shipped and added, by code."""
    rows = await service.list_definitions(session, after=_after(cursor), limit=limit + 1)
    items = [DefinitionRead.of(row) for row in rows[:limit]]
    next_cursor = encode_cursor([items[-1].code]) if len(rows) > limit else None
    return Page[DefinitionRead](items=items, next_cursor=next_cursor)


@router.post(
    "/definitions",
    status_code=201,
    response_model=DefinitionRead,
    operation_id="createIndicatorDefinition",
    openapi_extra=ADMIN,
    responses=problem_responses(409),
)
async def create_definition(
    data: DefinitionCreate, session: DbSession, principal: SystemAdmin
) -> DefinitionRead:
    """Add an indicator definition (system administrators)."""
    return DefinitionRead.of(await service.create_definition(session, principal, data))


@router.get(
    "/definitions/lookup",
    response_model=DefinitionLookup,
    operation_id="lookupIndicatorDefinition",
    openapi_extra=READ,
)
async def lookup_definition(
    session: DbSession,
    _principal: CurrentPrincipal,
    name: str = Query(
        min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="name or alias"
    ),
) -> DefinitionLookup:
    """Find the definition a name or alias denotes (full-width, case and spaces ignored)."""
    normalized, match, candidates = await service.lookup(session, name)
    return DefinitionLookup(
        query=name,
        normalized=normalized,
        match=None if match is None else DefinitionRead.of(match),
        candidates=candidates,
    )


@router.get(
    "/definitions/{definition_code}",
    response_model=DefinitionRead,
    operation_id="getIndicatorDefinition",
    openapi_extra=READ,
    responses=problem_responses(404),
)
async def get_definition(
    session: DbSession, _principal: CurrentPrincipal, definition_code: str = DefinitionCode
) -> DefinitionRead:
    """Read an indicator definition."""
    return DefinitionRead.of(await service.get_definition(session, definition_code))


@router.patch(
    "/definitions/{definition_code}",
    response_model=DefinitionRead,
    operation_id="updateIndicatorDefinition",
    openapi_extra=ADMIN,
    responses=problem_responses(404, 409),
)
async def update_definition(
    data: DefinitionUpdate,
    session: DbSession,
    _principal: SystemAdmin,
    definition_code: str = DefinitionCode,
) -> DefinitionRead:
    """Change a definition's name, aliases or description (system administrators)."""
    return DefinitionRead.of(await service.update_definition(session, definition_code, data))


@router.delete(
    "/definitions/{definition_code}",
    status_code=204,
    response_class=Response,
    operation_id="deleteIndicatorDefinition",
    openapi_extra=ADMIN,
    responses=problem_responses(404, 409),
)
async def delete_definition(
    session: DbSession, _principal: SystemAdmin, definition_code: str = DefinitionCode
) -> Response:
    """Delete an added definition that nothing refers to (system administrators)."""
    await service.delete_definition(session, definition_code)
    return Response(status_code=204)


@router.get(
    "/elements",
    response_model=Page[DataElementRead],
    operation_id="listDataElements",
    openapi_extra=READ,
    responses=problem_responses(400),
)
async def list_elements(
    session: DbSession, _principal: CurrentPrincipal, limit: LimitQuery = 100, cursor: CursorQuery = None
) -> Page[DataElementRead]:
    """List data elements, by code."""
    rows = await service.list_elements(session, after=_after(cursor), limit=limit + 1)
    items = [DataElementRead.model_validate(row) for row in rows[:limit]]
    next_cursor = encode_cursor([items[-1].code]) if len(rows) > limit else None
    return Page[DataElementRead](items=items, next_cursor=next_cursor)


@router.post(
    "/elements",
    status_code=201,
    response_model=DataElementRead,
    operation_id="createDataElement",
    openapi_extra=ADMIN,
    responses=problem_responses(409),
)
async def create_element(
    data: DataElementCreate, session: DbSession, principal: SystemAdmin
) -> DataElementRead:
    """Add a data element (system administrators)."""
    return DataElementRead.model_validate(await service.create_element(session, principal, data))


@router.get(
    "/elements/{element_code}",
    response_model=DataElementRead,
    operation_id="getDataElement",
    openapi_extra=READ,
    responses=problem_responses(404),
)
async def get_element(
    session: DbSession, _principal: CurrentPrincipal, element_code: str = ElementCode
) -> DataElementRead:
    """Read a data element."""
    return DataElementRead.model_validate(await service.get_element(session, element_code))


@router.delete(
    "/elements/{element_code}",
    status_code=204,
    response_class=Response,
    operation_id="deleteDataElement",
    openapi_extra=ADMIN,
    responses=problem_responses(404, 409),
)
async def delete_element(
    session: DbSession, _principal: SystemAdmin, element_code: str = ElementCode
) -> Response:
    """Delete an added data element that no definition or value uses (system administrators)."""
    await service.delete_element(session, element_code)
    return Response(status_code=204)
