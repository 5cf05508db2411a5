"""Rebuilding the read model from the stream: `python -m evaluation rebuild-read-model`.

In one transaction: take the read model's lock (the live consumer's handlers wait on it, so nothing
is written beside the rebuild), note the stream's last sequence, empty the read-model tables and
replay every event the read model is fed by, from the stream's first, through the same handlers the
live consumer runs, up to that sequence. Events published meanwhile are the live consumer's: they
are after the noted sequence, and the consumer applies them once the rebuild commits (a row already
there is kept: rows are keyed by event id). A failure rolls the whole rebuild back and leaves the
model as it was.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import nats
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.events.envelope import CloudEvent
from emplan_shared.messaging.broker import EVENTS_STREAM
from emplan_shared.messaging.consumer import StreamPosition, position_var
from emplan_shared.settings import ServiceSettings
from evaluation.readmodel.handlers import HANDLERS
from evaluation.readmodel.repository import LOCK, ReadModelRepository

logger = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True)
class RebuildReport:
    events: int
    applied: int
    up_to: int


async def rebuild(sessionmaker: async_sessionmaker[AsyncSession], js: JetStreamContext) -> RebuildReport:
    async with sessionmaker() as session, session.begin():
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:name))"), {"name": LOCK})
        last = (await js.stream_info(EVENTS_STREAM)).state.last_seq
        await ReadModelRepository(session).clear()
        events = applied = 0
        if last == 0:
            return RebuildReport(0, 0, 0)
        subscription = await js.pull_subscribe(
            "",
            stream=EVENTS_STREAM,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=600,
                filter_subjects=sorted(HANDLERS),
                inactive_threshold=60,
            ),
        )
        try:
            done = False
            while not done:
                try:
                    messages = await subscription.fetch(BATCH, timeout=2)
                except (TimeoutError, NatsTimeoutError):
                    # Nothing came in time: done if the server has nothing left for us, else (a slow
                    # server) ask again rather than stop half way.
                    if (await subscription.consumer_info()).num_pending == 0:
                        break
                    continue
                for message in messages:
                    await message.ack()
                    sequence = message.metadata.sequence.stream
                    if sequence > last:
                        done = True
                        break
                    events += 1
                    event = CloudEvent.model_validate_json(message.data)
                    handler = HANDLERS.get(event.type)
                    if handler is None:
                        continue
                    token = position_var.set(StreamPosition(message.metadata.stream, sequence))
                    try:
                        await handler(session, event)
                    finally:
                        position_var.reset(token)
                    applied += 1
                if messages and messages[-1].metadata.num_pending == 0:
                    done = True
        finally:
            await subscription.unsubscribe()
        logger.info("read model rebuilt", extra={"events": events, "applied": applied, "up_to": last})
        return RebuildReport(events, applied, last)


async def rebuild_command(settings: ServiceSettings) -> RebuildReport:
    """The command line's rebuild: its own database engine and broker connection."""
    engine = create_engine(settings.async_database_url, pool_size=2, application_name="evaluation-rebuild")
    connection = await nats.connect(settings.nats_url)
    try:
        return await rebuild(create_sessionmaker(engine), connection.jetstream())
    finally:
        await connection.close()
        await engine.dispose()
