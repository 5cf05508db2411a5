"""Plan targets: created and bound from `plan.published`, bound and given a baseline rule by a person.

Binding is by name and alias only (`Catalogue.match`: the normalised name equals exactly one
definition's name or alias). An unknown or ambiguous name stays unbound (`binding_method = none`),
listed by `GET /targets?binding=unbound` for a person to bind — never guessed.

Defaults from the plan: the target year is the plan's last year; the baseline is the year before the
plan's first year, which is also where the 序时进度 line starts (2020 for a 2021–2025 plan). A person
sets another rule through the API (运城: 2019, or the 2016–2019 mean). A later version of the same plan
carries over, per plan item, a manual binding and a baseline rule set by a person when the item's name
and period are unchanged.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.db import utcnow
from emplan_shared.errors import Conflict, NotFound, ProblemItem, UnprocessableEntity
from emplan_shared.events.payloads import PlanPublished, PlanSuperseded
from indicator_engine.domain.catalogue import Catalogue, normalize_name
from indicator_engine.domain.targets import BaselineRule, Target
from indicator_engine.results import service as results_service
from indicator_engine.results.sources import load_catalogue
from indicator_engine.targets.models import IndicatorTarget
from indicator_engine.targets.repository import TargetRepository
from indicator_engine.targets.schemas import (
    BaselineRuleRead,
    BaselineUpdate,
    BindingFilter,
    BindingUpdate,
    TargetRead,
    decimal_text,
)


def match(catalogue: Catalogue, name: str) -> tuple[str | None, str]:
    """(definition code, how) for a plan's indicator name: `name`, `alias`, or (None, `none`)."""
    definition = catalogue.match(name)
    if definition is None:
        return None, "none"
    how = "name" if normalize_name(definition.name) == normalize_name(name) else "alias"
    return definition.code, how


async def apply_plan_published(session: AsyncSession, plan: PlanPublished) -> list[uuid.UUID]:
    """Store and bind the plan's targets (idempotent per plan item), supersede the version it replaces,
    and judge the new targets; returns the ids of the targets created."""
    repository = TargetRepository(session)
    catalogue = await load_catalogue(session)
    previous = await repository.previous_versions(plan.lineage_id, plan.plan_id)
    rows: list[dict[str, Any]] = []
    for indicator in plan.indicators:
        code, how = match(catalogue, indicator.name)
        row: dict[str, Any] = {
            "id": uuid.uuid4(),
            "plan_id": plan.plan_id,
            "lineage_id": plan.lineage_id,
            "plan_version": plan.version,
            "item_id": indicator.id,
            "region_code": plan.region_code,
            "plan_title": plan.title,
            "period_start": plan.period.start,
            "period_end": plan.period.end,
            "name": indicator.name,
            "target_text": indicator.target_text,
            "group": indicator.group,
            "type": indicator.target.type,
            "value": Decimal(indicator.target.value),
            "unit": indicator.target.unit,
            "strict": indicator.target.strict,
            "nature": indicator.nature,
            "definition_code": code,
            "binding_method": how,
            "bound_by": "system" if code else None,
            "bound_at": utcnow() if code else None,
            "baseline_years": [plan.period.start - 1],
            "baseline_year": plan.period.start - 1,
            "target_year": plan.period.end,
            "state": "active",
            "version": 1,
        }
        earlier = previous.get(indicator.id)
        if earlier is not None and earlier.name == indicator.name and earlier.period_end == plan.period.end:
            if earlier.binding_method == "manual" and code is None:
                row.update(
                    definition_code=earlier.definition_code,
                    binding_method="manual",
                    bound_by=earlier.bound_by,
                    bound_at=earlier.bound_at,
                )
            if earlier.period_start == plan.period.start:
                row.update(baseline_years=list(earlier.baseline_years), baseline_year=earlier.baseline_year)
        rows.append(row)
    created = await TargetRepository(session).insert_new(rows)
    if plan.supersedes is not None:
        await repository.supersede(plan.supersedes, plan.plan_id)
    if created:
        await results_service.recompute(session, target_ids=created, catalogue=catalogue)
    return created


async def apply_plan_superseded(session: AsyncSession, event: PlanSuperseded) -> int:
    """Mark the old version's targets superseded; they keep their last status but are no longer judged."""
    return await TargetRepository(session).supersede(event.plan_id, event.superseded_by)


