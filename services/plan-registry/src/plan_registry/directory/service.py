"""The directory's rules. Never commits: the request's session (or the command's) does, once, with
the outbox rows."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from emplan_shared.errors import (
    Conflict,
    EmplanError,
    NotFound,
    PreconditionFailed,
    ProblemItem,
    RefusedRegion,
    UnprocessableEntity,
)
from emplan_shared.events import catalogue, payloads
from emplan_shared.events.catalogue import EventSpec
from emplan_shared.messaging.outbox import enqueue
from plan_registry.database import messaging
from plan_registry.directory import names as rules
from plan_registry.directory.catalogue import CATALOGUE
from plan_registry.directory.models import Department, Region
from plan_registry.directory.regions_data import region_rows
from plan_registry.directory.repository import DepartmentRepository, RegionRepository, UpsertCounts
from plan_registry.directory.resolution import resolve_names
from plan_registry.directory.schemas import (
    DepartmentCreate,
    DepartmentUpdate,
    RegionCreate,
    RegionLevel,
    UnitResolution,
)

# ---------------------------------------------------------------------------------------------- regions


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
        Region(
            code=data.code,
            name=data.name,
            short_name=rules.region_short_name(data.name),
            level=data.level.value,
            parent_code=data.parent_code,
        )
    )


async def get_region(session: AsyncSession, code: str) -> Region:
    region = await RegionRepository(session).get(code)
    if region is None:
        raise NotFound(f"行政区划 {code} 不存在", code="region_not_found")
    return region


async def region_children(
    session: AsyncSession, code: str, *, after: str | None, limit: int
) -> Sequence[Region]:
    await get_region(session, code)
    return await RegionRepository(session).children(code, after=after, limit=limit)


async def region_ancestors(session: AsyncSession, code: str) -> Sequence[Region]:
    await get_region(session, code)
    return await RegionRepository(session).ancestors(code)


async def search_regions(
    session: AsyncSession, q: str, *, level: RegionLevel | None, after: tuple[int, str] | None, limit: int
) -> Sequence[tuple[Region, int]]:
    text = rules.clean_region_name(q)
    if not text:
        raise UnprocessableEntity(
            "搜索词不能为空",
            code="validation_failed",
            errors=[ProblemItem(field="query.q", detail="搜索词不能为空")],
        )
    return await RegionRepository(session).search(
        text, level=level.value if level else None, after=after, limit=limit
    )


async def find_regions_by_name(session: AsyncSession, name: str) -> Sequence[Region]:
    """Regions a document may mean by `name`: exact name matches if any, otherwise matches of the
    name with its level suffix added or removed (忻州 → 忻州市, 忻州地区 → 忻州市). Several regions can
    share a name (吉林省 and 吉林市 for 吉林); the country comes first, then provinces, cities, counties."""
    text = rules.clean_region_name(name)
    if not text:
        return []
    regions = RegionRepository(session)
    exact = await regions.find_named(names=[text])
    if exact:
        return exact
    return await regions.find_named(short_names=[rules.region_short_name(text)])


async def load_regions(session: AsyncSession) -> UpsertCounts:
    """Insert or update every region of the packaged data (idempotent)."""
    rows = [
        {
            "code": row.code,
            "name": row.name,
            "short_name": row.short_name,
            "level": row.level,
            "parent_code": row.parent_code,
        }
        for row in region_rows()
    ]
    return await RegionRepository(session).upsert(rows)


# ------------------------------------------------------------------------------------------ departments


def _aliases(name: str, aliases: Sequence[str]) -> list[str]:
    return sorted({alias.strip() for alias in aliases if alias.strip() and alias.strip() != name})


async def _publish(
    session: AsyncSession, spec: EventSpec[payloads.Department], department: Department
) -> None:
    event = spec.build(
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


async def create_department(
    session: AsyncSession, principal: Principal, data: DepartmentCreate
) -> Department:
    outside = not principal.can_see(data.region_code)
    if outside or await RegionRepository(session).get(data.region_code) is None:
        # Outside the caller's jurisdiction answers like a region that does not exist, and is
        # recorded in the audit trail as a refused region.
        raise UnprocessableEntity(
            f"行政区划 {data.region_code} 不存在",
            code="unknown_region",
            errors=[ProblemItem(field="body.region_code", code="unknown_region", detail="行政区划不存在")],
            refused_region=RefusedRegion(data.region_code, "body.region_code") if outside else None,
        )
    departments = DepartmentRepository(session)
    if await departments.find_by_name(data.region_code, data.name) is not None:
        raise Conflict(f"该地区已有名为“{data.name}”的部门", code="department_exists")
    department = await departments.add(
        Department(
            id=uuid.uuid4(),
            region_code=data.region_code,
            name=data.name,
            aliases=_aliases(data.name, data.aliases),
        )
    )
    await _publish(session, catalogue.DEPARTMENT_CREATED, department)
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


def etag(department: Department) -> str:
    """A department's entity tag: its version, which every change increases."""
    return f'"{department.version}"'


