from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from indicator_engine.definitions.service import sync_builtin_catalogue


@contextlib.asynccontextmanager
async def catalogue_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Write the shipped catalogue before the service takes requests (see `sync_builtin_catalogue`)."""
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    async with sessionmaker() as session:
        await sync_builtin_catalogue(session)
        await session.commit()
    yield
