"""Results for any indicator, region and year; progress, status and early warning of plan targets.

Recomputation of target status (from approved data only) happens, in the transaction of the change,
whenever what a status depends on changes:
- targets created by `plan.published`, a binding or a baseline rule set through the API;
- data values written by the data half: it calls `on_values_changed` in the transaction that writes
  them, naming the (region, element, year) figures touched, so a status can never lag behind the
  data it was computed from, and nothing is left for a background job to lose;
- `POST /api/v1/indicators/targets/recompute` (a definition edited, or a repair).
Each judged target's row is locked (`FOR UPDATE`, in id order), its stored status compared with the
new one and updated, and `status.changed` / `warning.raised` enqueued in the outbox only when the
stored value differs: repeated recomputations publish nothing, and concurrent ones serialise on the
row lock, so each real change produces exactly one event.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.db import utcnow
from emplan_shared.errors import NotFound, ProblemItem, UnprocessableEntity
from emplan_shared.events import catalogue as events
from emplan_shared.events.payloads import (
    IndicatorStatusChanged,
    IndicatorTargetJudged,
    IndicatorWarningRaised,
)
from emplan_shared.messaging.outbox import enqueue
from indicator_engine.database import messaging
from indicator_engine.domain.catalogue import Catalogue, Definition
from indicator_engine.domain.compute import Result, compute_grid, compute_many
from indicator_engine.domain.decimals import present
from indicator_engine.domain.targets import BaselineRule, Target
from indicator_engine.results import regions
from indicator_engine.results.evaluation import Evaluation, TargetSpec, data_years, evaluate
from indicator_engine.results.models import TargetStatus
from indicator_engine.results.schemas import (
    DataScope,
    MissingValue,
    OpenSdgRead,
    ProgressRead,
    ProjectionRead,
    RecomputeReport,
    ResultBreakdown,
    ResultRead,
)
from indicator_engine.results.sources import Scope, elements_of, load_catalogue, load_values
from indicator_engine.targets.models import IndicatorTarget
from indicator_engine.targets.schemas import decimal_text

MAX_SPAN_YEARS = 30
# Changes whenever the way data turns into a target's value, baseline, 序时进度 value or status
# changes; carried by `target.judged` so a figure in an evaluation names the rules that produced it.
CALCULATION_RULES_VERSION = "indicator-2026.1"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else decimal_text(value)


def result_read(definition: Definition, region: str, scope: Scope, result: Result) -> ResultRead:
    return ResultRead(
        indicator=definition.code,
        indicator_name=definition.name,
        unit=definition.unit,
        region_code=region,
        years=list(result.years),
        scope=DataScope(scope),
        status=result.status,
        value=_text(result.value),
        # Published form keeps its places (0.020 stays 0.020), unlike the exact value.
        display_value=format(present(result.value, definition.places), "f")
        if result.value is not None
        else None,
        numerator=_text(result.numerator),
        denominator=_text(result.denominator),
        missing=[
            MissingValue(region_code=m.region_code, element_code=m.element_code, year=m.year)
            for m in result.missing
        ],
        missing_regions=list(result.missing_regions),
        missing_elements=list(result.missing_elements),
        undefined_reason=result.undefined_reason,
    )


# ------------------------------------------------------------------------------------------ results


def _years(year: int, from_year: int | None) -> range:
    first = year if from_year is None else from_year
    if first > year:
        raise UnprocessableEntity(
            "起始年份不能晚于截止年份",
            code="invalid_year_range",
            errors=[ProblemItem(field="query.from_year", detail="须不晚于 year")],
        )
    if year - first + 1 > MAX_SPAN_YEARS:
        raise UnprocessableEntity(
            f"年份跨度不能超过 {MAX_SPAN_YEARS} 年",
            code="invalid_year_range",
            errors=[ProblemItem(field="query.from_year", detail="跨度过大")],
        )
    return range(first, year + 1)


async def _definition(session: AsyncSession, code: str) -> Definition:
    catalogue = await load_catalogue(session)
    definition = catalogue.definitions.get(code)
    if definition is None:
        raise NotFound("指标定义不存在", code="indicator_not_found")
    return definition


def _visible_region(principal: Principal, region: str) -> None:
    # Outside the jurisdiction first: that refusal is recorded in the audit trail, known or not.
    principal.require_region(region, field="query.region")
    if region != regions.COUNTRY and region not in regions.administrative_codes():
        raise NotFound(
            "地区不存在或不在本账号管辖范围内",
            code="region_not_found",
            errors=[ProblemItem(field="query.region", code="region_not_found", detail="地区不存在")],
        )


async def compute(
    session: AsyncSession,
    definition: Definition,
    regions_wanted: Sequence[str],
    root: str,
    years: range,
    scope: Scope,
) -> dict[str, Result]:
    """Results for `regions_wanted` (all at or below `root`) from one read of the data below `root`."""
    data = await load_values(session, elements=elements_of(definition), root=root, years=years, scope=scope)
    children = regions.tree(root, {key[0] for key in data})
    return compute_many(definition, regions_wanted, years, data, children)


async def get_result(
    session: AsyncSession,
    principal: Principal,
    *,
    indicator: str,
    region: str,
    year: int,
    from_year: int | None,
    scope: Scope,
) -> ResultRead:
    _visible_region(principal, region)
    definition = await _definition(session, indicator)
    years = _years(year, from_year)
    results = await compute(session, definition, [region], region, years, scope)
    return result_read(definition, region, scope, results[region])


async def get_breakdown(
    session: AsyncSession,
    principal: Principal,
    *,
    indicator: str,
    region: str,
    year: int,
    from_year: int | None,
    scope: Scope,
) -> ResultBreakdown:
    _visible_region(principal, region)
    definition = await _definition(session, indicator)
    years = _years(year, from_year)
    kids = regions.tree(region).get(region, [])
    results = await compute(session, definition, [region, *kids], region, years, scope)
    return ResultBreakdown(
        region=result_read(definition, region, scope, results[region]),
        children=[result_read(definition, kid, scope, results[kid]) for kid in kids],
    )


async def compute_all(
    session: AsyncSession,
    *,
    years: Sequence[int],
    codes: Sequence[str] | None = None,
    root: str = regions.COUNTRY,
    scope: Scope = "approved",
) -> dict[tuple[str, int], dict[str, Result]]:
    """Every region's result at or below `root`, for each definition (all, or `codes`) and each year:
    the full recomputation (an evaluation snapshot, the benchmark). One read of all the figures needed,
    then one pass over the tree per definition and year."""
    catalogue = await load_catalogue(session)
    definitions = [catalogue.definitions[code] for code in (codes or sorted(catalogue.definitions))]
    elements = sorted({element for definition in definitions for element in elements_of(definition)})
    data = await load_values(session, elements=elements, root=root, years=years, scope=scope)
    children = regions.tree(root, {key[0] for key in data})
    everyone = [root, *(kid for kids in children.values() for kid in kids)]
    return compute_grid(definitions, everyone, years, data, children)


# ------------------------------------------------------------------------------------------ targets


def to_spec(target: IndicatorTarget, catalogue: Catalogue) -> TargetSpec | None:
    """The target as the computations see it; None when unbound or its rule cannot be judged."""
    if target.definition_code is None:
        return None
    definition = catalogue.definitions.get(target.definition_code)
    if definition is None:
        return None
    try:
        domain_target = Target(
            type=target.type,  # type: ignore[arg-type]
            value=target.value,
            strict=target.strict,
            baseline_rule=BaselineRule(tuple(target.baseline_years)),
            baseline_year=target.baseline_year,
            target_year=target.target_year,
            nature="binding" if target.nature == "binding" else "expected",
        )
    except ValueError:
        return None
    return TargetSpec(domain_target, definition, target.region_code, target.period_start)


async def evaluate_target(session: AsyncSession, spec: TargetSpec, scope: Scope) -> Evaluation:
    years = data_years(spec)
    data = await load_values(
        session, elements=elements_of(spec.definition), root=spec.region_code, years=years, scope=scope
    )
    children = regions.tree(spec.region_code, {key[0] for key in data})
    return evaluate(spec, data, children)


async def get_progress(
    session: AsyncSession, principal: Principal, target: IndicatorTarget, scope: Scope
) -> ProgressRead:
    from indicator_engine.targets.service import to_read  # the targets feature imports this module

    catalogue = await load_catalogue(session)
    spec = to_spec(target, catalogue)
    if spec is None:
        raise UnprocessableEntity(
            "该目标尚未绑定指标定义，或其目标值无法评估",
            code="target_not_assessable",
            errors=[ProblemItem(field="target.definition_code", detail="请先绑定指标定义")],
        )
    evaluation = await evaluate_target(session, spec, scope)
    progress, sdg, projection = evaluation.progress, evaluation.open_sdg, evaluation.projection
    definition, region = spec.definition, spec.region_code
    projection_read = ProjectionRead(
        method=evaluation.projection_method,
        target_year=spec.target.target_year,
        value=_text(projection.value if projection is not None else evaluation.value)
        if evaluation.status != "no_data"
        else None,
        years_used=list(projection.years_used) if projection is not None else [],
        clamped=projection.clamped if projection is not None else False,
        reason=projection.reason if projection is not None else None,
        outcome=evaluation.outcome,
        warning=evaluation.warning,
    )
    return ProgressRead(
        target=to_read(target),
        scope=DataScope(scope),
        status=evaluation.status,
        reason=evaluation.reason,
        year=evaluation.year,
        value=_text(evaluation.value),
        baseline=result_read(definition, region, scope, evaluation.baseline),
        current=result_read(definition, region, scope, evaluation.current) if evaluation.current else None,
        target_value=_text(progress.target_value) if progress else None,
        required_value=_text(progress.required_value) if progress else None,
        due_fraction=_text(progress.due_fraction) if progress else None,
        progress_ratio=_text(progress.progress_ratio) if progress else None,
        open_sdg=OpenSdgRead(
            category=sdg.category,
            score=_text(sdg.score),
            measure=_text(sdg.measure),
            observed_cagr=_text(sdg.observed_cagr),
            required_cagr=_text(sdg.required_cagr),
            reason=sdg.reason,
        )
        if sdg is not None
        else None,
        projection=projection_read if evaluation.status != "no_data" else None,
    )


async def on_values_changed(
    session: AsyncSession, changes: Iterable[tuple[str, str, int]]
) -> RecomputeReport:
    """The data half's hook: call in the transaction that wrote, corrected, approved or deleted these
    (region code, element code, year) figures. Re-judges every active target whose region is the
    figure's region or above it and whose definition reads the element."""
    touched_regions: set[str] = set()
    touched_elements: set[str] = set()
    for region, element, _year in changes:
        touched_regions.add(region)
        touched_regions.update(regions.ancestors(region))
        touched_elements.add(element)
    if not touched_regions:
        return RecomputeReport(evaluated=0, status_changes=0, warnings=0)
    return await recompute(session, region_codes=touched_regions, element_codes=touched_elements)


