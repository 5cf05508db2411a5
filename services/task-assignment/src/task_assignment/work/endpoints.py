"""Work on a task over HTTP: reports and evidence, transitions, progress and light, the scans."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, File, Request, Response, UploadFile

from emplan_shared.auth import CurrentPrincipal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, ProblemItem, problem_responses
from emplan_shared.etags import required_if_match
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from task_assignment.settings import Settings
from task_assignment.work import service
from task_assignment.work.evidence import KNOWN_TYPES
from task_assignment.work.overdue import scan_overdue
from task_assignment.work.periods import PeriodKind
from task_assignment.work.reminders import scan_reminders
from task_assignment.work.schemas import (
    EvidenceRead,
    LightRules,
    LightRulesRead,
    OverdueScanRequest,
    OverdueScanResult,
    ReminderScanRequest,
    ReminderScanResult,
    ReportCreate,
    ReportRead,
    TaskProgressRead,
    TransitionCreate,
)

router = APIRouter(prefix="/api/v1/tasks", tags=["task-work"], responses=problem_responses(401, 403, 422))


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _clean_filename(name: str | None) -> str:
    """The file's own name: no directories, no control characters, nothing unencodable."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    kept = "".join(ch for ch in base if ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF)
    return kept.strip()[:255]


@router.post(
    "/{task_id:uuid}/reports",
    status_code=201,
    response_model=ReportRead,
    operation_id="submitTaskReport",
    openapi_extra=access_rule(Role.department_reporter, Role.bureau_planner),
    dependencies=[require_roles(Role.department_reporter, Role.bureau_planner)],
    responses=problem_responses(404, 409),
)
async def submit_task_report(
    task_id: uuid.UUID, data: ReportCreate, session: DbSession, principal: CurrentPrincipal
) -> ReportRead:
    """Report progress on a task (assigned departments and the plan's owner bureau)."""
    return await service.submit_report(session, principal, task_id, data)


@router.get(
    "/{task_id:uuid}/reports",
    response_model=Page[ReportRead],
    operation_id="listTaskReports",
    openapi_extra=access_rule("any"),
    responses=problem_responses(400, 404),
)
async def list_task_reports(
    task_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[ReportRead]:
    """List a task's progress reports, newest first."""
    key = decode_cursor(cursor)
    after = None
    if key is not None:
        try:
            after = (datetime.fromisoformat(key[0]), uuid.UUID(key[1]))
        except (ValueError, TypeError, IndexError, AttributeError) as exc:
            raise BadRequest(
                "分页游标无效",
                code="invalid_cursor",
                errors=[ProblemItem(field="query.cursor", detail="无法解析")],
            ) from exc
    items, last = await service.list_reports(session, principal, task_id, after=after, limit=limit)
    next_cursor = encode_cursor([last.submitted_at.isoformat(), str(last.id)]) if last else None
    return Page[ReportRead](items=items, next_cursor=next_cursor)


@router.post(
    "/{task_id:uuid}/reports/{report_id:uuid}/evidence",
    status_code=201,
    response_model=EvidenceRead,
    operation_id="uploadReportEvidence",
    openapi_extra=access_rule(Role.department_reporter, Role.bureau_planner),
    dependencies=[require_roles(Role.department_reporter, Role.bureau_planner)],
    responses=problem_responses(404, 409, 413, 415),
)
async def upload_report_evidence(
    task_id: uuid.UUID,
    report_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="pdf, docx, xlsx, jpg, png … within the size limit")],
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
) -> EvidenceRead:
    """Attach an evidence file to a report; it is stored with its SHA-256."""
    settings = _settings(request)
    # One byte over the limit is enough to refuse it; never hold more than that.
    content = await file.read(settings.evidence_max_bytes + 1)
    return await service.add_evidence(
        session, principal, settings, task_id, report_id, _clean_filename(file.filename), content
    )


@router.get(
    "/{task_id:uuid}/reports/{report_id:uuid}/evidence/{evidence_id:uuid}",
    operation_id="downloadReportEvidence",
    openapi_extra=access_rule("any"),
    response_class=Response,
    responses={
        **problem_responses(404),
        200: {
            "description": "the file, as uploaded, with its own media type",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in sorted({media for media, _check in KNOWN_TYPES.values()})
            },
        },
    },
)
async def download_report_evidence(
    task_id: uuid.UUID,
    report_id: uuid.UUID,
    evidence_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
) -> Response:
    """Download an evidence file; Repr-Digest carries its SHA-256."""
    evidence, content = await service.evidence_content(session, principal, task_id, report_id, evidence_id)
    digest = base64.b64encode(bytes.fromhex(evidence.sha256 or "")).decode()
    filename = quote(evidence.filename or "evidence")
    return Response(
        content,
        media_type=evidence.media_type or "application/octet-stream",
        headers={
            "ETag": f'"{evidence.sha256}"',
            "Repr-Digest": f"sha-256=:{digest}:",
            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
        },
    )


