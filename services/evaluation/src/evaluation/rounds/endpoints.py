from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from emplan_shared.auth import CurrentPrincipal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import EmplanError, ProblemItem, problem_responses
from emplan_shared.etags import required_if_match
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from evaluation.domain.scheme import DEFAULT_SCHEME
from evaluation.domain.snapshot import Snapshot
from evaluation.reports.data import ReportData
from evaluation.reports.docx import render_docx
from evaluation.reports.html import render_html
from evaluation.reports.xlsx import render_xlsx
from evaluation.rounds import service
from evaluation.rounds.models import EvaluationRound, ImprovementMeasure, ScoringSchemeRecord
from evaluation.rounds.schemas import (
    MeasureCreate,
    MeasureRead,
    PublicRoundRead,
    RoundCreate,
    RoundRead,
    RoundStatus,
    RoundUpdate,
    SchemeCreate,
    SchemeRead,
    ScoresRead,
    SnapshotAccepted,
)

router = APIRouter(
    prefix="/api/v1/evaluations", tags=["evaluations"], responses=problem_responses(401, 403, 422)
)
public_router = APIRouter(prefix="/api/v1/evaluations/public", tags=["evaluation-reports"])

WRITERS = (Role.bureau_planner, Role.evaluator)
HTML = "text/html; charset=utf-8"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PlanFilter = Annotated[uuid.UUID | None, Query(description="only this plan's")]


def _after(cursor: str | None) -> uuid.UUID | None:
    key = decode_cursor(cursor)
    if key is None:
        return None
    try:
        return uuid.UUID(str(key[0]))
    except (ValueError, IndexError) as exc:
        raise EmplanError(
            "分页游标无效",
            code="invalid_cursor",
            errors=[ProblemItem(field="query.cursor", detail="无法解析")],
        ) from exc


def _page(rows: int, limit: int, last_id: Callable[[], uuid.UUID]) -> str | None:
    return encode_cursor([str(last_id())]) if rows > limit else None


def _scheme_read(record: ScoringSchemeRecord) -> SchemeRead:
    return SchemeRead(
        id=record.id,
        plan_id=record.plan_id,
        version=record.version,
        rules=record.rules,
        created_at=record.created_at,
        created_by=record.created_by,
    )


def _round_read(evaluation_round: EvaluationRound) -> RoundRead:
    return RoundRead.model_validate(
        {
            **{
                c: getattr(evaluation_round, c)
                for c in RoundRead.model_fields
                if hasattr(evaluation_round, c)
            },
            "has_snapshot": evaluation_round.snapshot is not None,
        }
    )


def _public_read(evaluation_round: EvaluationRound) -> PublicRoundRead:
    base = f"{service.PUBLIC_PREFIX}/{evaluation_round.id}"
    assert evaluation_round.published_at is not None
    return PublicRoundRead(
        id=evaluation_round.id,
        plan_id=evaluation_round.plan_id,
        region_code=evaluation_round.region_code,
        kind=evaluation_round.kind,
        reference_date=evaluation_round.reference_date,
        title=evaluation_round.title,
        published_at=evaluation_round.published_at,
        report_html=f"{base}/report.html",
        report_docx=f"{base}/report.docx",
        report_xlsx=f"{base}/report.xlsx",
    )


# ---------------------------------------------------------------------------------------------- schemes


@router.get(
    "/schemes/default",
    response_model=SchemeRead,
    operation_id="getDefaultScheme",
    openapi_extra=access_rule("any", scope="global"),
)
async def get_default_scheme(_principal: CurrentPrincipal) -> SchemeRead:
    """The built-in default scoring scheme, used by a plan that has none of its own."""
    return SchemeRead(
        id=None, plan_id=None, version=None, rules=DEFAULT_SCHEME, created_at=None, created_by=None
    )


@router.post(
    "/schemes",
    status_code=201,
    response_model=SchemeRead,
    operation_id="createScoringScheme",
    openapi_extra=access_rule(*WRITERS),
    dependencies=[require_roles(*WRITERS)],
)
async def create_scheme(data: SchemeCreate, session: DbSession, principal: CurrentPrincipal) -> SchemeRead:
    """Add a new version of a plan's scoring scheme (earlier versions stay as they were)."""
    return _scheme_read(await service.create_scheme(session, principal, data))


