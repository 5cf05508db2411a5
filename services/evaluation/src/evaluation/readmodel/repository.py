"""All SQL of the read model."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, or_, select, text
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.messaging.consumer import StreamPosition as Position
from evaluation.readmodel.models import PlanIndicatorLead, StreamPosition, TargetJudgement, TaskStateRecord

READ_MODEL_TABLES = (TargetJudgement, TaskStateRecord, PlanIndicatorLead, StreamPosition)
# A rebuild holds it exclusively; every live handler takes it shared first, so while a rebuild runs
# the consumer waits instead of writing beside it (handlers never block each other).
LOCK = "evaluation-read-model"


async def lock_shared(session: AsyncSession) -> None:
    await session.execute(text("SELECT pg_advisory_xact_lock_shared(hashtext(:name))"), {"name": LOCK})


class ReadModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------------------------ writes
    async def add_judgement(self, values: dict[str, Any]) -> None:
        statement = insert(TargetJudgement).values(**values).on_conflict_do_nothing()
        await self.session.execute(statement)

    async def add_task_state(self, values: dict[str, Any]) -> None:
        statement = insert(TaskStateRecord).values(**values).on_conflict_do_nothing()
        await self.session.execute(statement)

    async def put_indicator_leads(self, rows: Sequence[dict[str, Any]]) -> None:
        if not rows:
            return
        statement = insert(PlanIndicatorLead).values(list(rows))
        statement = statement.on_conflict_do_update(
            index_elements=[PlanIndicatorLead.plan_id, PlanIndicatorLead.item_id],
            set_={"lead_department": statement.excluded.lead_department},
        )
        await self.session.execute(statement)

    async def advance(self, position: Position | None) -> None:
        """Record that the read model includes `position` (positions only rise)."""
        if position is None:
            return
        statement = insert(StreamPosition).values(stream=position.stream, sequence=position.sequence)
        statement = statement.on_conflict_do_update(
            index_elements=[StreamPosition.stream],
            set_={"sequence": statement.excluded.sequence},
            where=StreamPosition.sequence < statement.excluded.sequence,
        )
        await self.session.execute(statement)

    async def clear(self) -> None:
        for table in READ_MODEL_TABLES:
            await self.session.execute(delete(table))

    # ------------------------------------------------------------------------------------- reads
    async def positions(self) -> dict[str, int]:
        rows = await self.session.execute(select(StreamPosition.stream, StreamPosition.sequence))
        return {stream: int(sequence) for stream, sequence in rows}

    @staticmethod
    def _included(model: Any, sources: dict[str, int]) -> Any:
        """Rows of events at or before the given position of their stream (rows without a position,
        written outside a consumer, always count)."""
        return or_(
            model.stream.is_(None),
            *(and_(model.stream == stream, model.stream_sequence <= seq) for stream, seq in sources.items()),
        )

    async def judgements(
        self, plan_ids: Sequence[uuid.UUID], sources: dict[str, int], last_year: int
    ) -> list[TargetJudgement]:
        """Each target's newest judgement within `sources` that judges no year after `last_year`."""
        statement = (
            select(TargetJudgement)
            .where(
                TargetJudgement.plan_id.in_(list(plan_ids)),
                self._included(TargetJudgement, sources),
                or_(TargetJudgement.year.is_(None), TargetJudgement.year <= last_year),
            )
            .order_by(
                TargetJudgement.target_id,
                TargetJudgement.judgement_version.desc(),
                TargetJudgement.stream_sequence.desc().nulls_last(),
            )
            .ext(distinct_on(TargetJudgement.target_id))
        )
        return list((await self.session.execute(statement)).scalars())

    async def task_states(self, plan_id: uuid.UUID, sources: dict[str, int]) -> list[TaskStateRecord]:
        """Each task's newest state within `sources`."""
        statement = (
            select(TaskStateRecord)
            .where(TaskStateRecord.plan_id == plan_id, self._included(TaskStateRecord, sources))
            .order_by(
                TaskStateRecord.task_id,
                TaskStateRecord.version.desc(),
                TaskStateRecord.stream_sequence.desc().nulls_last(),
            )
            .ext(distinct_on(TaskStateRecord.task_id))
        )
        return list((await self.session.execute(statement)).scalars())

    async def indicator_leads(self, plan_ids: Sequence[uuid.UUID]) -> dict[tuple[uuid.UUID, uuid.UUID], str]:
        statement = select(PlanIndicatorLead).where(PlanIndicatorLead.plan_id.in_(list(plan_ids)))
        return {
            (row.plan_id, row.item_id): row.lead_department
            for row in (await self.session.execute(statement)).scalars()
            if row.lead_department
        }
