"""All SQL of the department replica."""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from task_assignment.departments.models import Department, DepartmentChange


def _upsert_department() -> Insert:
    table = cast(Table, Department.__table__)
    statement = insert(table)
    replaced = ("region_code", "name", "aliases", "active", "version")
    return statement.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={key: statement.excluded[key] for key in replaced} | {"synced_at": func.now()},
        where=table.c.version < statement.excluded.version,
    )


# Built once, run with each event's values as parameters: the directory consumer applies every
# department event through these two, and building the statement per event (its cache key over
# the values, the ORM's flush) was most of the consumer's CPU (bench/event_latency.py).
_UPSERT_DEPARTMENT = _upsert_department()
_INSERT_CHANGE = insert(cast(Table, DepartmentChange.__table__))


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, values: dict[str, object]) -> None:
        """Insert or update, keeping the newest version when events arrive out of order."""
        await self.session.execute(_UPSERT_DEPARTMENT, values)

    async def add_change(self, values: dict[str, object]) -> None:
        await self.session.execute(_INSERT_CHANGE, values)

    async def get_visible(self, department_id: uuid.UUID, principal: Principal) -> Department | None:
        statement = select(Department).where(
            Department.id == department_id, principal.within(Department.region_code)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def count_changes(self, department_id: uuid.UUID) -> int:
        statement = select(func.count()).where(DepartmentChange.department_id == department_id)
        return int((await self.session.execute(statement)).scalar_one())
