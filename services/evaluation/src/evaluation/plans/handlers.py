"""Events this feature consumes: plan-registry's plan lifecycle."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.events import CloudEvent, catalogue
from emplan_shared.messaging.consumer import Consumer
from evaluation.plans.repository import PlanRepository


async def on_plan_published(session: AsyncSession, event: CloudEvent) -> None:
    plan = catalogue.PLAN_PUBLISHED.parse(event)
    await PlanRepository(session).upsert_published(
        {
            "id": plan.plan_id,
            "lineage_id": plan.lineage_id,
            "version": plan.version,
            "region_code": plan.region_code,
            "region_name": plan.region_name,
            "title": plan.title,
            "period_start": plan.period.start,
            "period_end": plan.period.end,
            "published_at": plan.published_at,
        }
    )


async def on_plan_superseded(session: AsyncSession, event: CloudEvent) -> None:
    change = catalogue.PLAN_SUPERSEDED.parse(event)
    # Unknown here means its plan.published has not arrived yet; raising lets the runner retry it
    # after the publication is applied instead of losing the mark.
    if not await PlanRepository(session).mark_superseded(change.plan_id):
        raise LookupError(f"plan {change.plan_id} superseded before its publication arrived")


def plans_consumer(*, max_attempts: int) -> Consumer:
    return Consumer(
        durable="evaluation-plans",
        handlers={
            catalogue.PLAN_PUBLISHED.type: on_plan_published,
            catalogue.PLAN_SUPERSEDED.type: on_plan_superseded,
        },
        max_attempts=max_attempts,
    )