async def recompute(
    session: AsyncSession,
    *,
    target_ids: Sequence[uuid.UUID] | None = None,
    plan_id: uuid.UUID | None = None,
    region_codes: Iterable[str] | None = None,
    element_codes: Iterable[str] | None = None,
    principal: Principal | None = None,
    catalogue: Catalogue | None = None,
) -> RecomputeReport:
    """Re-judge active, bound targets (all, or those selected) and publish what changed."""
    catalogue = catalogue or await load_catalogue(session)
    statement = select(IndicatorTarget).where(
        IndicatorTarget.state == "active", IndicatorTarget.definition_code.is_not(None)
    )
    if target_ids is not None:
        statement = statement.where(IndicatorTarget.id.in_(list(target_ids)))
    if plan_id is not None:
        statement = statement.where(IndicatorTarget.plan_id == plan_id)
    if region_codes is not None:
        statement = statement.where(IndicatorTarget.region_code.in_(list(region_codes)))
    if principal is not None:
        statement = statement.where(principal.within(IndicatorTarget.region_code))
    statement = statement.order_by(IndicatorTarget.id).with_for_update()
    targets = list((await session.execute(statement)).scalars().all())
    wanted = set(element_codes) if element_codes is not None else None
    specs: list[tuple[IndicatorTarget, TargetSpec]] = []
    for target in targets:
        spec = to_spec(target, catalogue)
        if spec is None:
            continue
        if wanted is not None and wanted.isdisjoint(elements_of(spec.definition)):
            continue
        specs.append((target, spec))
    if not specs:
        return RecomputeReport(evaluated=0, status_changes=0, warnings=0)
    stored = {
        row.target_id: row
        for row in (
            await session.execute(
                select(TargetStatus).where(TargetStatus.target_id.in_([t.id for t, _ in specs]))
            )
        ).scalars()
    }
    # Targets of one region and definition read the same figures: one read for all of them.
    groups: dict[tuple[str, str], list[tuple[IndicatorTarget, TargetSpec]]] = defaultdict(list)
    for target, spec in specs:
        groups[(spec.region_code, spec.definition.code)].append((target, spec))
    changes = warnings = 0
    for (region, _code), members in groups.items():
        definition = members[0][1].definition
        years = range(
            min(data_years(spec).start for _, spec in members),
            max(data_years(spec).stop for _, spec in members),
        )
        data = await load_values(
            session, elements=elements_of(definition), root=region, years=years, scope="approved"
        )
        children = regions.tree(region, {key[0] for key in data})
        for target, spec in members:
            evaluation = evaluate(spec, data, children)
            changed, warned = await _store(session, target, spec, stored.get(target.id), evaluation)
            changes += changed
            warnings += warned
    await session.flush()
    return RecomputeReport(evaluated=len(specs), status_changes=changes, warnings=warnings)