async def update_department(
    session: AsyncSession,
    principal: Principal,
    department_id: uuid.UUID,
    data: DepartmentUpdate,
    *,
    if_match: Sequence[str],
) -> Department:
    """Change a department whose current entity tag is one of `if_match` (or `*`).

    The row is locked first, so of two requests carrying the same tag one wins and the other gets 412.
    A change that changes nothing keeps the version and publishes nothing.
    """
    departments = DepartmentRepository(session)
    department = await departments.get_visible(department_id, principal, for_update=True)
    if department is None:
        raise NotFound("部门不存在", code="department_not_found")
    if "*" not in if_match and etag(department) not in if_match:
        raise PreconditionFailed(
            "部门已被他人修改，请重新读取后再提交",
            code="precondition_failed",
            headers={"ETag": etag(department)},
        )
    changes = data.model_dump(exclude_unset=True)
    name = changes.get("name", department.name)
    aliases = _aliases(name, changes.get("aliases", department.aliases))
    active = changes.get("active", department.active)
    if (name, aliases, active) == (department.name, department.aliases, department.active):
        return department
    if name != department.name and await departments.find_by_name(department.region_code, name) is not None:
        raise Conflict(f"该地区已有名为“{name}”的部门", code="department_exists")
    department.name, department.aliases, department.active = name, aliases, active
    department.version += 1
    department = await departments.save(department)
    await _publish(session, catalogue.DEPARTMENT_UPDATED, department)
    return department


async def resolve_units(
    session: AsyncSession, region_code: str, names: Sequence[str]
) -> list[UnitResolution]:
    """Map unit names of a document of `region_code` onto that region's active departments.

    A name is never guessed: a group name (各县〈市、区〉人民政府, 有关部门) answers `group`, a name with
    no department or with several equally close ones answers `none`. An unknown region raises
    NotFound (`region_not_found`).
    """
    region = await get_region(session, region_code)
    departments = await DepartmentRepository(session).in_region(region_code)
    return resolve_names(region.name, departments, names)


async def resolve_visible_units(
    session: AsyncSession, principal: Principal, region_code: str, names: Sequence[str]
) -> list[UnitResolution]:
    if not principal.can_see(region_code):
        raise NotFound(
            f"行政区划 {region_code} 不存在",
            code="region_not_found",
            errors=[ProblemItem(field="body.region_code", code="region_not_found", detail="行政区划不存在")],
            refused_region=RefusedRegion(region_code, "body.region_code"),
        )
    return await resolve_units(session, region_code, names)


# ------------------------------------------------------------------------------------- seeded catalogue


@dataclass(frozen=True)
class SeedResult:
    region: Region
    created: list[Department]
    present: list[tuple[str, str]]  # (catalogue name, the department already standing for it)


class SeedError(EmplanError):
    status_code, code = 422, "region_not_seedable"


async def seed_departments(session: AsyncSession, region_code: str) -> SeedResult:
    """Create the catalogue's departments for a city or county, named with the region's own word in
    front (市应急管理局, 县水利局, 区…, 旗…). A department already standing for an entry — by name, alias
    or the resolution rules (a 市规划和自然资源局 stands for 自然资源和规划局) — is left alone, so
    running it again creates nothing. Each new department is published as department.created."""
    region = await get_region(session, region_code)
    word = rules.region_level_word(region.name)
    is_city = region.level == "city" or (region.level == "province" and region.name.endswith("市"))
    if word is None or not (is_city or region.level == "county"):
        raise SeedError(
            f"{region.name}（{region.code}）不是市、县级行政区，常用部门目录只适用于市、县两级（含直辖市）",
        )
    departments = DepartmentRepository(session)
    existing = list(await departments.in_region(region_code, active_only=False))
    created: list[Department] = []
    present: list[tuple[str, str]] = []
    for entry in CATALOGUE:
        chosen = entry.for_level(county=not is_city)
        if chosen is None:
            continue
        base, base_aliases = chosen
        name = word + base
        aliases = [word + alias for alias in base_aliases]
        found = resolve_names(region.name, existing, [name, *aliases])
        match = next((r for r in found if r.department_id is not None), None)
        if match is not None:
            present.append((name, match.department_name or ""))
            continue
        department = await departments.add(
            Department(id=uuid.uuid4(), region_code=region_code, name=name, aliases=_aliases(name, aliases))
        )
        await _publish(session, catalogue.DEPARTMENT_CREATED, department)
        existing.append(department)
        created.append(department)
    return SeedResult(region=region, created=created, present=present)
