"""Taking a round's snapshot from the read model.

What goes in (the rules `SNAPSHOT_RULES_VERSION` names):
- **positions**: the read model's position in each stream when the snapshot is taken (`sources`); only
  events at or before them count, so the same positions give the same snapshot again, whatever
  arrived since (`take_snapshot(..., sources=round's sources)` reproduces it).
- **targets**: those of the round's plan and of the published (not superseded) plans of the regions
  below it (the counties' own plans), each target's newest judgement that judges no year after the
  reference date's year (a later year's figures are not "as of" that date; a target with none is
  `no_data`). `target_id` is the bound indicator definition's code, the same in every region and plan
  version, so rounds compare line by line. Figures are kept as given, rounded half-up to 6 decimal
  places when they have more (what a snapshot stores).
- **tasks**: the current tasks of the round's plan (county sub-tasks included), each task's newest
  state. The light and the overdue flag are judged **on the reference date** with task-assignment's
  rule (`light`), from the deadline, the status, the progress and the plan's light rule.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TypeVar

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import jurisdiction_prefix
from evaluation.domain.snapshot import (
    LastReport,
    Light,
    PlanInfo,
    Snapshot,
    TargetFigures,
    TargetStatus,
    TaskState,
    TaskStatus,
)
from evaluation.plans.models import PlanRecord
from evaluation.readmodel.models import TargetJudgement, TaskStateRecord
from evaluation.readmodel.repository import ReadModelRepository

SNAPSHOT_RULES_VERSION = "snapshot-2026.1"
# task-assignment's defaults (TASK_ASSIGNMENT_LIGHT_*) for a plan without a light rule of its own.
DEFAULT_YELLOW_WITHIN_DAYS = 30
DEFAULT_BEHIND_TOLERANCE_PCT = 10
OPEN = {TaskStatus.not_started, TaskStatus.in_progress, TaskStatus.returned}
NO_LEAD = "未明确牵头单位"
PLACES = Decimal("0.000001")
T = TypeVar("T")


class SnapshotDataError(ValueError):
    """A row of the read model the snapshot cannot hold (e.g. a value of more than 14 integer digits)."""


def _checked(what: str, build: Callable[[], T]) -> T:
    try:
        return build()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        raise SnapshotDataError(f"{what}的 {field} 无法存入快照（{first['msg']}）") from exc


def _figure(value: Decimal | None) -> Decimal | None:
    """The figure as the source gave it, rounded half-up to 6 places only when it has more."""
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -6:
        return value.quantize(PLACES, rounding=ROUND_HALF_UP)
    return value


def light(
    *,
    status: TaskStatus,
    deadline: date | None,
    on: date,
    start: date,
    progress_pct: int,
    yellow_within_days: int,
    behind_tolerance_pct: int,
) -> Light:
    """Red: work owed after the deadline; yellow: owed and the deadline within `yellow_within_days`, or
    progress behind the share of time elapsed by more than the tolerance; green otherwise."""
    if status not in OPEN or deadline is None:
        return Light.green
    if on > deadline:
        return Light.red
    if (deadline - on).days <= yellow_within_days:
        return Light.yellow
    if start < deadline and on > start:
        total = (deadline - start).days
        elapsed = min((on - start).days, total)
        if 100 * elapsed - progress_pct * total > behind_tolerance_pct * total:
            return Light.yellow
    return Light.green


async def subject_plans(session: AsyncSession, plan: PlanRecord) -> list[PlanRecord]:
    """The round's plan, then the published plans of the regions below its region."""
    prefix = jurisdiction_prefix(plan.region_code)
    statement = (
        select(PlanRecord)
        .where(
            PlanRecord.status == "published",
            PlanRecord.region_code.startswith(prefix),
            PlanRecord.region_code != plan.region_code,
        )
        .order_by(PlanRecord.region_code, PlanRecord.id)
    )
    return [plan, *(await session.execute(statement)).scalars()]


