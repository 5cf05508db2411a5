"""The engine's check-out ping: a pooled connection that PostgreSQL dropped while it sat idle is
replaced before use, and a connection in steady use is not pinged at all."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared import db
from emplan_shared.migrate import ensure_database
from emplan_shared.settings import with_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(infra) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    url = with_database(infra.database_url, "emplan_test_engine")
    await ensure_database(url)
    engine = db.create_engine(url, pool_size=1, application_name="engine-test")
    yield engine
    await engine.dispose()


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))


async def _terminate(engine: AsyncEngine, pid: int) -> None:
    dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await connection.close()


async def test_a_connection_dropped_while_idle_is_replaced_before_use(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = await _backend_pid(engine)
    await _terminate(engine, first)  # as a PostgreSQL restart would
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)
    # The request after the restart is served, on a new connection.
    assert await _backend_pid(engine) != first


async def test_a_busy_connection_is_not_pinged(engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 3600.0)
    pid = await _backend_pid(engine)
    await _terminate(engine, pid)
    # Not idle long enough to be pinged: the dead connection is used, the statement fails, and the
    # pool drops it, so the next check-out connects afresh.
    with pytest.raises(Exception):  # noqa: B017, PT011 - asyncpg's and SQLAlchemy's disconnect errors vary
        await _backend_pid(engine)
    assert await _backend_pid(engine) != pid