@router.post(
    "/{task_id:uuid}/transitions",
    response_model=TaskProgressRead,
    operation_id="transitionTask",
    dependencies=[require_roles(Role.department_reporter, Role.bureau_planner)],
    responses=problem_responses(404, 409, 412, 428),
    # Read from the request rather than declared with Header(): a missing If-Match must answer 428,
    # not the 422 of a failed validation, and the document must still say it is required.
    openapi_extra=access_rule(Role.department_reporter, Role.bureau_planner)
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
async def transition_task(
    task_id: uuid.UUID,
    data: TransitionCreate,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> TaskProgressRead:
    """Change a task's status: start, claim completion, close (销号) or return it (If-Match required)."""
    tags = required_if_match(request, "变更任务状态")
    result = await service.transition(
        session, principal, _settings(request), task_id, data.action, data.reason, tags
    )
    response.headers["ETag"] = f'"{result.version}"'
    return result


@router.get(
    "/{task_id:uuid}/progress",
    response_model=TaskProgressRead,
    operation_id="getTaskProgress",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_task_progress(
    task_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, request: Request, response: Response
) -> TaskProgressRead:
    """Read a task's status, progress, light, each unit's latest report and the status history."""
    result = await service.get_progress(session, principal, _settings(request), task_id)
    response.headers["ETag"] = f'"{result.version}"'
    return result


@router.get(
    "/plans/{plan_id:uuid}/light-rules",
    response_model=LightRulesRead,
    operation_id="getPlanLightRules",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_plan_light_rules(
    plan_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, request: Request
) -> LightRulesRead:
    """Read the light's thresholds for a plan (the defaults when it has none of its own)."""
    return await service.get_light_rules(session, principal, _settings(request), plan_id)


@router.put(
    "/plans/{plan_id:uuid}/light-rules",
    response_model=LightRulesRead,
    operation_id="setPlanLightRules",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=[require_roles(Role.bureau_planner)],
    responses=problem_responses(404),
)
async def set_plan_light_rules(
    plan_id: uuid.UUID, data: LightRules, session: DbSession, principal: CurrentPrincipal, request: Request
) -> LightRulesRead:
    """Set the light's thresholds for a plan."""
    return await service.put_light_rules(
        session, principal, _settings(request), plan_id, data.yellow_within_days, data.behind_tolerance_pct
    )


@router.post(
    "/overdue-scan",
    response_model=OverdueScanResult,
    operation_id="runOverdueScan",
    openapi_extra=access_rule(Role.system_admin, scope="global"),
    dependencies=[require_roles(Role.system_admin)],
)
async def run_overdue_scan(
    data: OverdueScanRequest, session: DbSession, request: Request, _principal: CurrentPrincipal
) -> OverdueScanResult:
    """Run the overdue scan now (it also runs daily); each task and deadline is notified once."""
    result = await scan_overdue(session, data.as_of or service.today_in(_settings(request)))
    return OverdueScanResult(as_of=result.as_of, overdue=result.overdue, notified=result.notified)


@router.post(
    "/reminders-scan",
    response_model=ReminderScanResult,
    operation_id="runReminderScan",
    openapi_extra=access_rule(Role.system_admin, scope="global"),
    dependencies=[require_roles(Role.system_admin)],
)
async def run_reminder_scan(
    data: ReminderScanRequest, session: DbSession, request: Request, _principal: CurrentPrincipal
) -> ReminderScanResult:
    """Run the reminder scan now; each department gets at most one reminder per period."""
    settings = _settings(request)
    result = await scan_reminders(
        session,
        data.as_of or service.today_in(settings),
        kind=PeriodKind(settings.reporting_period),
        days_before_end=settings.reminder_days_before_period_end,
        due_within_days=settings.reminder_due_within_days,
        timezone=settings.timezone,
    )
    return ReminderScanResult(
        as_of=result.as_of,
        period=result.period.label,
        window_open=result.window_open,
        notified=result.notified,
    )
