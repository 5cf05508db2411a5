from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import any_, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.auth import Principal
from gateway.accounts.models import Account, MachineClient, RefreshToken


class AccountRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def by_username(self, username: str, *, for_update: bool = False) -> Account | None:
        statement = select(Account).where(Account.username == username)
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def get(self, account_id: uuid.UUID) -> Account | None:
        return await self.session.get(Account, account_id)

    async def get_visible(
        self, account_id: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> Account | None:
        statement = select(Account).where(Account.id == account_id, principal.within(Account.region_code))
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_visible(
        self,
        principal: Principal,
        *,
        region_code: str | None,
        role: str | None,
        active: bool | None,
        after: str | None,
        limit: int,
    ) -> list[Account]:
        statement = select(Account).where(principal.within(Account.region_code))
        if region_code is not None:
            statement = statement.where(Account.region_code == region_code)
        if role is not None:
            statement = statement.where(literal(role) == any_(Account.roles))
        if active is not None:
            statement = statement.where(Account.active.is_(active))
        if after is not None:
            statement = statement.where(Account.username > after)
        statement = statement.order_by(Account.username).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    async def client_by_client_id(self, client_id: str) -> MachineClient | None:
        statement = select(MachineClient).where(MachineClient.client_id == client_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def client_visible(
        self, client_uuid: uuid.UUID, principal: Principal, *, for_update: bool = False
    ) -> MachineClient | None:
        statement = select(MachineClient).where(
            MachineClient.id == client_uuid, principal.within(MachineClient.region_code)
        )
        if for_update:
            statement = statement.with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def list_clients(
        self, principal: Principal, *, region_code: str | None, after: str | None, limit: int
    ) -> list[MachineClient]:
        statement = select(MachineClient).where(principal.within(MachineClient.region_code))
        if region_code is not None:
            statement = statement.where(MachineClient.region_code == region_code)
        if after is not None:
            statement = statement.where(MachineClient.client_id > after)
        statement = statement.order_by(MachineClient.client_id).limit(limit)
        return list((await self.session.execute(statement)).scalars())

    async def refresh_token(self, token_id: uuid.UUID) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def end_refresh_tokens(self, account_id: uuid.UUID) -> None:
        """Every unused refresh token of the account is spent, so no new access token can be had."""
        await self.session.execute(
            update(RefreshToken)
            .where(RefreshToken.account_id == account_id, RefreshToken.used_at.is_(None))
            .values(used_at=datetime.now(UTC))
        )

    async def add(self, obj: Account | MachineClient | RefreshToken) -> None:
        self.session.add(obj)
        await self.session.flush()
