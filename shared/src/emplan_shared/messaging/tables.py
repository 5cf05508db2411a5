"""The two tables every service's database has for messaging, added to the service's own metadata."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection

OUTBOX_CHANNEL = "emplan_outbox"


@dataclass(frozen=True)
class MessagingTables:
    outbox_event: Table
    processed_event: Table


def add_messaging_tables(metadata: MetaData) -> MessagingTables:
    outbox_event = Table(
        "outbox_event",
        metadata,
        # position orders the relay's batches: commit order is not visible, insertion order is close.
        Column("position", BigInteger, Identity(always=True), primary_key=True),
        Column("event_id", UUID(as_uuid=False), nullable=False, unique=True),
        Column("subject", String(200), nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True), nullable=True),
        Column("attempts", BigInteger, nullable=False, server_default=text("0")),
        Column("last_error", Text, nullable=True),
        Index("ix_outbox_event_unpublished", "position", postgresql_where=text("published_at IS NULL")),
    )
    processed_event = Table(
        "processed_event",
        metadata,
        # The primary key is the idempotency guard: a redelivered event conflicts and changes nothing.
        Column("consumer", String(100), primary_key=True),
        Column("event_id", UUID(as_uuid=False), primary_key=True),
        Column("event_type", String(200), nullable=False),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    return MessagingTables(outbox_event=outbox_event, processed_event=processed_event)


# Used by migrations: the trigger that wakes the relay when an outbox row is committed.
OUTBOX_NOTIFY_FUNCTION = f"""
CREATE OR REPLACE FUNCTION emplan_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
    RETURN NULL;
END;
$$;
"""
OUTBOX_NOTIFY_TRIGGER = """
CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event
FOR EACH STATEMENT EXECUTE FUNCTION emplan_outbox_notify();
"""
# One statement each: asyncpg prepares statements, and a prepared statement holds one command.
DROP_OUTBOX_NOTIFY = (
    "DROP TRIGGER IF EXISTS outbox_event_notify ON outbox_event",
    "DROP FUNCTION IF EXISTS emplan_outbox_notify()",
)


async def recreate_without_migrations(connection: AsyncConnection, metadata: MetaData) -> None:
    """Drop and create `metadata`'s tables (messaging tables included) with the outbox's NOTIFY
    trigger, as the migrations would leave them: for tests and benchmarks that build a schema of
    their own, replacing what an earlier run left in the same database. Never for a service's
    database: that one is migrated."""
    await connection.run_sync(metadata.drop_all)
    await connection.execute(text("DROP FUNCTION IF EXISTS emplan_outbox_notify() CASCADE"))
    await connection.run_sync(metadata.create_all)
    await connection.execute(text(OUTBOX_NOTIFY_FUNCTION))
    await connection.execute(text(OUTBOX_NOTIFY_TRIGGER))
