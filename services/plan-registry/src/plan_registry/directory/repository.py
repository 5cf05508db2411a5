"""All SQL of the directory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from plan_registry.directory.models import Department, Region


class RegionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> Region | None:
        return await self.session.get(Region, code)

    async def add(self, region: Region) -> Region:
        self.session.add(region)
        await self.session.flush()
        return region


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_visible(self, department_id: uuid.UUID, principal: Principal) -> Department | None:
        statement = select(Department).where(
            Department.id == department_id, principal.within(Department.region_code)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def find_by_name(self, region_code: str, name: str) -> Department | None:
        statement = select(Department).where(Department.region_code == region_code, Department.name == name)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_visible(
        self, principal: Principal, *, region_code: str | None, after: uuid.UUID | None, limit: int
    ) -> Sequence[Department]:
        statement = select(Department).where(principal.within(Department.region_code))
        if region_code is not None:
            statement = statement.where(Department.region_code == region_code)
        if after is not None:
            statement = statement.where(Department.id > after)
        statement = statement.order_by(Department.id).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, department: Department) -> Department:
        self.session.add(department)
        await self.session.flush()
        await self.session.refresh(department)
        return department