def _target(row: TargetJudgement, plan: PlanRecord, lead: str | None, target_id: str) -> TargetFigures:
    current = _figure(row.value)
    return TargetFigures(
        target_id=target_id,
        indicator_name=row.indicator_name[:200],
        nature="binding" if row.nature == "binding" else "expected",
        unit=row.unit or "",
        region_code=row.region_code,
        region_name=plan.region_name,
        lead_department=lead,
        baseline_year=row.baseline_year,
        baseline_value=_figure(row.baseline),
        target_type=row.target_type,
        target_value=_figure(row.target_text_value),
        strict=row.strict,
        current_value=current,
        required_value=_figure(row.required_value),
        status=TargetStatus(row.status) if current is not None else TargetStatus.no_data,
    )


def _task(row: TaskStateRecord, code: str, reference_date: date) -> TaskState:
    status = TaskStatus(row.status)
    leads = [name for name in row.lead_departments if name.strip()]
    return TaskState(
        code=code,
        title=row.title[:20_000],
        lead_department=(leads[0] if leads else NO_LEAD)[:200],
        co_departments=[name[:200] for name in [*leads[1:], *row.co_departments] if name.strip()][:100],
        region_code=row.region_code,
        region_name=row.region_name or row.region_code,
        deadline=row.deadline,
        status=status,
        light=light(
            status=status,
            deadline=row.deadline,
            on=reference_date,
            start=row.plan_start,
            progress_pct=row.progress_percent,
            yellow_within_days=row.yellow_within_days
            if row.yellow_within_days is not None
            else DEFAULT_YELLOW_WITHIN_DAYS,
            behind_tolerance_pct=row.behind_tolerance_pct
            if row.behind_tolerance_pct is not None
            else DEFAULT_BEHIND_TOLERANCE_PCT,
        ),
        overdue=status in OPEN and row.deadline is not None and reference_date > row.deadline,
        returned_count=min(row.returned_count, 1000),
        last_report=LastReport(reported_on=row.last_reported_on, summary=row.last_report_summary or "")
        if row.last_reported_on is not None
        else None,
    )


def _unique(key: tuple[str, str], seen: Counter[tuple[str, str]]) -> str:
    """The key's id, with `-2`, `-3` … for a second and third item of the same region and id."""
    seen[key] += 1
    return key[1] if seen[key] == 1 else f"{key[1]}-{seen[key]}"


async def take_snapshot(
    session: AsyncSession,
    plan: PlanRecord,
    reference_date: date,
    *,
    sources: dict[str, int] | None = None,
) -> Snapshot:
    """The round's figures from the read model, as of `sources` (default: everything applied so far)."""
    repository = ReadModelRepository(session)
    positions = await repository.positions() if sources is None else dict(sources)
    plans = await subject_plans(session, plan)
    by_id: dict[uuid.UUID, PlanRecord] = {p.id: p for p in plans}
    leads = await repository.indicator_leads(list(by_id))
    judgements = await repository.judgements(list(by_id), positions, reference_date.year)
    judgements.sort(key=lambda r: (r.region_code, r.indicator_code, str(r.item_id), str(r.target_id)))
    seen: Counter[tuple[str, str]] = Counter()
    targets = [
        _checked(
            f"{by_id[row.plan_id].region_name}的指标“{row.indicator_name}”",
            lambda row=row: _target(  # type: ignore[misc]
                row,
                by_id[row.plan_id],
                leads.get((row.plan_id, row.item_id)),
                _unique((row.region_code, row.indicator_code[:100]), seen),
            ),
        )
        for row in judgements
    ]
    states = [row for row in await repository.task_states(plan.id, positions) if row.current]
    states.sort(key=lambda r: (r.region_code, r.code or "", str(r.task_id)))
    seen = Counter()
    tasks = [
        _checked(
            f"任务“{row.title[:50]}”（{row.region_code}）",
            lambda row=row: _task(  # type: ignore[misc]
                row, _unique((row.region_code, row.code or f"T-{str(row.task_id)[:8]}"), seen), reference_date
            ),
        )
        for row in states
    ]
    rules = sorted({row.rules_version for row in judgements})
    return Snapshot(
        plan=PlanInfo(
            plan_id=str(plan.id),
            title=plan.title[:200],
            region_code=plan.region_code,
            region_name=plan.region_name,
            period_start=plan.period_start,
            period_end=plan.period_end,
        ),
        reference_date=reference_date,
        targets=targets,
        tasks=tasks,
        sources=positions,
        rules_version="+".join([SNAPSHOT_RULES_VERSION, *rules])[:100],
    )
