"""The rules of scoring schemes, rounds and measures. Never commits: the request's session does, once,
with the outbox row of `evaluation.published`.

Lifecycle: draft → under_review → approved → published, and under_review → draft to send a round
back. Only a draft can be changed (title, reference date, scheme, bonus awards, snapshot, measures);
approval freezes the scores, the scheme's rules and the previous round compared against into the row.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal, jurisdiction_prefix
from emplan_shared.db import utcnow
from emplan_shared.errors import (
    Conflict,
    NotFound,
    PreconditionFailed,
    ProblemItem,
    RefusedRegion,
    UnprocessableEntity,
)
from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.outbox import enqueue
from evaluation.database import messaging
from evaluation.domain.comparison import Comparison, compare
from evaluation.domain.scheme import DEFAULT_SCHEME, ScoringScheme
from evaluation.domain.scoring import BonusAward, ScoreResult, UnknownBonusItem, score
from evaluation.domain.snapshot import Snapshot
from evaluation.plans.models import PlanRecord
from evaluation.plans.repository import PlanRepository
from evaluation.readmodel.snapshot import SnapshotDataError, take_snapshot
from evaluation.reports.data import KIND_LABELS, ReportData, RoundInfo, build_report, measure
from evaluation.rounds.models import EvaluationRound, ImprovementMeasure, ScoringSchemeRecord
from evaluation.rounds.repository import FROZEN_STATUSES, MeasureRepository, RoundRepository, SchemeRepository
from evaluation.rounds.schemas import MeasureCreate, RoundCreate, RoundUpdate, SchemeCreate

STATUS_LABELS = {"draft": "草稿", "under_review": "审核中", "approved": "已审定", "published": "已发布"}
PUBLIC_PREFIX = "/api/v1/evaluations/public/rounds"


def _actor(principal: Principal) -> str:
    return principal.name or principal.subject


# ---------------------------------------------------------------------------------------------- schemes


async def _plan_for_write(session: AsyncSession, principal: Principal, plan_id: uuid.UUID) -> PlanRecord:
    plan = await PlanRepository(session).get_visible(plan_id, principal)
    if plan is None:
        raise UnprocessableEntity(
            f"规划 {plan_id} 不存在、尚未发布或不在您的管辖范围内",
            code="plan_not_published",
            errors=[ProblemItem(field="body.plan_id", detail="规划不存在或尚未发布")],
        )
    return plan


async def create_scheme(
    session: AsyncSession, principal: Principal, data: SchemeCreate
) -> ScoringSchemeRecord:
    plan = await _plan_for_write(session, principal, data.plan_id)
    schemes = SchemeRepository(session)
    # Serialise version numbering per plan: two schemes created at once must not both be version n.
    await session.get(PlanRecord, plan.id, with_for_update=True)
    return await schemes.add(
        ScoringSchemeRecord(
            plan_id=plan.id,
            region_code=plan.region_code,
            version=await schemes.next_version(plan.id),
            name=data.rules.name,
            rules=data.rules.model_dump(mode="json"),
            created_by=_actor(principal),
        )
    )


async def get_scheme(
    session: AsyncSession, principal: Principal, scheme_id: uuid.UUID
) -> ScoringSchemeRecord:
    scheme = await SchemeRepository(session).get_visible(scheme_id, principal)
    if scheme is None:
        raise NotFound(f"评分方案 {scheme_id} 不存在", code="scheme_not_found")
    return scheme


async def list_schemes(
    session: AsyncSession,
    principal: Principal,
    *,
    plan_id: uuid.UUID | None,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[ScoringSchemeRecord]:
    return await SchemeRepository(session).list_visible(principal, plan_id=plan_id, after=after, limit=limit)


# ----------------------------------------------------------------------------------------------- rounds


def _check_period(plan: PlanRecord, reference_date: date) -> None:
    if not plan.period_start <= reference_date.year <= plan.period_end:
        raise UnprocessableEntity(
            f"评估基准日 {reference_date.isoformat()} 不在规划期 {plan.period_start}—{plan.period_end} 年内",
            code="reference_date_outside_period",
            errors=[ProblemItem(field="body.reference_date", detail="不在规划期内")],
        )


async def _scheme_of_plan(
    session: AsyncSession, plan_id: uuid.UUID, scheme_id: uuid.UUID
) -> ScoringSchemeRecord:
    scheme = await SchemeRepository(session).get(scheme_id)
    if scheme is None or scheme.plan_id != plan_id:
        raise UnprocessableEntity(
            f"评分方案 {scheme_id} 不属于该规划",
            code="unknown_scheme",
            errors=[ProblemItem(field="body.scheme_id", detail="评分方案不存在或不属于该规划")],
        )
    return scheme


async def create_round(session: AsyncSession, principal: Principal, data: RoundCreate) -> EvaluationRound:
    plan = await _plan_for_write(session, principal, data.plan_id)
    if plan.status != "published":
        raise UnprocessableEntity(
            f"规划 {plan.id} 已被新版本替代，只能对现行版本开展评估",
            code="plan_not_published",
            errors=[ProblemItem(field="body.plan_id", detail="规划已被替代")],
        )
    _check_period(plan, data.reference_date)
    if data.scheme_id is not None:
        await _scheme_of_plan(session, plan.id, data.scheme_id)
    title = data.title or f"{plan.title}{KIND_LABELS[data.kind.value]}报告"
    evaluation_round = await RoundRepository(session).add(
        EvaluationRound(
            plan_id=plan.id,
            region_code=plan.region_code,
            kind=data.kind.value,
            reference_date=data.reference_date,
            title=title[:200],
            status="draft",
            scheme_id=data.scheme_id,
            bonus_awards=[],
            version=1,
            created_by=_actor(principal),
        )
    )
    # Starting a round takes its snapshot: the figures as the read model has them now.
    await _snapshot_from_read_model(session, principal, evaluation_round, plan)
    return await RoundRepository(session).flush(evaluation_round)


def _store_snapshot(
    evaluation_round: EvaluationRound, principal: Principal, snapshot: Snapshot, origin: str
) -> None:
    evaluation_round.snapshot = snapshot.model_dump(mode="json")
    evaluation_round.snapshot_at = utcnow()
    evaluation_round.snapshot_by = _actor(principal)
    evaluation_round.snapshot_origin = origin
    evaluation_round.snapshot_sources = dict(snapshot.sources)
    evaluation_round.calculation_rules_version = snapshot.rules_version


async def _snapshot_from_read_model(
    session: AsyncSession, principal: Principal, evaluation_round: EvaluationRound, plan: PlanRecord
) -> Snapshot:
    try:
        snapshot = await take_snapshot(session, plan, evaluation_round.reference_date)
    except SnapshotDataError as exc:
        raise Conflict(f"读取模型中的数据无法形成快照：{exc}", code="snapshot_invalid") from exc
    _store_snapshot(evaluation_round, principal, snapshot, "read_model")
    return snapshot


async def refresh_snapshot(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID
) -> tuple[EvaluationRound, Snapshot]:
    """Take a draft's snapshot again from the read model (data that arrived since it was started)."""
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    _require_draft(evaluation_round)
    plan = await session.get(PlanRecord, evaluation_round.plan_id)
    assert plan is not None  # a round's plan is never deleted (foreign key)
    snapshot = await _snapshot_from_read_model(session, principal, evaluation_round, plan)
    evaluation_round.version += 1
    return await RoundRepository(session).flush(evaluation_round), snapshot


