from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from emplan_shared.auth import CurrentPrincipal, Role, access_rule, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, ProblemItem, problem_responses
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor
from indicator_engine.results import service as results_service
from indicator_engine.results.schemas import DataScope, ProgressRead, RecomputeReport, RecomputeRequest
from indicator_engine.targets import service
from indicator_engine.targets.schemas import (
    BaselineUpdate,
    BindingFilter,
    BindingUpdate,
    TargetRead,
    TargetState,
)

router = APIRouter(
    prefix="/api/v1/indicators", tags=["indicator-targets"], responses=problem_responses(401, 403, 422)
)

_EDITORS = (Role.bureau_planner,)


@router.get(
    "/targets",
    response_model=Page[TargetRead],
    operation_id="listIndicatorTargets",
    openapi_extra=access_rule("any"),
    responses=problem_responses(400, 404),
)
async def list_targets(
    session: DbSession,
    principal: CurrentPrincipal,
    plan_id: uuid.UUID | None = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", description="the plan's region")] = None,
    binding: Annotated[
        BindingFilter | None, Query(description="unbound: targets waiting for a person to bind them")
    ] = None,
    state: TargetState | None = None,
    limit: LimitQuery = 50,
    cursor: CursorQuery = None,
) -> Page[TargetRead]:
    """List plan targets in the caller's jurisdiction (unbound ones to bind by hand)."""
    principal.require_region(region, field="query.region")
    key = decode_cursor(cursor)
    after: uuid.UUID | None = None
    if key is not None:
        try:
            after = uuid.UUID(str(key[0])) if len(key) == 1 else None
        except ValueError:
            after = None
        if after is None:
            raise BadRequest(
                "分页游标无效",
                code="invalid_cursor",
                errors=[ProblemItem(field="query.cursor", detail="无法解析")],
            )
    rows = await service.list_targets(
        session,
        principal,
        plan_id=plan_id,
        region_code=region,
        binding=binding,
        state=state.value if state is not None else None,
        after=after,
        limit=limit + 1,
    )
    items = [service.to_read(target) for target in rows[:limit]]
    next_cursor = encode_cursor([str(items[-1].id)]) if len(rows) > limit else None
    return Page[TargetRead](items=items, next_cursor=next_cursor)


@router.get(
    "/targets/{target_id:uuid}",
    response_model=TargetRead,
    operation_id="getIndicatorTarget",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_target(target_id: uuid.UUID, session: DbSession, principal: CurrentPrincipal) -> TargetRead:
    """Read a plan target with its binding and baseline rule."""
    return service.to_read(await service.get_target(session, principal, target_id))


@router.put(
    "/targets/{target_id:uuid}/binding",
    response_model=TargetRead,
    operation_id="bindIndicatorTarget",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=[require_roles(*_EDITORS)],
    responses=problem_responses(404, 409),
)
async def bind_target(
    target_id: uuid.UUID, data: BindingUpdate, session: DbSession, principal: CurrentPrincipal
) -> TargetRead:
    """Bind a target to an indicator definition by hand (for names the catalogue does not know)."""
    return service.to_read(await service.set_binding(session, principal, target_id, data))


@router.put(
    "/targets/{target_id:uuid}/baseline",
    response_model=TargetRead,
    operation_id="setIndicatorTargetBaseline",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=[require_roles(*_EDITORS)],
    responses=problem_responses(404, 409),
)
async def set_baseline(
    target_id: uuid.UUID, data: BaselineUpdate, session: DbSession, principal: CurrentPrincipal
) -> TargetRead:
    """Set a target's baseline rule: one year, or the mean of several years, and the start year."""
    return service.to_read(await service.set_baseline(session, principal, target_id, data))


@router.get(
    "/targets/{target_id:uuid}/progress",
    response_model=ProgressRead,
    operation_id="getIndicatorTargetProgress",
    openapi_extra=access_rule("any"),
    responses=problem_responses(404),
)
async def get_progress(
    target_id: uuid.UUID,
    session: DbSession,
    principal: CurrentPrincipal,
    include: Annotated[
        DataScope,
        Query(description="approved: approved figures only (official); all: submitted and approved"),
    ] = DataScope.approved,
) -> ProgressRead:
    """Judge a target: 序时进度 status, Open SDG assessment and projection to the target year.

    Status rules (first that applies): `met` — the value satisfies the target itself (strict ＜/＞
    versus ≤/≥ decided exactly at the limit); `seriously_lagging` — the target year has come and the
    target is missed; otherwise with r = achieved share of the way from the baseline ÷ due share
    (year − start year) / (target year − start year): `on_track` r ≥ 1, `lagging` 0.5 ≤ r < 1,
    `seriously_lagging` r < 0.5 (including moving away). Open SDG: R = observed CAGR ÷ required CAGR,
    on_track ≥ 0.95, acceleration_needed ≥ 0.6, limited_progress ≥ 0, deterioration < 0."""
    target = await service.get_target(session, principal, target_id)
    return await results_service.get_progress(session, principal, target, include.value)


@router.post(
    "/targets/recompute",
    response_model=RecomputeReport,
    operation_id="recomputeIndicatorTargets",
    openapi_extra=access_rule(Role.bureau_planner),
    dependencies=[require_roles(*_EDITORS)],
)
async def recompute_targets(
    data: RecomputeRequest, session: DbSession, principal: CurrentPrincipal
) -> RecomputeReport:
    """Re-judge the active targets in the caller's jurisdiction and publish the status changes."""
    return await results_service.recompute(session, plan_id=data.plan_id, principal=principal)
