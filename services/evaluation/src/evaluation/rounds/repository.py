"""All SQL of rounds, schemes and measures. Every read of a round or scheme carries the caller's
jurisdiction in its WHERE clause, so what lies outside it is never loaded."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from evaluation.rounds.models import EvaluationRound, ImprovementMeasure, ScoringSchemeRecord

FROZEN_STATUSES = ("approved", "published")


class SchemeRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_visible(self, scheme_id: uuid.UUID, principal: Principal) -> ScoringSchemeRecord | None:
        statement = select(ScoringSchemeRecord).where(
            ScoringSchemeRecord.id == scheme_id, principal.within(ScoringSchemeRecord.region_code)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, scheme_id: uuid.UUID) -> ScoringSchemeRecord | None:
        return await self.session.get(ScoringSchemeRecord, scheme_id)

    async def newest(self, plan_id: uuid.UUID) -> ScoringSchemeRecord | None:
        statement = (
            select(ScoringSchemeRecord)
            .where(ScoringSchemeRecord.plan_id == plan_id)
            .order_by(ScoringSchemeRecord.version.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def next_version(self, plan_id: uuid.UUID) -> int:
        statement = select(func.coalesce(func.max(ScoringSchemeRecord.version), 0)).where(
            ScoringSchemeRecord.plan_id == plan_id
        )
        return int((await self.session.execute(statement)).scalar_one()) + 1

    async def list_visible(
        self, principal: Principal, *, plan_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
    ) -> Sequence[ScoringSchemeRecord]:
        statement = select(ScoringSchemeRecord).where(principal.within(ScoringSchemeRecord.region_code))
        if plan_id is not None:
            statement = statement.where(ScoringSchemeRecord.plan_id == plan_id)
        if after is not None:
            statement = statement.where(ScoringSchemeRecord.id > after)
        statement = statement.order_by(ScoringSchemeRecord.id).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, scheme: ScoringSchemeRecord) -> ScoringSchemeRecord:
        self.session.add(scheme)
        await self.session.flush()
        await self.session.refresh(scheme)
        return scheme


class RoundRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_visible(
        self, round_id: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> EvaluationRound | None:
        statement = select(EvaluationRound).where(
            EvaluationRound.id == round_id, principal.within(EvaluationRound.region_code)
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, round_id: uuid.UUID) -> EvaluationRound | None:
        return await self.session.get(EvaluationRound, round_id)

    async def get_published(self, round_id: uuid.UUID) -> EvaluationRound | None:
        statement = select(EvaluationRound).where(
            EvaluationRound.id == round_id, EvaluationRound.status == "published"
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_visible(
        self,
        principal: Principal,
        *,
        plan_id: uuid.UUID | None,
        status: str | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> Sequence[EvaluationRound]:
        statement = select(EvaluationRound).where(principal.within(EvaluationRound.region_code))
        if plan_id is not None:
            statement = statement.where(EvaluationRound.plan_id == plan_id)
        if status is not None:
            statement = statement.where(EvaluationRound.status == status)
        if after is not None:
            statement = statement.where(EvaluationRound.id > after)
        statement = statement.order_by(EvaluationRound.id).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def list_published(
        self, *, region_code: str | None, plan_id: uuid.UUID | None, after: uuid.UUID | None, limit: int
    ) -> Sequence[EvaluationRound]:
        statement = select(EvaluationRound).where(EvaluationRound.status == "published")
        if region_code is not None:
            statement = statement.where(EvaluationRound.region_code == region_code)
        if plan_id is not None:
            statement = statement.where(EvaluationRound.plan_id == plan_id)
        if after is not None:
            statement = statement.where(EvaluationRound.id > after)
        statement = statement.order_by(EvaluationRound.id).limit(limit)
        return (await self.session.execute(statement)).scalars().all()

    async def previous_frozen(
        self, plan_id: uuid.UUID, before: date, exclude: uuid.UUID
    ) -> EvaluationRound | None:
        """The plan's latest approved or published round with an earlier reference date."""
        statement = (
            select(EvaluationRound)
            .where(
                EvaluationRound.plan_id == plan_id,
                EvaluationRound.status.in_(FROZEN_STATUSES),
                EvaluationRound.reference_date < before,
                EvaluationRound.id != exclude,
            )
            .order_by(EvaluationRound.reference_date.desc(), EvaluationRound.approved_at.desc())
            .limit(1)
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add(self, evaluation_round: EvaluationRound) -> EvaluationRound:
        self.session.add(evaluation_round)
        await self.session.flush()
        await self.session.refresh(evaluation_round)
        return evaluation_round

    async def flush(self, evaluation_round: EvaluationRound) -> EvaluationRound:
        await self.session.flush()
        await self.session.refresh(evaluation_round)
        return evaluation_round


class MeasureRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def list_for(self, round_id: uuid.UUID) -> Sequence[ImprovementMeasure]:
        statement = (
            select(ImprovementMeasure)
            .where(ImprovementMeasure.round_id == round_id)
            .order_by(ImprovementMeasure.created_at, ImprovementMeasure.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, measure: ImprovementMeasure) -> ImprovementMeasure:
        self.session.add(measure)
        await self.session.flush()
        await self.session.refresh(measure)
        return measure

    async def delete(self, round_id: uuid.UUID, measure_id: uuid.UUID) -> bool:
        result = await self.session.execute(
            delete(ImprovementMeasure)
            .where(ImprovementMeasure.id == measure_id, ImprovementMeasure.round_id == round_id)
            .returning(ImprovementMeasure.id)
        )
        return result.scalar_one_or_none() is not None
