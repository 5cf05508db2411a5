"""All SQL of plan targets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from indicator_engine.targets.models import IndicatorTarget


class TargetRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> list[uuid.UUID]:
        """Insert targets not stored yet (a repeated plan.published inserts nothing); their ids."""
        if not rows:
            return []
        statement = (
            insert(IndicatorTarget)
            .values(list(rows))
            .on_conflict_do_nothing(index_elements=[IndicatorTarget.plan_id, IndicatorTarget.item_id])
            .returning(IndicatorTarget.id)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def previous_versions(
        self, lineage_id: uuid.UUID, plan_id: uuid.UUID
    ) -> dict[uuid.UUID, IndicatorTarget]:
        """The newest earlier-version target of each plan item of the lineage (to carry decisions over)."""
        statement = (
            select(IndicatorTarget)
            .where(IndicatorTarget.lineage_id == lineage_id, IndicatorTarget.plan_id != plan_id)
            .order_by(IndicatorTarget.plan_version)
        )
        found: dict[uuid.UUID, IndicatorTarget] = {}
        for target in (await self.session.execute(statement)).scalars():
            found[target.item_id] = target
        return found

    async def supersede(self, plan_id: uuid.UUID, superseded_by: uuid.UUID) -> int:
        statement = (
            update(IndicatorTarget)
            .where(IndicatorTarget.plan_id == plan_id, IndicatorTarget.state == "active")
            .values(state="superseded", superseded_by=superseded_by)
        )
        result = await self.session.execute(statement)
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def get_visible(
        self, target_id: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> IndicatorTarget | None:
        statement = select(IndicatorTarget).where(
            IndicatorTarget.id == target_id, principal.within(IndicatorTarget.region_code)
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_visible(
        self,
        principal: Principal,
        *,
        plan_id: uuid.UUID | None,
        region_code: str | None,
        bound: bool | None,
        state: str | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> list[IndicatorTarget]:
        statement = select(IndicatorTarget).where(principal.within(IndicatorTarget.region_code))
        if plan_id is not None:
            statement = statement.where(IndicatorTarget.plan_id == plan_id)
        if region_code is not None:
            statement = statement.where(IndicatorTarget.region_code == region_code)
        if bound is True:
            statement = statement.where(IndicatorTarget.definition_code.is_not(None))
        elif bound is False:
            statement = statement.where(IndicatorTarget.definition_code.is_(None))
        if state is not None:
            statement = statement.where(IndicatorTarget.state == state)
        if after is not None:
            statement = statement.where(IndicatorTarget.id > after)
        statement = statement.order_by(IndicatorTarget.id).limit(limit)
        return list((await self.session.execute(statement)).scalars().all())