@router.get(
    "/schemes",
    response_model=Page[SchemeRead],
    operation_id="listScoringSchemes",
    openapi_extra=access_rule("any"),
    responses=problem_responses(400),
)
async def list_schemes(
    session: DbSession,
    principal: CurrentPrincipal,
    plan_id: PlanFilter = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[SchemeRead]:
    """List the scoring schemes of the plans in the caller's jurisdiction."""
    rows = await service.list_schemes(
        session, principal, plan_id=plan_id, after=_after(cursor), limit=limit + 1
    )
    items = [_scheme_read(r) for r in rows[:limit]]
    return Page[SchemeRead](items=items, next_cursor=_page(len(rows), limit, lambda: rows[limit - 1].id))


@router.get(
    "/schemes/{scheme_id}",
    response_model=SchemeRead,
    operation_id="getScoringScheme",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_scheme(scheme_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> SchemeRead:
    """Read one version of a plan's scoring scheme."""
    return _scheme_read(await service.get_scheme(session, principal, scheme_id))


# ----------------------------------------------------------------------------------------------- rounds


@router.post(
    "/rounds",
    status_code=201,
    response_model=RoundRead,
    operation_id="createEvaluationRound",
    openapi_extra=access_rule(*WRITERS),
    dependencies=[require_roles(*WRITERS)],
    responses=problem_responses(409),
)
async def create_round(
    data: RoundCreate, session: DbSession, principal: CurrentPrincipal, response: Response
) -> RoundRead:
    """Open an evaluation round (annual, mid-term or final) of a published plan, as a draft, with its
    snapshot taken from the read model."""
    evaluation_round = await service.create_round(session, principal, data)
    response.headers["ETag"] = service.etag(evaluation_round)
    return _round_read(evaluation_round)


@router.get(
    "/rounds",
    response_model=Page[RoundRead],
    operation_id="listEvaluationRounds",
    openapi_extra=access_rule("any"),
    responses=problem_responses(400),
)
async def list_rounds(
    session: DbSession,
    principal: CurrentPrincipal,
    plan_id: PlanFilter = None,
    status: RoundStatus | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[RoundRead]:
    """List the evaluation rounds of the caller's jurisdiction."""
    rows = await service.list_rounds(
        session,
        principal,
        plan_id=plan_id,
        status=status.value if status else None,
        after=_after(cursor),
        limit=limit + 1,
    )
    items = [_round_read(r) for r in rows[:limit]]
    return Page[RoundRead](items=items, next_cursor=_page(len(rows), limit, lambda: rows[limit - 1].id))


@router.get(
    "/rounds/{round_id}",
    response_model=RoundRead,
    operation_id="getEvaluationRound",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_round(
    round_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal, response: Response
) -> RoundRead:
    """Read an evaluation round; its ETag goes back as If-Match to change it."""
    evaluation_round = await service.get_round(session, principal, round_id)
    response.headers["ETag"] = service.etag(evaluation_round)
    return _round_read(evaluation_round)


@router.patch(
    "/rounds/{round_id}",
    response_model=RoundRead,
    operation_id="updateEvaluationRound",
    dependencies=[require_roles(*WRITERS)],
    responses=problem_responses(404, 409, 412, 428),
    # Read from the request rather than declared with Header(): a missing If-Match must answer 428.
    openapi_extra={
        **access_rule(*WRITERS),
        "parameters": [
            {
                "name": "If-Match",
                "in": "header",
                "required": True,
                "description": "the round's ETag as last read; a stale one answers 412",
                "schema": {"type": "string", "minLength": 1, "examples": ['"1"']},
            }
        ],
    },
)
async def update_round(
    round_id: uuid.UUID,
    data: RoundUpdate,
    session: DbSession,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> RoundRead:
    """Change a draft round's title, reference date, scheme or bonus awards (If-Match required)."""
    tags = required_if_match(request, "修改评估轮次")
    evaluation_round = await service.update_round(session, principal, round_id, data, if_match=tags)
    response.headers["ETag"] = service.etag(evaluation_round)
    return _round_read(evaluation_round)


@router.post(
    "/rounds/{round_id}/snapshot",
    response_model=SnapshotAccepted,
    operation_id="putEvaluationSnapshot",
    openapi_extra=access_rule(Role.system_admin),
    dependencies=[require_roles(Role.system_admin)],
    responses=problem_responses(404, 409),
)
async def put_snapshot(
    round_id: uuid.UUID, snapshot: Snapshot, session: DbSession, principal: CurrentPrincipal
) -> SnapshotAccepted:
    """Override a draft round's snapshot with figures from elsewhere (system admins only; a round takes
    its snapshot from the read model when it starts). The round records it as `posted`."""
    evaluation_round = await service.put_snapshot(session, principal, round_id, snapshot)
    return _accepted(evaluation_round, snapshot)


def _accepted(evaluation_round: EvaluationRound, snapshot: Snapshot) -> SnapshotAccepted:
    assert evaluation_round.snapshot_at is not None
    return SnapshotAccepted(
        round_id=evaluation_round.id,
        targets=len(snapshot.targets),
        tasks=len(snapshot.tasks),
        sources=dict(snapshot.sources),
        rules_version=snapshot.rules_version,
        snapshot_at=evaluation_round.snapshot_at,
    )


@router.post(
    "/rounds/{round_id}/snapshot/refresh",
    response_model=SnapshotAccepted,
    operation_id="refreshEvaluationSnapshot",
    openapi_extra=access_rule(*WRITERS),
    dependencies=[require_roles(*WRITERS)],
    responses=problem_responses(404, 409),
)
async def refresh_snapshot(
    round_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> SnapshotAccepted:
    """Take a draft round's snapshot again from the read model (figures that arrived since it started)."""
    evaluation_round, snapshot = await service.refresh_snapshot(session, principal, round_id)
    return _accepted(evaluation_round, snapshot)


def _transition_route(path: str, operation_id: str, roles: tuple[Role, ...], action: Any, doc: str) -> None:
    async def endpoint(round_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> RoundRead:
        return _round_read(await action(session, principal, round_id))

    endpoint.__doc__ = doc
    router.add_api_route(
        f"/rounds/{{round_id}}/{path}",
        endpoint,
        methods=["POST"],
        response_model=RoundRead,
        operation_id=operation_id,
        dependencies=[require_roles(*roles)],
        openapi_extra=access_rule(*roles),
        responses=problem_responses(404, 409),
    )


_transition_route(
    "submit", "submitEvaluationRound", WRITERS, service.submit, "Send a draft round for review."
)
_transition_route(
    "return",
    "returnEvaluationRound",
    (Role.bureau_planner,),
    service.return_to_draft,
    "Send a round under review back to draft.",
)
_transition_route(
    "approve",
    "approveEvaluationRound",
    (Role.bureau_planner,),
    service.approve,
    "Approve a round under review, freezing its scores.",
)
_transition_route(
    "publish",
    "publishEvaluationRound",
    (Role.bureau_planner,),
    service.publish,
    "Publish an approved round: its report becomes public.",
)


@router.get(
    "/rounds/{round_id}/scores",
    response_model=ScoresRead,
    operation_id="getEvaluationScores",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404, 409),
)
async def get_scores(round_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> ScoresRead:
    """Scores and rankings of regions and lead departments, every point explained, and the comparison."""
    evaluation_round = await service.get_round(session, principal, round_id)
    scored = await service.scored(session, evaluation_round)
    return ScoresRead.model_validate(
        {
            "round_id": evaluation_round.id,
            "frozen": evaluation_round.status in ("approved", "published"),
            "rules_version": scored.result.rules_version,
            "scheme_version": scored.scheme_version,
            "previous_round_id": scored.previous_round_id,
            "regions": [s.model_dump() for s in scored.result.regions],
            "departments": [s.model_dump() for s in scored.result.departments],
            "subject_changes": [c.model_dump() for c in scored.comparison.subjects]
            if scored.comparison
            else [],
            "target_changes": [c.model_dump() for c in scored.comparison.targets]
            if scored.comparison
            else [],
        }
    )


# ---------------------------------------------------------------------------------------------- measures


@router.post(
    "/rounds/{round_id}/measures",
    status_code=201,
    response_model=MeasureRead,
    operation_id="addImprovementMeasure",
    openapi_extra=access_rule(*WRITERS),
    dependencies=[require_roles(*WRITERS)],
    responses=problem_responses(404, 409),
)
async def add_measure(
    round_id: uuid.UUID, data: MeasureCreate, session: DbSession, principal: CurrentPrincipal
) -> MeasureRead:
    """Enter an improvement measure (整改措施) for a problem the round found."""
    return MeasureRead.model_validate(await service.add_measure(session, principal, round_id, data))


@router.get(
    "/rounds/{round_id}/measures",
    response_model=Page[MeasureRead],
    operation_id="listImprovementMeasures",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def list_measures(
    round_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> Page[MeasureRead]:
    """List a round's improvement measures in the order entered (always one page)."""
    rows: list[ImprovementMeasure] = list(await service.list_measures(session, principal, round_id))
    return Page[MeasureRead](items=[MeasureRead.model_validate(m) for m in rows], next_cursor=None)


@router.delete(
    "/rounds/{round_id}/measures/{measure_id}",
    status_code=204,
    operation_id="deleteImprovementMeasure",
    openapi_extra=access_rule(*WRITERS),
    dependencies=[require_roles(*WRITERS)],
    responses=problem_responses(404, 409),
)
async def delete_measure(
    round_id: uuid.UUID, measure_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal
) -> Response:
    """Remove an improvement measure from a draft round."""
    await service.delete_measure(session, principal, round_id, measure_id)
    return Response(status_code=204)


# ----------------------------------------------------------------------------------------------- reports


def _file_responses(media_type: str, schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": "the report", "content": {media_type: {"schema": schema}}}}


_BINARY = {"type": "string", "format": "binary"}
_TEXT = {"type": "string"}


async def _render(data: ReportData, kind: str, filename: str) -> Response:
    # Rendering a province round takes seconds of CPU: keep it off the event loop.
    if kind == "html":
        return Response(await run_in_threadpool(render_html, data), media_type=HTML)
    body, media_type = (
        (await run_in_threadpool(render_docx, data), DOCX)
        if kind == "docx"
        else (await run_in_threadpool(render_xlsx, data), XLSX)
    )
    disposition = f"attachment; filename=\"report.{kind}\"; filename*=UTF-8''{quote(filename)}.{kind}"
    return Response(body, media_type=media_type, headers={"Content-Disposition": disposition})


class _RenderedCache:
    """The last few published reports as rendered (bounded; least recently used dropped first)."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[tuple[uuid.UUID, int, str], Response] = OrderedDict()

    def get(self, key: tuple[uuid.UUID, int, str]) -> Response | None:
        response = self._items.get(key)
        if response is not None:
            self._items.move_to_end(key)
        return response

    def put(self, key: tuple[uuid.UUID, int, str], response: Response) -> None:
        self._items[key] = response
        if len(self._items) > self.size:
            self._items.popitem(last=False)


_published_cache = _RenderedCache()


def _copy_headers(response: Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower() == "content-disposition"}


def _report_route(kind: str, media_type: str, schema: dict[str, Any]) -> None:
    async def endpoint(round_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> Response:
        evaluation_round = await service.get_round(session, principal, round_id)
        data = await service.report_data(session, evaluation_round)
        return await _render(data, kind, evaluation_round.title)

    endpoint.__doc__ = f"The round's report as .{kind} (a draft's shows its current figures)."
    router.add_api_route(
        f"/rounds/{{round_id}}/report.{kind}",
        endpoint,
        methods=["GET"],
        response_class=Response,
        operation_id=f"getEvaluationReport{kind.capitalize()}",
        responses={**_file_responses(media_type, schema), **problem_responses(404, 409)},
        openapi_extra=access_rule("any"),
    )

    async def public_endpoint(round_id: uuid.UUID, session: DbSession) -> Response:
        evaluation_round = await service.get_published(session, round_id)
        # A published round never changes (approval froze it, measures included), so its rendering
        # is kept: anyone may ask for it, and a province report costs seconds of CPU.
        key = (evaluation_round.id, evaluation_round.version, kind)
        response = _published_cache.get(key)
        if response is None:
            data = await service.report_data(session, evaluation_round)
            response = await _render(data, kind, evaluation_round.title)
            _published_cache.put(key, response)
        return Response(
            response.body,
            media_type=response.media_type,
            headers={**_copy_headers(response), "Cache-Control": "public, max-age=300"},
        )

    public_endpoint.__doc__ = f"A published round's report as .{kind}, readable without an account."
    public_router.add_api_route(
        f"/rounds/{{round_id}}/report.{kind}",
        public_endpoint,
        methods=["GET"],
        response_class=Response,
        operation_id=f"getPublishedReport{kind.capitalize()}",
        responses={**_file_responses(media_type, schema), **problem_responses(404, 422)},
        openapi_extra={"security": [], **access_rule(scope="public")},
    )


_report_route("html", "text/html", _TEXT)
_report_route("docx", DOCX, _BINARY)
_report_route("xlsx", XLSX, _BINARY)


@public_router.get(
    "/rounds",
    response_model=Page[PublicRoundRead],
    operation_id="listPublishedEvaluations",
    responses=problem_responses(400, 422),
    openapi_extra={"security": [], **access_rule(scope="public")},
)
async def list_published(
    session: DbSession,
    region_code: Annotated[str | None, Query(pattern=r"^\d{6}$", description="only this region's")] = None,
    plan_id: PlanFilter = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[PublicRoundRead]:
    """List published evaluation rounds, readable without an account."""
    rows = await service.list_published(
        session, region_code=region_code, plan_id=plan_id, after=_after(cursor), limit=limit + 1
    )
    items = [_public_read(r) for r in rows[:limit]]
    return Page[PublicRoundRead](items=items, next_cursor=_page(len(rows), limit, lambda: rows[limit - 1].id))


@public_router.get(
    "/rounds/{round_id}",
    response_model=PublicRoundRead,
    operation_id="getPublishedEvaluation",
    responses=problem_responses(404, 422),
    openapi_extra={"security": [], **access_rule(scope="public")},
)
async def get_published(round_id: uuid.UUID, session: DbSession) -> PublicRoundRead:
    """Read a published evaluation round, without an account."""
    return _public_read(await service.get_published(session, round_id))