async def _store(
    session: AsyncSession,
    target: IndicatorTarget,
    spec: TargetSpec,
    row: TargetStatus | None,
    evaluation: Evaluation,
) -> tuple[int, int]:
    now = utcnow()
    progress = evaluation.progress
    projection = evaluation.projection
    if row is None:
        row = TargetStatus(
            target_id=target.id,
            status="no_data",
            projection_outcome="unknown",
            projection_method=evaluation.projection_method,
            status_version=0,
            warnings_raised=0,
            judgement_version=0,
            changed_at=now,
        )
        session.add(row)
    previous_status, previous_outcome = row.status, row.projection_outcome
    previous_figures = _figures(row)
    row.reason = evaluation.reason
    row.year = evaluation.year
    row.value = evaluation.value
    row.baseline = evaluation.baseline.value
    row.target_value = progress.target_value if progress else None
    row.required_value = progress.required_value if progress else None
    row.sdg_category = evaluation.open_sdg.category if evaluation.open_sdg else None
    row.sdg_score = evaluation.open_sdg.score if evaluation.open_sdg else None
    row.projection_method = evaluation.projection_method
    row.projected_value = projection.value if projection is not None else evaluation.value
    row.projection_outcome = evaluation.outcome
    row.computed_at = now
    changed = warned = 0
    if row.judgement_version == 0 or _figures(row, evaluation.status) != previous_figures:
        row.judgement_version += 1
        await _publish_judgement(session, target, spec, row, evaluation.status, now)
    if evaluation.status != previous_status:
        row.status = evaluation.status
        row.status_version += 1
        row.changed_at = now
        changed = 1
        payload = IndicatorStatusChanged(
            target_id=target.id,
            plan_id=target.plan_id,
            item_id=target.item_id,
            region_code=target.region_code,
            indicator_code=spec.definition.code,
            indicator_name=target.name,
            nature=target.nature,
            previous_status=previous_status,
            status=evaluation.status,
            year=evaluation.year,
            value=_text(evaluation.value),
            required_value=_text(row.required_value),
            target_value=_text(row.target_value),
            status_version=row.status_version,
        )
        await enqueue(
            session,
            messaging.outbox_event,
            events.INDICATOR_STATUS_CHANGED.build(
                payload, subject=f"target/{target.id}", region_code=target.region_code
            ),
        )
    if evaluation.warning and previous_outcome != "miss" and row.projected_value is not None:
        row.warnings_raised += 1
        warned = 1
        warning = IndicatorWarningRaised(
            target_id=target.id,
            plan_id=target.plan_id,
            item_id=target.item_id,
            region_code=target.region_code,
            indicator_code=spec.definition.code,
            indicator_name=target.name,
            target_year=target.target_year,
            target_value=decimal_text(row.target_value if row.target_value is not None else target.value),
            strict=target.strict,
            method=evaluation.projection_method,
            projected_value=decimal_text(row.projected_value),
            years_used=list(projection.years_used) if projection is not None else [evaluation.year or 0],
        )
        await enqueue(
            session,
            messaging.outbox_event,
            events.INDICATOR_WARNING_RAISED.build(
                warning, subject=f"target/{target.id}", region_code=target.region_code
            ),
        )
    return changed, warned


