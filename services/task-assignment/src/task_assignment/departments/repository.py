"""All SQL of the department replica."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from task_assignment.departments.models import Department, DepartmentChange


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def upsert(self, values: dict[str, object]) -> None:
        """Insert or update, keeping the newest version when events arrive out of order."""
        statement = insert(Department).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[Department.id],
            set_={key: statement.excluded[key] for key in values if key != "id"} | {"synced_at": func.now()},
            where=Department.version < statement.excluded.version,
        )
        await self.session.execute(statement)

    async def add_change(self, change: DepartmentChange) -> None:
        self.session.add(change)
        await self.session.flush()

    async def get_visible(self, department_id: uuid.UUID, principal: Principal) -> Department | None:
        statement = select(Department).where(
            Department.id == department_id, principal.within(Department.region_code)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def count_changes(self, department_id: uuid.UUID) -> int:
        statement = select(func.count()).where(DepartmentChange.department_id == department_id)
        return int((await self.session.execute(statement)).scalar_one())
