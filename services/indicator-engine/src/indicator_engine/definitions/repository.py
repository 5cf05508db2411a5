"""All SQL of definitions and data elements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from indicator_engine.data.models import DataValue
from indicator_engine.definitions.models import DataElementRow, IndicatorDefinitionRow


class ElementRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> DataElementRow | None:
        return await self.session.get(DataElementRow, code)

    async def all(self) -> Sequence[DataElementRow]:
        return (
            (await self.session.execute(select(DataElementRow).order_by(DataElementRow.code))).scalars().all()
        )

    async def page(self, *, after: str | None, limit: int) -> Sequence[DataElementRow]:
        statement = select(DataElementRow).order_by(DataElementRow.code).limit(limit)
        if after is not None:
            statement = statement.where(DataElementRow.code > after)
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, row: DataElementRow) -> DataElementRow:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def delete(self, row: DataElementRow) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def in_use(self, code: str) -> bool:
        used_by_definition = exists().where(
            or_(
                IndicatorDefinitionRow.numerator_code == code,
                IndicatorDefinitionRow.denominator_code == code,
                IndicatorDefinitionRow.region_weight_code == code,
            )
        )
        used_by_value = exists().where(DataValue.element_code == code)
        return bool((await self.session.execute(select(used_by_definition | used_by_value))).scalar())

    async def upsert_builtin(self, rows: list[dict[str, Any]]) -> None:
        """Insert shipped elements; bring earlier shipped versions up to date; never touch added ones."""
        statement = insert(DataElementRow).values(rows)
        columns = ("name", "unit", "kind", "description", "input_units")
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[DataElementRow.code],
                set_={c: statement.excluded[c] for c in columns},
                where=DataElementRow.builtin.is_(True),
            )
        )


class DefinitionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, code: str) -> IndicatorDefinitionRow | None:
        return await self.session.get(IndicatorDefinitionRow, code)

    async def all(self) -> Sequence[IndicatorDefinitionRow]:
        statement = select(IndicatorDefinitionRow).order_by(IndicatorDefinitionRow.code)
        return (await self.session.execute(statement)).scalars().all()

    async def page(self, *, after: str | None, limit: int) -> Sequence[IndicatorDefinitionRow]:
        statement = select(IndicatorDefinitionRow).order_by(IndicatorDefinitionRow.code).limit(limit)
        if after is not None:
            statement = statement.where(IndicatorDefinitionRow.code > after)
        return (await self.session.execute(statement)).scalars().all()

    async def add(self, row: IndicatorDefinitionRow) -> IndicatorDefinitionRow:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def save(self, row: IndicatorDefinitionRow) -> IndicatorDefinitionRow:
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def delete(self, row: IndicatorDefinitionRow) -> None:
        await self.session.delete(row)
        await self.session.flush()

    async def upsert_builtin(self, rows: list[dict[str, Any]]) -> None:
        statement = insert(IndicatorDefinitionRow).values(rows)
        columns = [c for c in rows[0] if c not in ("code", "builtin", "created_by")]
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[IndicatorDefinitionRow.code],
                set_={c: statement.excluded[c] for c in columns},
                where=IndicatorDefinitionRow.builtin.is_(True),
            )
        )
