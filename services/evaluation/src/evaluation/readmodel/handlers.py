"""Events the read model is fed by (durable consumer `evaluation-read-model`).

Every handler appends a history row keyed by the event's id (a repeat changes nothing, whether the
consumer's `processed_event` or a rebuild's replay sees it twice) and raises the stream position.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.events import CloudEvent, catalogue
from emplan_shared.messaging.consumer import Consumer, current_position
from evaluation.readmodel.repository import ReadModelRepository, lock_shared

DURABLE = "evaluation-read-model"


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


def _where() -> dict[str, object]:
    position = current_position()
    return {
        "stream": position.stream if position else None,
        "stream_sequence": position.sequence if position else None,
    }


async def on_plan_published(session: AsyncSession, event: CloudEvent) -> None:
    """The unit answering for each indicator item (the target's lead department in a report)."""
    plan = catalogue.PLAN_PUBLISHED.parse(event)
    await lock_shared(session)
    repository = ReadModelRepository(session)
    rows = []
    for indicator in plan.indicators:
        leads = indicator.responsible.lead if indicator.responsible else []
        rows.append(
            {
                "plan_id": plan.plan_id,
                "item_id": indicator.id,
                "lead_department": leads[0].name[:200] if leads else None,
            }
        )
    await repository.put_indicator_leads(rows)
    await repository.advance(current_position())


async def on_target_judged(session: AsyncSession, event: CloudEvent) -> None:
    judged = catalogue.INDICATOR_TARGET_JUDGED.parse(event)
    await lock_shared(session)
    repository = ReadModelRepository(session)
    await repository.add_judgement(
        {
            "event_id": str(event.id),
            **_where(),
            "target_id": judged.target_id,
            "judgement_version": judged.judgement_version,
            "plan_id": judged.plan_id,
            "item_id": judged.item_id,
            "region_code": judged.region_code,
            "indicator_code": judged.indicator_code,
            "indicator_name": judged.indicator_name,
            "nature": judged.nature,
            "unit": (judged.unit or "")[:50] or None,
            "target_type": judged.target_type,
            "target_text_value": Decimal(judged.target_text_value),
            "strict": judged.strict,
            "baseline_year": judged.baseline_year,
            "target_year": judged.target_year,
            "status": judged.status,
            "year": judged.year,
            "value": _decimal(judged.value),
            "baseline": _decimal(judged.baseline),
            "required_value": _decimal(judged.required_value),
            "target_value": _decimal(judged.target_value),
            "rules_version": judged.rules_version[:50],
            "valid_from": judged.judged_at,
        }
    )
    await repository.advance(current_position())


async def on_task_state(session: AsyncSession, event: CloudEvent) -> None:
    state = catalogue.TASK_STATE_CHANGED.parse(event)
    await lock_shared(session)
    repository = ReadModelRepository(session)
    report = state.last_report
    await repository.add_task_state(
        {
            "event_id": str(event.id),
            **_where(),
            "task_id": state.task_id,
            "version": state.version,
            "plan_id": state.plan_id,
            "parent_id": state.parent_id,
            "region_code": state.region_code,
            "region_name": state.region_name[:200] if state.region_name else None,
            "kind": state.kind[:20],
            "code": state.code[:40] if state.code else None,
            "title": state.title,
            "deadline": state.deadline,
            "status": state.status,
            "progress_percent": state.progress_percent,
            "lead_departments": state.lead_departments,
            "co_departments": state.co_departments,
            "returned_count": state.returned_count,
            "last_reported_on": report.reported_on if report else None,
            "last_report_summary": report.summary if report else None,
            "current": state.current,
            "plan_start": state.plan_start,
            "yellow_within_days": state.yellow_within_days,
            "behind_tolerance_pct": state.behind_tolerance_pct,
            "valid_from": state.changed_at,
        }
    )
    await repository.advance(current_position())


HANDLERS = {
    catalogue.PLAN_PUBLISHED.type: on_plan_published,
    catalogue.INDICATOR_TARGET_JUDGED.type: on_target_judged,
    catalogue.TASK_STATE_CHANGED.type: on_task_state,
}


def read_model_consumer(*, max_attempts: int) -> Consumer:
    return Consumer(durable=DURABLE, handlers=HANDLERS, max_attempts=max_attempts)
