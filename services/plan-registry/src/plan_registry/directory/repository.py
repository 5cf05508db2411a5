"""All SQL of the directory."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Boolean, ColumnElement, case, func, literal, literal_column, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from emplan_shared.auth import Principal
from plan_registry.directory.models import Department, Region

_LEVEL_ORDER = case({"country": 0, "province": 1, "city": 2, "county": 3}, value=Region.level, else_=4)
# Queries this long also match inside names (自治州, 土家族); shorter ones match the start of a name
# or short name only (忻州 → 忻州市), served by the text_pattern_ops indexes. A
# "contains" search scans the ~3,200 names (0.35 ms measured); a pg_trgm GIN index was measured and
# not kept: for Chinese names under the C.UTF-8 locale it extracts no trigrams and returns every row.
CONTAINS_MIN = 3
# In an upsert's RETURNING: true for a row it inserted, false for one it updated (an updated row
# version carries the updating transaction in xmax).
_INSERTED = literal_column("xmax = 0", Boolean)


@dataclass(frozen=True)
class UpsertCounts:
    inserted: int
    updated: int
    unchanged: int


class RegionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> Region | None:
        return await self.session.get(Region, code)

    async def add(self, region: Region) -> Region:
        self.session.add(region)
        await self.session.flush()
        return region

    async def find_named(
        self, *, names: Sequence[str] = (), short_names: Sequence[str] = ()
    ) -> Sequence[Region]:
        """Regions whose name is one of `names` or whose short name is one of `short_names`,
        the country first, then provinces, cities, counties."""
        conditions: list[ColumnElement[bool]] = []
        if names:
            conditions.append(Region.name.in_(names))
        if short_names:
            conditions.append(Region.short_name.in_(short_names))
        if not conditions:
            return []
        statement = select(Region).where(
            conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
        )
        return (await self.session.execute(statement.order_by(_LEVEL_ORDER, Region.code))).scalars().all()

    async def children(self, code: str, *, after: str | None, limit: int) -> Sequence[Region]:
        statement = select(Region).where(Region.parent_code == code)
        if after is not None:
            statement = statement.where(Region.code > after)
        statement = statement.order_by(Region.code).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def ancestors(self, code: str) -> Sequence[Region]:
        """The region's ancestors, the country first (one recursive query)."""
        chain = select(Region.parent_code.label("code"), literal(1).label("depth")).where(Region.code == code)
        chain_cte = chain.cte("chain", recursive=True)
        parent = aliased(Region)
        chain_cte = chain_cte.union_all(
            select(parent.parent_code, chain_cte.c.depth + 1)
            .where(parent.code == chain_cte.c.code)
            .where(parent.parent_code.is_not(None))
        )
        statement = (
            select(Region).join(chain_cte, Region.code == chain_cte.c.code).order_by(chain_cte.c.depth.desc())
        )
        return (await self.session.execute(statement)).scalars().all()

    async def search(
        self, q: str, *, level: str | None, after: tuple[int, str] | None, limit: int
    ) -> Sequence[tuple[Region, int]]:
        """Regions whose name contains `q` (starts with it, for one- or two-character queries), with
        a rank: 0 the name or short name is `q`, 1 the name starts with `q`, 2 it contains `q`."""
        rank = case(
            ((Region.name == q) | (Region.short_name == q), 0),
            (Region.name.startswith(q, autoescape=True), 1),
            else_=2,
        )
        if len(q) >= CONTAINS_MIN:
            condition = Region.name.contains(q, autoescape=True)
        else:
            condition = Region.name.startswith(q, autoescape=True) | Region.short_name.startswith(
                q, autoescape=True
            )
        statement = select(Region, rank).where(condition)
        if level is not None:
            statement = statement.where(Region.level == level)
        if after is not None:
            statement = statement.where(
                tuple_(rank, Region.code) > tuple_(literal(after[0]), literal(after[1]))
            )
        statement = statement.order_by(rank, Region.code).limit(limit)
        return [(row[0], row[1]) for row in (await self.session.execute(statement)).all()]

    async def upsert(self, rows: Sequence[dict[str, str | None]]) -> UpsertCounts:
        """Insert new regions and update changed ones in one statement per batch, parents first;
        a region missing from `rows` is left alone (departments may refer to it)."""
        inserted = updated = 0
        for start in range(0, len(rows), 1000):
            batch = rows[start : start + 1000]
            values = insert(Region).values(list(batch))
            changed = tuple_(
                Region.name, Region.short_name, Region.level, Region.parent_code
            ).is_distinct_from(
                tuple_(
                    values.excluded.name,
                    values.excluded.short_name,
                    values.excluded.level,
                    values.excluded.parent_code,
                )
            )
            statement = values.on_conflict_do_update(
                index_elements=[Region.code],
                set_={
                    "name": values.excluded.name,
                    "short_name": values.excluded.short_name,
                    "level": values.excluded.level,
                    "parent_code": values.excluded.parent_code,
                },
                where=changed,
            ).returning(_INSERTED)
            for (is_new,) in (await self.session.execute(statement)).all():
                if is_new:
                    inserted += 1
                else:
                    updated += 1
        return UpsertCounts(inserted=inserted, updated=updated, unchanged=len(rows) - inserted - updated)

    async def count(self) -> int:
        return int((await self.session.execute(select(func.count()).select_from(Region))).scalar_one())


class DepartmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_visible(
        self, department_id: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> Department | None:
        statement = select(Department).where(
            Department.id == department_id, principal.within(Department.region_code)
        )
        if for_update:
            statement = statement.with_for_update()
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

    async def in_region(self, region_code: str, *, active_only: bool = True) -> Sequence[Department]:
        """The departments of one region (a region has tens, not thousands)."""
        statement = select(Department).where(Department.region_code == region_code)
        if active_only:
            statement = statement.where(Department.active.is_(True))
        return (await self.session.execute(statement.order_by(Department.name))).scalars().all()

    async def add(self, department: Department) -> Department:
        self.session.add(department)
        await self.session.flush()
        await self.session.refresh(department)
        return department

    async def save(self, department: Department) -> Department:
        await self.session.flush()
        await self.session.refresh(department)
        return department
