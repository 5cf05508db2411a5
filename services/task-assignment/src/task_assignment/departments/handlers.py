"""Events this feature consumes: plan-registry's directory changes."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.events import CloudEvent, catalogue
from emplan_shared.messaging.consumer import Consumer
from task_assignment.departments.repository import DepartmentRepository


async def on_department_changed(session: AsyncSession, event: CloudEvent) -> None:
    department = catalogue.DEPARTMENT_CREATED.parse(event)
    repository = DepartmentRepository(session)
    await repository.upsert(
        {
            "id": department.id,
            "region_code": department.region_code,
            "name": department.name,
            "aliases": department.aliases,
            "active": department.active,
            "version": department.version,
        }
    )
    await repository.add_change(
        {
            "department_id": department.id,
            "event_id": event.id,
            "event_type": event.type,
            "name": department.name,
            "version": department.version,
            "occurred_at": event.time,
        }
    )


def directory_consumer(*, max_attempts: int) -> Consumer:
    return Consumer(
        durable="task-assignment-directory",
        handlers={
            catalogue.DEPARTMENT_CREATED.type: on_department_changed,
            catalogue.DEPARTMENT_UPDATED.type: on_department_changed,
        },
        max_attempts=max_attempts,
    )
