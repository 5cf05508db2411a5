"""All SQL of single data values (bulk loading has its own, in `bulk.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from indicator_engine.data.models import DataValue, DataValueHistory, DataValueTombstone


class DataValueRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_visible(
        self, value_id: int, principal: Principal, *, lock: bool = False
    ) -> DataValue | None:
        statement = select(DataValue).where(DataValue.id == value_id, principal.within(DataValue.region_code))
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get_by_key(
        self, element_code: str, region_code: str, year: int, month: int, *, lock: bool = False
    ) -> DataValue | None:
        statement = select(DataValue).where(
            DataValue.element_code == element_code,
            DataValue.region_code == region_code,
            DataValue.year == year,
            DataValue.month == month,
        )
        if lock:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def value_at(self, element_code: str, region_code: str, year: int, month: int) -> Decimal | None:
        statement = select(DataValue.value).where(
            DataValue.element_code == element_code,
            DataValue.region_code == region_code,
            DataValue.year == year,
            DataValue.month == month,
        )
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def lock_key(self, element_code: str, year: int, month: int) -> None:
        """Serialise approvals of one element and period, so a parent's approval and a child's
        unapproval cannot pass each other's checks at the same time."""
        await self.session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
            {"key": f"indicator-approval:{element_code}:{year}:{month}"},
        )

    async def share_write_lock(self, key: int) -> None:
        """Wait for a bulk load in progress (it holds the lock exclusively) before adding a value."""
        await self.session.execute(text("SELECT pg_advisory_xact_lock_shared(:key)"), {"key": key})

    async def unapproved_below(self, row: DataValue, prefix: str, limit: int = 20) -> list[str]:
        """Regions below `row`'s whose value of the same element and period is not yet approved."""
        statement = (
            select(DataValue.region_code)
            .where(
                DataValue.element_code == row.element_code,
                DataValue.year == row.year,
                DataValue.month == row.month,
                DataValue.region_code.startswith(prefix, autoescape=True),
                DataValue.region_code != row.region_code,
                DataValue.state != "approved",
            )
            .order_by(DataValue.region_code)
            .limit(limit)
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def approved_among(self, row: DataValue, region_codes: list[str]) -> list[str]:
        statement = select(DataValue.region_code).where(
            DataValue.element_code == row.element_code,
            DataValue.year == row.year,
            DataValue.month == row.month,
            DataValue.region_code.in_(region_codes),
            DataValue.state == "approved",
        )
        return list((await self.session.execute(statement)).scalars().all())

    async def add(self, row: DataValue) -> DataValue:
        self.session.add(row)
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def save(self, row: DataValue) -> DataValue:
        row.updated_at = func.now()
        await self.session.flush()
        await self.session.refresh(row)
        return row

    async def delete(self, row: DataValue, *, actor: str) -> None:
        """Delete the value, leaving its tombstone for the exchange API."""
        await self.session.execute(
            insert(DataValueTombstone).values(
                value_id=row.id,
                element_code=row.element_code,
                region_code=row.region_code,
                year=row.year,
                month=row.month,
                deleted_by=actor,
            )
        )
        await self.session.delete(row)
        await self.session.flush()

    async def keep_version(self, row: DataValue, *, action: str, actor: str) -> None:
        """Copy the row's current version into the history before it changes or goes."""
        await self.session.execute(
            insert(DataValueHistory).values(
                value_id=row.id,
                element_code=row.element_code,
                region_code=row.region_code,
                year=row.year,
                month=row.month,
                version=row.version,
                value=row.value,
                source=row.source,
                state=row.state,
                review_flag=row.review_flag,
                batch_id=row.batch_id,
                entered_by=row.updated_by,
                entered_at=row.updated_at,
                superseded_by_action=action,
                superseded_by=actor,
            )
        )

    async def history(self, value_id: int, principal: Principal) -> Sequence[DataValueHistory]:
        statement = (
            select(DataValueHistory)
            .where(DataValueHistory.value_id == value_id, principal.within(DataValueHistory.region_code))
            .order_by(DataValueHistory.version, DataValueHistory.id)
        )
        return (await self.session.execute(statement)).scalars().all()

    async def list_visible(
        self,
        principal: Principal,
        *,
        element_code: str | None,
        region_code: str | None,
        below: str | None,
        year: int | None,
        state: str | None,
        flagged: bool | None,
        after: int | None,
        limit: int,
    ) -> Sequence[DataValue]:
        statement = select(DataValue).where(principal.within(DataValue.region_code))
        if element_code is not None:
            statement = statement.where(DataValue.element_code == element_code)
        if region_code is not None:
            statement = statement.where(DataValue.region_code == region_code)
        if below is not None:
            statement = statement.where(DataValue.region_code.startswith(below, autoescape=True))
        if year is not None:
            statement = statement.where(DataValue.year == year)
        if state is not None:
            statement = statement.where(DataValue.state == state)
        if flagged is not None:
            statement = statement.where(
                DataValue.review_flag.is_not(None) if flagged else DataValue.review_flag.is_(None)
            )
        if after is not None:
            statement = statement.where(DataValue.id > after)
        return (await self.session.execute(statement.order_by(DataValue.id).limit(limit))).scalars().all()
