"""Events this feature consumes: plan-registry's plan versions."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.events import CloudEvent, catalogue
from emplan_shared.messaging.consumer import Consumer
from task_assignment.tasks import service


async def on_plan_published(session: AsyncSession, event: CloudEvent) -> None:
    await service.apply_plan_published(session, catalogue.PLAN_PUBLISHED.parse(event))


async def on_plan_superseded(session: AsyncSession, event: CloudEvent) -> None:
    await service.apply_plan_superseded(session, catalogue.PLAN_SUPERSEDED.parse(event))


def plans_consumer(*, max_attempts: int) -> Consumer:
    return Consumer(
        durable="task-assignment-plans",
        handlers={
            catalogue.PLAN_PUBLISHED.type: on_plan_published,
            catalogue.PLAN_SUPERSEDED.type: on_plan_superseded,
        },
        max_attempts=max_attempts,
    )
