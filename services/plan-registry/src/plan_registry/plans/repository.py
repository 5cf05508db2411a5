"""All SQL of plans."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from emplan_shared.auth import Principal
from plan_registry.plans.models import Plan, PlanDocument

_FULL = (undefer(Plan.content), undefer(Plan.warnings), undefer(Plan.units))


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # No refresh after flush: the content columns are deferred with raiseload, and every value the
    # API returns (timestamps included) is set in Python before the flush.
    async def add(self, plan: Plan) -> Plan:
        self.session.add(plan)
        await self.session.flush()
        return plan

    async def save(self, plan: Plan) -> Plan:
        await self.session.flush()
        return plan

    async def add_document(self, document: PlanDocument) -> PlanDocument:
        self.session.add(document)
        await self.session.flush()
        return document

    async def get_document(self, document_id: uuid.UUID) -> PlanDocument | None:
        return await self.session.get(PlanDocument, document_id)

    async def get_visible(
        self, plan_id: uuid.UUID, principal: Principal, *, full: bool = True, for_update: bool = False
    ) -> Plan | None:
        """The plan if it lies in the caller's jurisdiction (the condition is part of the query)."""
        statement = select(Plan).where(Plan.id == plan_id, principal.within(Plan.region_code))
        if full:
            statement = statement.options(*_FULL)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_visible(
        self,
        principal: Principal,
        *,
        region_prefix: str | None,
        status: str | None,
        kind: str | None,
        after: tuple[datetime, uuid.UUID] | None,
        limit: int,
    ) -> Sequence[Plan]:
        """Newest first; the content columns stay deferred."""
        statement = select(Plan).where(principal.within(Plan.region_code))
        if region_prefix is not None:
            statement = statement.where(Plan.region_code.startswith(region_prefix, autoescape=True))
        if status is not None:
            statement = statement.where(Plan.status == status)
        if kind is not None:
            statement = statement.where(Plan.kind == kind)
        if after is not None:
            statement = statement.where(tuple_(Plan.created_at, Plan.id) < tuple_(*after))
        statement = statement.order_by(Plan.created_at.desc(), Plan.id.desc()).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def versions(self, lineage_id: uuid.UUID) -> Sequence[Plan]:
        statement = select(Plan).where(Plan.lineage_id == lineage_id).order_by(Plan.version)
        return (await self.session.execute(statement)).scalars().all()

    async def in_lineage(
        self, lineage_id: uuid.UUID, status: str, *, for_update: bool = False, full: bool = False
    ) -> Plan | None:
        statement = select(Plan).where(Plan.lineage_id == lineage_id, Plan.status == status)
        if full:
            statement = statement.options(*_FULL)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def last_version(self, lineage_id: uuid.UUID) -> int:
        statement = select(func.max(Plan.version)).where(Plan.lineage_id == lineage_id)
        return int((await self.session.execute(statement)).scalar_one() or 0)

    async def published_titled(self, title_keys: Sequence[str], *, full: bool) -> Sequence[Plan]:
        """Current published plans whose title key is one of `title_keys` (with their content if
        `full`)."""
        if not title_keys:
            return []
        statement = (
            select(Plan)
            .where(Plan.status == "published", Plan.title_key.in_(list(title_keys)))
            .order_by(Plan.published_at.desc())
        )
        if full:
            statement = statement.options(*_FULL)
        return (await self.session.execute(statement)).scalars().all()

    async def delete(self, plan: Plan) -> None:
        document_id = plan.document_id
        await self.session.delete(plan)
        await self.session.flush()
        if document_id is not None:
            # The document goes with its last plan.
            still_used = await self.session.execute(
                select(Plan.id).where(Plan.document_id == document_id).limit(1)
            )
            if still_used.first() is None:
                await self.session.execute(delete(PlanDocument).where(PlanDocument.id == document_id))
