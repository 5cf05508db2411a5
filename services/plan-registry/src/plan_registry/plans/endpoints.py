from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from pydantic import BaseModel

from emplan_shared.auth import CurrentPrincipal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, ProblemItem, UnprocessableEntity, problem_responses
from emplan_shared.etags import required_if_match
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from plan_registry.plans import schemas, service
from plan_registry.settings import Settings

router = APIRouter(prefix="/api/v1/plans", tags=["plans"], responses=problem_responses(401, 403, 422))

PLANNER = [require_roles(Role.bureau_planner)]


def _json(model: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The model as JSON, built once: returned as a Response, FastAPI skips validating the plan's
    content a second time against `response_model` (which still documents it). A 64 KB plan's content
    is ~80 KB of JSON, and the second pass cost more than the rest of a read."""
    return Response(
        model.model_dump_json(), status_code=status_code, headers=headers, media_type="application/json"
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


IMPORT_DESCRIPTION = (
    "Upload a `.txt` (UTF-8, UTF-16 with BOM, GBK/GB18030: detected) or `.docx` file as `file`, or paste "
    "the text as `text`. Returns the structured plan and the warnings (with line numbers) of what could "
    "not be placed; unit names are resolved against the directory of the plan's region and the ones no "
    "department answers to are warned about, never invented. With `dry_run=true` nothing is saved; "
    "otherwise the draft is saved for review (all or nothing). Documents are limited to "
    "PLAN_REGISTRY_MAX_DOCUMENT_BYTES (10 MB by default: 413 `document_too_large`); a request body over "
    "EMPLAN_MAX_BODY_BYTES (20 MB) is refused with 413 `payload_too_large` before it is read. "
    "Documents that cannot be read answer 422 with the parser's code: `empty_document`, "
    "`binary_document`, `undecodable_text`, `not_a_docx`, `no_structure`, `unparseable_document`; "
    "a saved draft needs its region (`region_required`)."
)


@router.post(
    "/imports",
    response_model=schemas.PlanImportResult,
    operation_id="importPlanDocument",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=PLANNER,
    responses={
        201: {"model": schemas.PlanImportResult, "description": "saved as a draft (`dry_run=false`)"},
        **problem_responses(400, 404, 413),
    },
    description=IMPORT_DESCRIPTION,
)
async def import_plan(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile | None, File(description="the plan document, .txt or .docx")] = None,
    text: Annotated[str | None, Form(description="the plan's text, pasted (instead of a file)")] = None,
    region_code: Annotated[
        str | None,
        Form(
            pattern=r"^\d{6}$",
            description="the plan's region when the document's name is ambiguous or absent",
        ),
    ] = None,
    dry_run: Annotated[bool, Query(description="true: parse and resolve only, save nothing")] = False,
) -> Response:
    """Import a plan document (.txt / .docx upload or pasted text) as a draft."""
    if (file is None) == (text is None):
        raise UnprocessableEntity(
            "请上传文件（file）或粘贴文本（text），二者选其一",
            code="document_missing",
            errors=[ProblemItem(field="body.file", detail="file 与 text 必须且只能提供一个")],
        )
    settings = _settings(request)
    if file is not None:
        # Read one byte past the limit: enough to know the file is too large without holding more.
        data = await file.read(settings.max_document_bytes + 1)
        upload = service.Upload(data, file.filename, file.content_type or "application/octet-stream")
    else:
        assert text is not None
        try:
            data = text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise UnprocessableEntity(
                "粘贴的文本含有无法编码的字符",
                code="undecodable_text",
                errors=[ProblemItem(field="body.text", detail="含有无法编码的字符")],
            ) from exc
        upload = service.Upload(data, None, "text/plain")
    result = await service.import_document(
        session,
        principal,
        upload,
        region_code=region_code,
        dry_run=dry_run,
        max_bytes=settings.max_document_bytes,
    )
    if result.plan_id is not None:
        return _json(result, status_code=201, headers={"Location": f"/api/v1/plans/{result.plan_id}"})
    return _json(result)


@router.get(
    "",
    response_model=Page[schemas.PlanSummary],
    operation_id="listPlans",
    openapi_extra=access_rule("any"),
    responses=problem_responses(400, 404),
)
async def list_plans(
    session: DbSession,
    principal: CurrentPrincipal,
    region_code: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="this region and every region below it")
    ] = None,
    status: schemas.PlanStatus | None = None,
    kind: schemas.PlanKind | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Response:
    """List the plans of the caller's jurisdiction, newest first."""
    principal.require_region(region_code, field="query.region_code")
    key = decode_cursor(cursor)
    after: tuple[datetime, uuid.UUID] | None = None
    if key is not None:
        try:
            after = (datetime.fromisoformat(key[0]), uuid.UUID(key[1]))
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise BadRequest(
                "分页游标无效",
                code="invalid_cursor",
                errors=[ProblemItem(field="query.cursor", detail="无法解析")],
            ) from exc
    rows = await service.list_plans(
        session, principal, region_code=region_code, status=status, kind=kind, after=after, limit=limit + 1
    )
    items = [service.summary(plan) for plan in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor([last.created_at.isoformat(), str(last.id)])
    return _json(Page[schemas.PlanSummary](items=items, next_cursor=next_cursor))


@router.get(
    "/{plan_id:uuid}",
    response_model=schemas.PlanRead,
    operation_id="getPlan",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_plan(plan_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Read a plan version with its content; its ETag goes back as If-Match to change a draft."""
    plan = await service.get_plan(session, principal, plan_id)
    return _json(await service.read(session, plan), headers={"ETag": service.etag(plan)})


@router.patch(
    "/{plan_id:uuid}",
    response_model=schemas.PlanRead,
    operation_id="updatePlanDraft",
    dependencies=PLANNER,
    responses=problem_responses(404, 409, 412, 428),
    # Read from the request rather than declared with Header(): a missing If-Match must answer 428.
    openapi_extra={
        **access_rule(Role.bureau_planner),
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "the plan's ETag as last read; a stale one answers 412",
                "schema": {"type": "string", "minLength": 1, "examples": ['"1"']},
            }
        ],
    },
)
async def update_plan(
    plan_id: uuid.UUID,
    data: schemas.PlanUpdate,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
) -> Response:
    """Change a draft (If-Match required); a published plan changes only through a new version."""
    tags = required_if_match(request, "修改规划")
    plan = await service.update_draft(session, principal, plan_id, data, if_match=tags)
    return _json(await service.read(session, plan), headers={"ETag": service.etag(plan)})


@router.delete(
    "/{plan_id:uuid}",
    status_code=204,
    operation_id="deletePlanDraft",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=PLANNER,
    responses=problem_responses(404, 409),
)
async def delete_plan(plan_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Delete a draft (published versions are kept)."""
    await service.delete_draft(session, principal, plan_id)
    return Response(status_code=204)


@router.post(
    "/{plan_id:uuid}/publish",
    response_model=schemas.PlanRead,
    operation_id="publishPlan",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=PLANNER,
    responses=problem_responses(404, 409),
)
async def publish_plan(
    plan_id: uuid.UUID, request: Request, session: DbSession, principal: CurrentPrincipal
) -> Response:
    """Publish a draft; the version it replaces becomes superseded (events plan.published / superseded)."""
    plan = await service.publish(
        session, principal, plan_id, max_event_bytes=_settings(request).max_event_bytes
    )
    return _json(await service.read(session, plan), headers={"ETag": service.etag(plan)})


@router.post(
    "/{plan_id:uuid}/versions",
    status_code=201,
    response_model=schemas.PlanRead,
    operation_id="createPlanVersion",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=PLANNER,
    responses=problem_responses(404, 409),
)
async def create_version(plan_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> Response:
    """Start a new version (a draft copy) of a published plan."""
    plan = await service.new_version(session, principal, plan_id)
    headers = {"ETag": service.etag(plan), "Location": f"/api/v1/plans/{plan.id}"}
    return _json(await service.read(session, plan), status_code=201, headers=headers)


@router.get(
    "/{plan_id:uuid}/versions",
    response_model=Page[schemas.PlanSummary],
    operation_id="listPlanVersions",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def list_versions(
    plan_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> Page[schemas.PlanSummary]:
    """List every version of the plan, oldest first (always one page)."""
    rows = await service.list_versions(session, principal, plan_id)
    return Page[schemas.PlanSummary](items=[service.summary(p) for p in rows], next_cursor=None)


@router.get(
    "/{plan_id:uuid}/alignment",
    response_model=schemas.AlignmentReport,
    operation_id="getPlanAlignment",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_alignment(
    plan_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> schemas.AlignmentReport:
    """Compare the plan's targets with its parent plans' targets for the same indicators."""
    return await service.alignment(session, principal, plan_id)
