from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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

    async def client_by_client_id(self, client_id: str) -> MachineClient | None:
        statement = select(MachineClient).where(MachineClient.client_id == client_id)
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def refresh_token(self, token_id: uuid.UUID) -> RefreshToken | None:
        statement = select(RefreshToken).where(RefreshToken.id == token_id).with_for_update()
        return (await self.session.execute(statement)).scalar_one_or_none()

    async def add(self, obj: Account | MachineClient | RefreshToken) -> None:
        self.session.add(obj)
        await self.session.flush()
