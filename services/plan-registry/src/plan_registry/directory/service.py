"""The directory's rules. Never commits: the request's session does, once, with the outbox row."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.errors import Conflict, NotFound, ProblemItem, UnprocessableEntity
from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.outbox import enqueue
from plan_registry.database import messaging
from plan_registry.directory.models import Department, Region
from plan_registry.directory.repository import DepartmentRepository, RegionRepository
from plan_registry.directory.schemas import DepartmentCreate, RegionCreate


async def create_region(session: AsyncSession, data: RegionCreate) -> Region:
    regions = RegionRepository(session)
    if await regions.get(data.code) is not None:
        raise Conflict(f"行政区划代码 {data.code} 已存在", code="region_exists")
    if data.parent_code is not None and await regions.get(data.parent_code) is None:
        raise UnprocessableEntity(
            f"上级行政区划 {data.parent_code} 不存在",
            code="unknown_parent_region",
            errors=[ProblemItem(field="body.parent_code", detail="上级行政区划不存在")],
        )
    return await regions.add(
        Region(code=data.code, name=data.name, level=data.level.value, parent_code=data.parent_code)
    )


async def get_region(session: AsyncSession, code: str) -> Region:
    region = await RegionRepository(session).get(code)
    if region is None:
        raise NotFound(f"行政区划 {code} 不存在", code="region_not_found")
    return region


async def create_department(
    session: AsyncSession, principal: Principal, data: DepartmentCreate
) -> Department:
    if (
        not principal.can_see(data.region_code)
        or await RegionRepository(session).get(data.region_code) is None
    ):
        # Outside the caller's jurisdiction answers like a region that does not exist.
        raise UnprocessableEntity(
            f"行政区划 {data.region_code} 不存在",
            code="unknown_region",
            errors=[ProblemItem(field="body.region_code", detail="行政区划不存在")],
        )
    departments = DepartmentRepository(session)
    if await departments.find_by_name(data.region_code, data.name) is not None:
        raise Conflict(f"该地区已有名为“{data.name}”的部门", code="department_exists")
    aliases = sorted(
        {alias.strip() for alias in data.aliases if alias.strip() and alias.strip() != data.name}
    )
    department = await departments.add(
        Department(id=uuid.uuid4(), region_code=data.region_code, name=data.name, aliases=aliases)
    )
    event = catalogue.DEPARTMENT_CREATED.build(
        payloads.Department(
            id=department.id,
            region_code=department.region_code,
            name=department.name,
            aliases=department.aliases,
            active=department.active,
            version=department.version,
        ),
        subject=f"department/{department.id}",
        region_code=department.region_code,
    )
    await enqueue(session, messaging.outbox_event, event)
    return department


async def get_department(session: AsyncSession, principal: Principal, department_id: uuid.UUID) -> Department:
    department = await DepartmentRepository(session).get_visible(department_id, principal)
    if department is None:
        raise NotFound("部门不存在", code="department_not_found")
    return department


async def list_departments(
    session: AsyncSession,
    principal: Principal,
    *,
    region_code: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> Sequence[Department]:
    return await DepartmentRepository(session).list_visible(
        principal, region_code=region_code, after=after, limit=limit
    )