async def get_round(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID, *, for_update: bool = False
) -> EvaluationRound:
    evaluation_round = await RoundRepository(session).get_visible(round_id, principal, for_update=for_update)
    if evaluation_round is None:
        raise NotFound(f"评估轮次 {round_id} 不存在", code="round_not_found")
    return evaluation_round


async def list_rounds(
    session: AsyncSession,
    principal: Principal,
    *,
    plan_id: uuid.UUID | None,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[EvaluationRound]:
    return await RoundRepository(session).list_visible(
        principal, plan_id=plan_id, status=status, after=after, limit=limit
    )


def etag(evaluation_round: EvaluationRound) -> str:
    return f'"{evaluation_round.version}"'


def _require_draft(evaluation_round: EvaluationRound) -> None:
    if evaluation_round.status in FROZEN_STATUSES:
        raise Conflict(
            f"评估轮次{STATUS_LABELS[evaluation_round.status]}，不能再修改；数据更正请在下一轮评估中体现",
            code="round_locked",
        )
    if evaluation_round.status != "draft":
        raise Conflict("评估轮次正在审核，须先退回草稿才能修改", code="round_under_review")


def _bonus_errors(scheme: ScoringScheme, awards: Sequence[BonusAward]) -> None:
    for index, award in enumerate(awards):
        if scheme.bonus_item(award.item_code) is None:
            raise UnprocessableEntity(
                f"加分项 {award.item_code} 不在评分方案中",
                code="unknown_bonus_item",
                errors=[
                    ProblemItem(field=f"body.bonus_awards.{index}.item_code", detail="评分方案中没有此加分项")
                ],
            )


async def update_round(
    session: AsyncSession,
    principal: Principal,
    round_id: uuid.UUID,
    data: RoundUpdate,
    *,
    if_match: Sequence[str],
) -> EvaluationRound:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    if "*" not in if_match and etag(evaluation_round) not in if_match:
        raise PreconditionFailed(
            "评估轮次已被他人修改，请重新读取后再提交", headers={"ETag": etag(evaluation_round)}
        )
    _require_draft(evaluation_round)
    changes = data.model_dump(exclude_unset=True)
    plan = await session.get(PlanRecord, evaluation_round.plan_id)
    assert plan is not None  # a round's plan is never deleted (foreign key)
    if data.reference_date is not None and data.reference_date != evaluation_round.reference_date:
        _check_period(plan, data.reference_date)
        evaluation_round.reference_date = data.reference_date
        # Figures as of another date are not this round's any more: the snapshot is taken again.
        await _snapshot_from_read_model(session, principal, evaluation_round, plan)
    if "scheme_id" in changes:
        if data.scheme_id is not None:
            await _scheme_of_plan(session, plan.id, data.scheme_id)
        evaluation_round.scheme_id = data.scheme_id
    if changes.get("title") is not None:
        evaluation_round.title = data.title  # type: ignore[assignment]
    if data.bonus_awards is not None:
        scheme, _ = await _scheme_for(session, evaluation_round)
        _bonus_errors(scheme, data.bonus_awards)
        evaluation_round.bonus_awards = [award.model_dump(mode="json") for award in data.bonus_awards]
    evaluation_round.version += 1
    return await RoundRepository(session).flush(evaluation_round)


async def put_snapshot(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID, snapshot: Snapshot
) -> EvaluationRound:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    _require_draft(evaluation_round)
    errors = []
    if snapshot.plan.plan_id != str(evaluation_round.plan_id):
        errors.append(ProblemItem(field="body.plan.plan_id", detail="与评估轮次的规划不一致"))
    if snapshot.reference_date != evaluation_round.reference_date:
        errors.append(ProblemItem(field="body.reference_date", detail="与评估轮次的基准日不一致"))
    if snapshot.plan.region_code != evaluation_round.region_code:
        errors.append(ProblemItem(field="body.plan.region_code", detail="与规划的地区不一致"))
    if errors:
        raise UnprocessableEntity("快照与评估轮次不一致", code="snapshot_mismatch", errors=errors)
    # A plan's figures come from its own region and those below it, nothing else.
    prefix = jurisdiction_prefix(evaluation_round.region_code)
    located: list[tuple[str, int, str]] = [
        ("targets", index, t.region_code) for index, t in enumerate(snapshot.targets)
    ] + [("tasks", index, t.region_code) for index, t in enumerate(snapshot.tasks)]
    for field, index, region_code in located:
        if not region_code.startswith(prefix):
            at = f"body.{field}.{index}.region_code"
            raise UnprocessableEntity(
                f"快照包含规划地区以外的地区 {region_code}",
                code="snapshot_outside_plan_region",
                errors=[ProblemItem(field=at, detail="不在规划地区范围内")],
                # Outside the caller's jurisdiction too: a refused region for the audit trail.
                refused_region=None if principal.can_see(region_code) else RefusedRegion(region_code, at),
            )
    _store_snapshot(evaluation_round, principal, snapshot, "posted")
    evaluation_round.version += 1
    return await RoundRepository(session).flush(evaluation_round)


# ---------------------------------------------------------------------------------------------- lifecycle


async def submit(session: AsyncSession, principal: Principal, round_id: uuid.UUID) -> EvaluationRound:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    _transition(evaluation_round, "draft", "提交审核")
    if evaluation_round.snapshot is None:
        raise Conflict("评估轮次尚无快照数据，不能提交审核", code="snapshot_missing")
    if not evaluation_round.snapshot.get("targets") and not evaluation_round.snapshot.get("tasks"):
        raise Conflict(
            "快照中没有任何指标或任务数据（指标引擎和任务分工的数据尚未到达），不能提交审核；"
            "数据到达后请重新获取快照",
            code="snapshot_empty",
        )
    evaluation_round.status = "under_review"
    evaluation_round.version += 1
    return await RoundRepository(session).flush(evaluation_round)


async def return_to_draft(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID
) -> EvaluationRound:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    _transition(evaluation_round, "under_review", "退回修改")
    evaluation_round.status = "draft"
    evaluation_round.version += 1
    return await RoundRepository(session).flush(evaluation_round)


async def approve(session: AsyncSession, principal: Principal, round_id: uuid.UUID) -> EvaluationRound:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    _transition(evaluation_round, "under_review", "审定")
    scheme, scheme_version = await _scheme_for(session, evaluation_round)
    result = score(_snapshot(evaluation_round), scheme, _awards(evaluation_round))
    previous = await RoundRepository(session).previous_frozen(
        evaluation_round.plan_id, evaluation_round.reference_date, evaluation_round.id
    )
    evaluation_round.frozen_scheme = {"version": scheme_version, "rules": scheme.model_dump(mode="json")}
    evaluation_round.frozen_result = result.model_dump(mode="json")
    evaluation_round.scoring_rules_version = result.rules_version
    evaluation_round.previous_round_id = previous.id if previous else None
    evaluation_round.status = "approved"
    evaluation_round.approved_at = utcnow()
    evaluation_round.approved_by = _actor(principal)
    evaluation_round.version += 1
    return await RoundRepository(session).flush(evaluation_round)


async def publish(session: AsyncSession, principal: Principal, round_id: uuid.UUID) -> EvaluationRound:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    if evaluation_round.status != "approved":
        raise Conflict(
            f"只有已审定的评估轮次才能发布（当前状态：{STATUS_LABELS[evaluation_round.status]}）",
            code="round_not_approved",
        )
    evaluation_round.status = "published"
    evaluation_round.published_at = utcnow()
    evaluation_round.published_by = _actor(principal)
    evaluation_round.version += 1
    snapshot = _snapshot(evaluation_round)
    result = ScoreResult.model_validate(evaluation_round.frozen_result)
    frozen_scheme = evaluation_round.frozen_scheme or {}
    event = catalogue.EVALUATION_PUBLISHED.build(
        payloads.EvaluationPublished(
            round_id=evaluation_round.id,
            plan_id=evaluation_round.plan_id,
            region_code=evaluation_round.region_code,
            kind=evaluation_round.kind,
            title=evaluation_round.title,
            reference_date=evaluation_round.reference_date,
            published_at=evaluation_round.published_at,
            published_by=evaluation_round.published_by,
            report_path=f"{PUBLIC_PREFIX}/{evaluation_round.id}/report.html",
            rules_version=snapshot.rules_version,
            scoring_rules_version=result.rules_version,
            scheme_version=frozen_scheme.get("version"),
            sources=dict(snapshot.sources),
            regions=[_ranked(s) for s in result.regions],
            departments=[_ranked(s) for s in result.departments],
        ),
        subject=f"evaluation-round/{evaluation_round.id}",
        region_code=evaluation_round.region_code,
    )
    await enqueue(session, messaging.outbox_event, event)
    return await RoundRepository(session).flush(evaluation_round)


def _ranked(subject: Any) -> payloads.RankedSubject:
    return payloads.RankedSubject(
        key=subject.key,
        name=subject.name,
        rank=subject.rank,
        total=f"{subject.total:.2f}",
        vetoed=subject.vetoed,
    )


def _transition(evaluation_round: EvaluationRound, expected: str, action: str) -> None:
    if evaluation_round.status != expected:
        if evaluation_round.status in FROZEN_STATUSES:
            raise Conflict(
                f"评估轮次{STATUS_LABELS[evaluation_round.status]}，不能{action}", code="round_locked"
            )
        raise Conflict(
            f"评估轮次当前状态为“{STATUS_LABELS[evaluation_round.status]}”，不能{action}",
            code="invalid_round_transition",
        )


# ---------------------------------------------------------------------------------------------- measures


async def add_measure(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID, data: MeasureCreate
) -> ImprovementMeasure:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    _require_draft(evaluation_round)
    evaluation_round.version += 1
    return await MeasureRepository(session).add(
        ImprovementMeasure(
            round_id=evaluation_round.id,
            problem=data.problem,
            measure=data.measure,
            department=data.department,
            due_date=data.due_date,
            created_by=_actor(principal),
        )
    )


async def list_measures(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID
) -> Sequence[ImprovementMeasure]:
    await get_round(session, principal, round_id)
    return await MeasureRepository(session).list_for(round_id)


async def delete_measure(
    session: AsyncSession, principal: Principal, round_id: uuid.UUID, measure_id: uuid.UUID
) -> None:
    evaluation_round = await get_round(session, principal, round_id, for_update=True)
    _require_draft(evaluation_round)
    if not await MeasureRepository(session).delete(round_id, measure_id):
        raise NotFound(f"改进措施 {measure_id} 不存在", code="measure_not_found")
    evaluation_round.version += 1


# -------------------------------------------------------------------------------------- scores, reports


@dataclass(frozen=True)
class Scored:
    evaluation_round: EvaluationRound
    snapshot: Snapshot
    scheme: ScoringScheme
    scheme_version: int | None
    result: ScoreResult
    previous_round_id: uuid.UUID | None
    comparison: Comparison | None


def _snapshot(evaluation_round: EvaluationRound) -> Snapshot:
    if evaluation_round.snapshot is None:
        raise Conflict("评估轮次尚无快照数据", code="snapshot_missing")
    return Snapshot.model_validate(evaluation_round.snapshot)


def _awards(evaluation_round: EvaluationRound) -> list[BonusAward]:
    return [BonusAward.model_validate(award) for award in evaluation_round.bonus_awards]


async def _scheme_for(
    session: AsyncSession, evaluation_round: EvaluationRound
) -> tuple[ScoringScheme, int | None]:
    """The round's scheme: the one it names, else the plan's newest version, else the default."""
    if evaluation_round.scheme_id is not None:
        record = await SchemeRepository(session).get(evaluation_round.scheme_id)
    else:
        record = await SchemeRepository(session).newest(evaluation_round.plan_id)
    if record is None:
        return DEFAULT_SCHEME, None
    return ScoringScheme.model_validate(record.rules), record.version


async def scored(session: AsyncSession, evaluation_round: EvaluationRound) -> Scored:
    """The round's scores: frozen ones once approved, computed from the current draft otherwise."""
    snapshot = _snapshot(evaluation_round)
    repository = RoundRepository(session)
    if evaluation_round.status in FROZEN_STATUSES:
        frozen = evaluation_round.frozen_scheme or {}
        scheme = ScoringScheme.model_validate(frozen["rules"])
        scheme_version = frozen.get("version")
        result = ScoreResult.model_validate(evaluation_round.frozen_result)
        previous = (
            await repository.get(evaluation_round.previous_round_id)
            if evaluation_round.previous_round_id
            else None
        )
    else:
        scheme, scheme_version = await _scheme_for(session, evaluation_round)
        try:
            result = score(snapshot, scheme, _awards(evaluation_round))
        except UnknownBonusItem as exc:  # the scheme changed under the awards
            raise Conflict(str(exc), code="unknown_bonus_item") from exc
        previous = await repository.previous_frozen(
            evaluation_round.plan_id, evaluation_round.reference_date, evaluation_round.id
        )
    comparison = None
    if previous is not None and previous.snapshot is not None and previous.frozen_result is not None:
        comparison = compare(
            result,
            ScoreResult.model_validate(previous.frozen_result),
            snapshot,
            Snapshot.model_validate(previous.snapshot),
        )
    return Scored(
        evaluation_round=evaluation_round,
        snapshot=snapshot,
        scheme=scheme,
        scheme_version=scheme_version,
        result=result,
        previous_round_id=previous.id if previous else None,
        comparison=comparison,
    )


async def report_data(session: AsyncSession, evaluation_round: EvaluationRound) -> ReportData:
    result = await scored(session, evaluation_round)
    measures = await MeasureRepository(session).list_for(evaluation_round.id)
    scheme_name = result.scheme.name + (f"（第 {result.scheme_version} 版）" if result.scheme_version else "")
    return build_report(
        RoundInfo(
            title=evaluation_round.title,
            kind=evaluation_round.kind,
            status=evaluation_round.status,
            scheme_name=scheme_name,
        ),
        result.snapshot,
        result.result,
        [measure(m.problem, m.measure, m.department, m.due_date) for m in measures],
        result.comparison,
    )


# ------------------------------------------------------------------------------------------------ public


async def get_published(session: AsyncSession, round_id: uuid.UUID) -> EvaluationRound:
    evaluation_round = await RoundRepository(session).get_published(round_id)
    if evaluation_round is None:
        raise NotFound(f"已发布的评估报告 {round_id} 不存在", code="report_not_found")
    return evaluation_round


async def list_published(
    session: AsyncSession,
    *,
    region_code: str | None,
    plan_id: uuid.UUID | None,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[EvaluationRound]:
    return await RoundRepository(session).list_published(
        region_code=region_code, plan_id=plan_id, after=after, limit=limit
    )
