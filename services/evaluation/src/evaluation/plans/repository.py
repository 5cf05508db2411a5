"""All SQL of the plan replica."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from evaluation.plans.models import PlanRecord


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_visible(self, plan_id: uuid.UUID, principal: Principal) -> PlanRecord | None:
        statement = select(PlanRecord).where(
            PlanRecord.id == plan_id, principal.within(PlanRecord.region_code)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def upsert_published(self, values: dict[str, Any]) -> None:
        # A redelivered publication rewrites the same values; the status is left as it is.
        statement = insert(PlanRecord).values(status="published", **values)
        statement = statement.on_conflict_do_update(
            index_elements=[PlanRecord.id],
            set_={k: statement.excluded[k] for k in values if k != "id"},
        )
        await self.session.execute(statement)

    async def mark_superseded(self, plan_id: uuid.UUID) -> bool:
        plan = await self.session.get(PlanRecord, plan_id, with_for_update=True)
        if plan is None:
            return False
        plan.status = "superseded"
        await self.session.flush()
        return True
