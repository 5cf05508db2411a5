"""Database helpers: naming convention, engine, request-scoped session that commits once."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import MetaData, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# Constraint names are fixed so Alembic autogenerate and hand-written migrations agree across services.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


PING_AFTER_IDLE_SECONDS = 2.0
"""A pooled connection idle for longer is pinged before use (see `create_engine`)."""


def create_engine(url: str, *, pool_size: int = 10, application_name: str = "emplan") -> AsyncEngine:
    """The service's engine. A connection left over from before a PostgreSQL restart is found and
    replaced at check-out, before a request or an event uses it, but only a connection that sat
    idle: SQLAlchemy's `pool_pre_ping` pings at every check-out, a round trip to the server on every
    request and every consumed event (on two cores, a measurable share of each). Busy connections
    are not pinged: a restart breaks them mid-use, where the request fails with 503 and an event is
    retried. LIFO keeps the busiest connections in use, so the idle ones are the ones that wait."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_use_lifo=True,
        connect_args={"server_settings": {"application_name": application_name}},
    )
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _remember_checkin(dbapi_connection: Any, record: Any) -> None:
        record.info["emplan_checked_in_at"] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        checked_in_at = record.info.get("emplan_checked_in_at")
        if checked_in_at is None or time.monotonic() - checked_in_at < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("the pooled connection is gone") from exc

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # expire_on_commit=False: objects stay readable after the commit that the dependency does last.
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's session. It commits after the endpoint returns and before the response is sent,
    or rolls back when anything raised; services only flush."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        else:
            await session.commit()


# scope="function" runs the commit when the endpoint returns, before the response goes out, so a
# client never sees success for a transaction that then failed to commit.
DbSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
