from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, File, Path, Query, Request, Response, UploadFile

from emplan_shared.auth import CurrentPrincipal, Principal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import problem_responses
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from indicator_engine.data import bulk, service
from indicator_engine.data.parsing import RawRow, csv_rows, detect_format, xlsx_rows
from indicator_engine.data.rules import RowError
from indicator_engine.data.schemas import (
    BulkFormat,
    BulkLoadReport,
    BulkValuesIn,
    DataValueHistoryRead,
    DataValueIn,
    DataValueRead,
    ValueState,
)
from indicator_engine.settings import Settings

router = APIRouter(
    prefix="/api/v1/indicators/values", tags=["indicator-data"], responses=problem_responses(401, 403, 422)
)

Reporter = Annotated[
    Principal, require_roles(Role.department_reporter, Role.bureau_planner, Role.machine_client)
]
Approver = Annotated[Principal, require_roles(Role.bureau_planner)]
WRITE = access_rule(Role.bureau_planner, Role.department_reporter, Role.machine_client)
APPROVE = access_rule(Role.bureau_planner)
READ = access_rule("any")
# `{value_id:int}` in the paths: /values/bulk is not an id, so GET on it is 405, not 422.
ValueId = Annotated[int, Path(ge=1, le=2**63 - 1, description="data value id")]
PartialQuery = Annotated[
    bool, Query(description="true: store the valid rows and report the rejected ones; false: all or nothing")
]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.post(
    "",
    status_code=201,
    response_model=DataValueRead,
    operation_id="recordDataValue",
    openapi_extra=WRITE,
    responses={
        200: {"model": DataValueRead, "description": "an existing value corrected"},
        **problem_responses(409),
    },
)
async def record_value(
    data: DataValueIn, request: Request, response: Response, session: DbSession, principal: Reporter
) -> DataValueRead:
    """Enter a value, or correct the stored one of the same element, region, year and month."""
    row, created = await service.record_value(session, principal, _settings(request), data)
    response.status_code = 201 if created else 200
    return DataValueRead.of(row)


@router.get(
    "",
    response_model=Page[DataValueRead],
    operation_id="listDataValues",
    openapi_extra=READ,
    responses=problem_responses(400, 404),
)
async def list_values(
    session: DbSession,
    principal: CurrentPrincipal,
    element_code: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")] = None,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$", description="this region only")] = None,
    below: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="this region and all below it")
    ] = None,
    year: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    state: ValueState | None = None,
    flagged: Annotated[bool | None, Query(description="true: only values flagged for review")] = None,
    limit: LimitQuery = 100,
    cursor: CursorQuery = None,
) -> Page[DataValueRead]:
    """List the values of the caller's jurisdiction."""
    principal.require_region(region_code, field="query.region_code")
    principal.require_region(below, field="query.below")
    key = decode_cursor(cursor)
    after = int(key[0]) if key and isinstance(key[0], int) else None
    rows = await service.list_values(
        session,
        principal,
        element_code=element_code,
        region_code=region_code,
        below=below,
        year=year,
        state=state.value if state else None,
        flagged=flagged,
        after=after,
        limit=limit + 1,
    )
    items = [DataValueRead.of(row) for row in rows[:limit]]
    next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
    return Page[DataValueRead](items=items, next_cursor=next_cursor)


@router.post(
    "/bulk",
    response_model=BulkLoadReport,
    operation_id="loadDataValues",
    openapi_extra=WRITE,
    responses=problem_responses(409),
)
async def load_values(
    data: BulkValuesIn,
    request: Request,
    session: DbSession,
    principal: Reporter,
    partial: PartialQuery = False,
) -> BulkLoadReport:
    """Load many values given as JSON; a report of what was stored and what was rejected, row by row."""

    def rows() -> Iterator[RawRow | RowError]:
        for number, item in enumerate(data.values, start=1):
            yield (
                number,
                item.element_code,
                item.region_code,
                item.year,
                item.month,
                item.value,
                item.unit,
                item.source,
            )

    return await bulk.load(
        session, principal, _settings(request), rows(), format=BulkFormat.json, filename=None, partial=partial
    )


@router.post(
    "/upload",
    response_model=BulkLoadReport,
    operation_id="uploadDataValues",
    openapi_extra=WRITE,
    responses=problem_responses(400, 409, 413),
)
async def upload_values(
    request: Request,
    session: DbSession,
    principal: Reporter,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or .xlsx with a header row")],
    partial: PartialQuery = False,
) -> BulkLoadReport:
    """Load values from a CSV or .xlsx file; a report of what was stored and what was rejected, row by row."""
    binary = file.file
    head = binary.read(8)
    binary.seek(0)
    kind = detect_format(head)
    rows = xlsx_rows(binary) if kind == "xlsx" else csv_rows(binary)
    return await bulk.load(
        session,
        principal,
        _settings(request),
        rows,
        format=BulkFormat(kind),
        filename=(file.filename or "")[:255] or None,
        partial=partial,
    )


@router.get(
    "/{value_id:int}",
    response_model=DataValueRead,
    operation_id="getDataValue",
    openapi_extra=READ,
    responses=problem_responses(404),
)
async def get_value(value_id: ValueId, session: DbSession, principal: CurrentPrincipal) -> DataValueRead:
    """Read a value."""
    return DataValueRead.of(await service.get_value(session, principal, value_id))


@router.get(
    "/{value_id:int}/history",
    response_model=DataValueHistoryRead,
    operation_id="getDataValueHistory",
    openapi_extra=READ,
    responses=problem_responses(404),
)
async def get_history(
    value_id: ValueId, session: DbSession, principal: CurrentPrincipal
) -> DataValueHistoryRead:
    """Every version of a value, oldest first, a deleted value's included."""
    return await service.history(session, principal, value_id)


@router.delete(
    "/{value_id:int}",
    status_code=204,
    response_class=Response,
    operation_id="deleteDataValue",
    openapi_extra=WRITE,
    responses=problem_responses(404, 409),
)
async def delete_value(value_id: ValueId, session: DbSession, principal: Reporter) -> Response:
    """Delete a value that is not approved; its versions stay in the history."""
    await service.delete_value(session, principal, value_id)
    return Response(status_code=204)


@router.post(
    "/{value_id:int}/submit",
    response_model=DataValueRead,
    operation_id="submitDataValue",
    openapi_extra=WRITE,
    responses=problem_responses(404, 409),
)
async def submit_value(value_id: ValueId, session: DbSession, principal: Reporter) -> DataValueRead:
    """Submit a draft value for approval."""
    return DataValueRead.of(await service.submit(session, principal, value_id))


@router.post(
    "/{value_id:int}/approve",
    response_model=DataValueRead,
    operation_id="approveDataValue",
    openapi_extra=APPROVE,
    responses=problem_responses(404, 409),
)
async def approve_value(value_id: ValueId, session: DbSession, principal: Approver) -> DataValueRead:
    """Approve a submitted value, once the values of the regions below it are approved."""
    return DataValueRead.of(await service.approve(session, principal, value_id))


@router.post(
    "/{value_id:int}/unapprove",
    response_model=DataValueRead,
    operation_id="unapproveDataValue",
    openapi_extra=APPROVE,
    responses=problem_responses(404, 409),
)
async def unapprove_value(value_id: ValueId, session: DbSession, principal: Approver) -> DataValueRead:
    """Withdraw an approval, while the region above has not approved its own value."""
    return DataValueRead.of(await service.unapprove(session, principal, value_id))