def _figures(row: TargetStatus, status: str | None = None) -> tuple[object, ...]:
    """What `target.judged` reports: a change in any of it is published."""
    return (
        status or row.status,
        row.year,
        row.value,
        row.baseline,
        row.target_value,
        row.required_value,
    )


async def _publish_judgement(
    session: AsyncSession,
    target: IndicatorTarget,
    spec: TargetSpec,
    row: TargetStatus,
    status: str,
    now: datetime,
) -> None:
    payload = IndicatorTargetJudged(
        target_id=target.id,
        plan_id=target.plan_id,
        item_id=target.item_id,
        region_code=target.region_code,
        indicator_code=spec.definition.code,
        indicator_name=target.name,
        nature=target.nature,
        unit=spec.definition.unit or None,
        target_type=target.type,
        target_text_value=decimal_text(target.value),
        strict=target.strict,
        baseline_year=target.baseline_year,
        target_year=target.target_year,
        status=status,
        year=row.year,
        value=_text(row.value),
        baseline=_text(row.baseline),
        required_value=_text(row.required_value),
        target_value=_text(row.target_value),
        judgement_version=row.judgement_version,
        judged_at=now,
        rules_version=CALCULATION_RULES_VERSION,
    )
    await enqueue(
        session,
        messaging.outbox_event,
        events.INDICATOR_TARGET_JUDGED.build(
            payload, subject=f"target/{target.id}", region_code=target.region_code
        ),
    )