def to_read(target: IndicatorTarget) -> TargetRead:
    return TargetRead.model_validate(
        {
            "id": target.id,
            "plan_id": target.plan_id,
            "lineage_id": target.lineage_id,
            "plan_version": target.plan_version,
            "item_id": target.item_id,
            "region_code": target.region_code,
            "plan_title": target.plan_title,
            "period_start": target.period_start,
            "period_end": target.period_end,
            "name": target.name,
            "target_text": target.target_text,
            "type": target.type,
            "value": decimal_text(target.value),
            "unit": target.unit,
            "strict": target.strict,
            "nature": target.nature,
            "definition_code": target.definition_code,
            "binding_method": target.binding_method,
            "bound_by": target.bound_by,
            "bound_at": target.bound_at,
            "baseline": BaselineRuleRead(years=list(target.baseline_years), start_year=target.baseline_year),
            "target_year": target.target_year,
            "state": target.state,
            "superseded_by": target.superseded_by,
            "version": target.version,
        }
    )


def _not_found() -> NotFound:
    return NotFound("目标不存在", code="target_not_found")


async def get_target(session: AsyncSession, principal: Principal, target_id: uuid.UUID) -> IndicatorTarget:
    target = await TargetRepository(session).get_visible(target_id, principal)
    if target is None:
        raise _not_found()
    return target


async def list_targets(
    session: AsyncSession,
    principal: Principal,
    *,
    plan_id: uuid.UUID | None,
    region_code: str | None,
    binding: BindingFilter | None,
    state: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[IndicatorTarget]:
    bound = None if binding is None else binding == BindingFilter.bound
    return await TargetRepository(session).list_visible(
        principal,
        plan_id=plan_id,
        region_code=region_code,
        bound=bound,
        state=state,
        after=after,
        limit=limit,
    )


async def _editable(session: AsyncSession, principal: Principal, target_id: uuid.UUID) -> IndicatorTarget:
    target = await TargetRepository(session).get_visible(target_id, principal, for_update=True)
    if target is None:
        raise _not_found()
    if target.state != "active":
        raise Conflict("该目标所属规划版本已被替代，不能再修改", code="target_superseded")
    return target


async def set_binding(
    session: AsyncSession, principal: Principal, target_id: uuid.UUID, data: BindingUpdate
) -> IndicatorTarget:
    target = await _editable(session, principal, target_id)
    catalogue = await load_catalogue(session)
    if data.definition_code not in catalogue.definitions:
        raise UnprocessableEntity(
            "指标定义不存在",
            code="definition_not_found",
            errors=[
                ProblemItem(field="body.definition_code", detail=f"未找到指标定义 {data.definition_code}")
            ],
        )
    target.definition_code = data.definition_code
    target.binding_method = "manual"
    target.bound_by = principal.subject
    target.bound_at = utcnow()
    target.version += 1
    await session.flush()
    await results_service.recompute(session, target_ids=[target.id], catalogue=catalogue)
    return target


async def set_baseline(
    session: AsyncSession, principal: Principal, target_id: uuid.UUID, data: BaselineUpdate
) -> IndicatorTarget:
    target = await _editable(session, principal, target_id)
    start = data.start_year if data.start_year is not None else target.period_start - 1
    problems: list[ProblemItem] = []
    if data.years[-1] > start:
        problems.append(ProblemItem(field="body.years", detail="基期年份不能晚于序时进度起始年"))
    if start >= target.target_year:
        problems.append(ProblemItem(field="body.start_year", detail="序时进度起始年须早于目标年"))
    if not problems:
        try:
            Target(
                type=target.type,  # type: ignore[arg-type]
                value=target.value,
                strict=target.strict,
                baseline_rule=BaselineRule(tuple(data.years)),
                baseline_year=start,
                target_year=target.target_year,
            )
        except ValueError as exc:
            problems.append(ProblemItem(field="body", detail=f"基期规则无效：{exc}"))
    if problems:
        raise UnprocessableEntity("基期规则无效", code="invalid_baseline_rule", errors=problems)
    target.baseline_years = list(data.years)
    target.baseline_year = start
    target.version += 1
    await session.flush()
    await results_service.recompute(session, target_ids=[target.id])
    return target
