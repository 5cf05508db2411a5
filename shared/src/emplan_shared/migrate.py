"""Create a service's database if missing and bring it to the newest migration, under a lock.

Several replicas of a service may start at once; a PostgreSQL advisory lock makes them take turns,
so `alembic upgrade head` runs once and the others find nothing to do.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

logger = logging.getLogger(__name__)

MAINTENANCE_DATABASE = "postgres"


def _plain_dsn(url: str, database: str | None = None) -> str:
    parsed = make_url(url).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


async def ensure_database(url: str) -> None:
    """Create the database named in `url` when it does not exist (needs CREATEDB on the server)."""
    connection = await asyncpg.connect(_plain_dsn(url, MAINTENANCE_DATABASE))
    try:
        await _create_if_missing(connection, url)
    finally:
        await connection.close()


async def _create_if_missing(connection: asyncpg.Connection, url: str) -> None:
    name = make_url(url).database
    assert name
    if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        return
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
        logger.info("created database", extra={"database": name})
    except (asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):
        pass  # created meanwhile by a process that does not hold our lock


def alembic_config(migrations_dir: Path, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, migrations_dir: Path, lock_name: str) -> None:
    """Create the database if missing and upgrade it to head. Replicas starting together take turns
    on an advisory lock held on the maintenance database (advisory locks are per database, and the
    service's own database may not exist yet)."""

    async def run() -> None:
        lock_key = zlib.crc32(lock_name.encode())
        connection = await asyncpg.connect(_plain_dsn(url, MAINTENANCE_DATABASE))
        try:
            await connection.execute("SELECT pg_advisory_lock($1)", lock_key)
            try:
                await _create_if_missing(connection, url)
                # Alembic's env.py runs its own event loop; keep it off this one.
                await asyncio.to_thread(command.upgrade, alembic_config(migrations_dir, url), "head")
            finally:
                await connection.execute("SELECT pg_advisory_unlock($1)", lock_key)
        finally:
            await connection.close()

    asyncio.run(run())


def run_alembic_env(target_metadata: object) -> None:
    """The body of every service's `migrations/env.py`: online, async, one transaction per run."""
    from alembic import context
    from sqlalchemy.ext.asyncio import create_async_engine

    config = context.config

    def do_run(connection: object) -> None:
        context.configure(
            connection=connection,  # type: ignore[arg-type]
            target_metadata=target_metadata,  # type: ignore[arg-type]
            compare_type=True,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        url = config.get_main_option("sqlalchemy.url")
        assert url
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)  # type: ignore[arg-type]
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())
