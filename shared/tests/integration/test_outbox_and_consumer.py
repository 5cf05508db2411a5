"""The event backbone on a real PostgreSQL and a real NATS JetStream: every committed event is
applied exactly once, nothing rolled back is published, and a poison event ends in the dead letters."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import asyncpg
import nats
import orjson
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from pydantic import BaseModel
from sqlalchemy import Column, Integer, MetaData, String, Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from emplan_shared.db import create_engine, create_sessionmaker, new_metadata
from emplan_shared.events import CloudEvent, new_event
from emplan_shared.messaging.broker import DEAD_LETTER_STREAM, EVENTS_STREAM, Broker
from emplan_shared.messaging.consumer import Consumer, ConsumerRunner
from emplan_shared.messaging.outbox import OutboxRelay, enqueue
from emplan_shared.messaging.tables import (
    MessagingTables,
    add_messaging_tables,
    recreate_without_migrations,
)
from emplan_shared.migrate import ensure_database
from emplan_shared.settings import with_database

pytestmark = pytest.mark.integration


class Note(BaseModel):
    value: int


@dataclass
class Backbone:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tables: MessagingTables
    effect: Table
    broker: Broker
    nats_url: str


@pytest.fixture(scope="module")
async def backbone(infra) -> AsyncIterator[Backbone]:  # type: ignore[no-untyped-def]
    url = with_database(infra.database_url, "emplan_test_backbone")
    await ensure_database(url)
    metadata: MetaData = new_metadata()
    tables = add_messaging_tables(metadata)
    effect = Table(
        "effect",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("event_id", String(200), nullable=False),
        Column("value", Integer, nullable=False),
    )
    engine = create_engine(url, pool_size=5)
    async with engine.begin() as connection:
        await recreate_without_migrations(connection, metadata)
    broker = Broker(infra.nats_url, name="backbone-test")
    broker.start()
    await asyncio.wait_for(broker.ready.wait(), timeout=10)
    yield Backbone(engine, create_sessionmaker(engine), tables, effect, broker, infra.nats_url)
    await broker.close()
    await engine.dispose()


def _event(event_type: str, value: int) -> CloudEvent:
    return new_event(type=event_type, source="/emplan/test", data=Note(value=value))


def _unique_type() -> str:
    # Each test has its own event type, so tests sharing one stream never see each other's events.
    return f"emplan.test.t{uuid.uuid4().hex}.noted"


async def _wait_for(condition: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _effects(bb: Backbone, event_type: str) -> list[tuple[str, int]]:
    async with bb.engine.connect() as connection:
        rows = await connection.execute(
            select(bb.effect.c.event_id, bb.effect.c.value).where(
                bb.effect.c.event_id.like(f"{event_type}:%")
            )
        )
        return [(r.event_id, r.value) for r in rows]


def _recording_handler(bb: Backbone, event_type: str):  # type: ignore[no-untyped-def]
    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        await session.execute(
            insert(bb.effect).values(event_id=f"{event_type}:{event.id}", value=event.data["value"])
        )

    return handler


def _runner(bb: Backbone, consumer: Consumer) -> ConsumerRunner:
    return ConsumerRunner(
        consumer=consumer,
        broker=bb.broker,
        sessionmaker=bb.sessionmaker,
        processed_event=bb.tables.processed_event,
    )


async def _commit_events(bb: Backbone, events: list[CloudEvent]) -> None:
    async with bb.sessionmaker() as session, session.begin():
        for event in events:
            await enqueue(session, bb.tables.outbox_event, event)


async def _count_in_stream(nats_url: str, stream: str, subject: str) -> int:
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        info = await js.stream_info(stream, subjects_filter=subject)
        return int((info.state.subjects or {}).get(subject, 0))
    finally:
        await connection.close()


class TestOutboxRelay:
    async def test_committed_events_are_published_once_each_in_order(self, backbone: Backbone) -> None:
        event_type = _unique_type()
        events = [_event(event_type, i) for i in range(25)]
        relay = OutboxRelay(
            engine=backbone.engine, outbox=backbone.tables.outbox_event, broker=backbone.broker
        )
        relay.start()
        try:
            await _commit_events(backbone, events)
            await _wait_for(lambda: _unpublished_is(backbone, [e.id for e in events], 0))
        finally:
            await relay.stop()
        assert await _count_in_stream(backbone.nats_url, EVENTS_STREAM, event_type) == 25
        connection = await nats.connect(backbone.nats_url)
        try:
            subscription = await connection.jetstream().pull_subscribe(
                event_type, stream=EVENTS_STREAM, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
            )
            messages = await subscription.fetch(25, timeout=5)
            assert [orjson.loads(m.data)["data"]["value"] for m in messages] == list(range(25))
            assert {m.headers["Nats-Msg-Id"] for m in messages} == {e.id for e in events}
        finally:
            await connection.close()

    async def test_rolled_back_events_are_never_published(self, backbone: Backbone) -> None:
        event_type = _unique_type()

        async def failing_change() -> None:
            async with backbone.sessionmaker() as session, session.begin():
                await enqueue(session, backbone.tables.outbox_event, _event(event_type, 1))
                raise RuntimeError("the change failed")

        with pytest.raises(RuntimeError):
            await failing_change()
        await _drain(
            OutboxRelay(engine=backbone.engine, outbox=backbone.tables.outbox_event, broker=backbone.broker)
        )
        assert await _count_in_stream(backbone.nats_url, EVENTS_STREAM, event_type) == 0

    async def test_two_relays_side_by_side_publish_each_event_once(self, backbone: Backbone) -> None:
        event_type = _unique_type()
        events = [_event(event_type, i) for i in range(300)]
        relays = [
            OutboxRelay(
                engine=backbone.engine,
                outbox=backbone.tables.outbox_event,
                broker=backbone.broker,
                batch_size=20,
            )
            for _ in range(2)
        ]
        await _commit_events(backbone, events)
        await asyncio.gather(*(_drain(relay) for relay in relays))
        assert sum(relay.published_total for relay in relays) >= 300
        assert await _count_in_stream(backbone.nats_url, EVENTS_STREAM, event_type) == 300

    async def test_republishing_an_event_id_is_dropped_by_jetstream(self, backbone: Backbone) -> None:
        # The relay crashed after the broker acknowledged but before it marked the row published.
        event_type = _unique_type()
        event = _event(event_type, 7)
        assert backbone.broker.js is not None
        await backbone.broker.js.publish(
            event.type, orjson.dumps(event.model_dump(mode="json")), headers={"Nats-Msg-Id": event.id}
        )
        await _commit_events(backbone, [event])
        relay = OutboxRelay(
            engine=backbone.engine, outbox=backbone.tables.outbox_event, broker=backbone.broker
        )
        await _drain(relay)
        assert await _count_in_stream(backbone.nats_url, EVENTS_STREAM, event_type) == 1


async def _drain(relay: OutboxRelay) -> None:
    try:
        while await relay.publish_batch():
            pass
    finally:
        await relay.stop()  # closes its database connection


async def _unpublished_is(bb: Backbone, event_ids: list[str], expected: int) -> bool:
    table = bb.tables.outbox_event
    async with bb.engine.connect() as connection:
        count = await connection.scalar(
            select(func.count()).where(table.c.event_id.in_(event_ids), table.c.published_at.is_(None))
        )
    return count == expected


class TestConsumer:
    async def test_each_event_is_applied_once(self, backbone: Backbone) -> None:
        event_type = _unique_type()
        consumer = Consumer(
            durable=f"test-{uuid.uuid4().hex[:12]}",
            handlers={event_type: _recording_handler(backbone, event_type)},
        )
        runner = _runner(backbone, consumer)
        relay = OutboxRelay(
            engine=backbone.engine, outbox=backbone.tables.outbox_event, broker=backbone.broker
        )
        runner.start()
        relay.start()
        try:
            await _commit_events(backbone, [_event(event_type, i) for i in range(10)])
            await _wait_for(lambda: _has_effects(backbone, event_type, 10))
        finally:
            await relay.stop()
            await runner.stop()
        assert sorted(value for _, value in await _effects(backbone, event_type)) == list(range(10))
        assert consumer.stats.applied == 10
        assert consumer.stats.duplicates == 0

    async def test_an_event_delivered_twice_changes_nothing_the_second_time(self, backbone: Backbone) -> None:
        event_type = _unique_type()
        consumer = Consumer(
            durable=f"test-{uuid.uuid4().hex[:12]}",
            handlers={event_type: _recording_handler(backbone, event_type)},
        )
        runner = _runner(backbone, consumer)
        event = _event(event_type, 42)
        payload = orjson.dumps(event.model_dump(mode="json"))
        assert backbone.broker.js is not None
        # Two copies under different message ids: JetStream keeps both, so the consumer sees both.
        await backbone.broker.js.publish(event.type, payload, headers={"Nats-Msg-Id": f"{event.id}-a"})
        await backbone.broker.js.publish(event.type, payload, headers={"Nats-Msg-Id": f"{event.id}-b"})
        runner.start()
        try:
            await _wait_for(lambda: _stats_total(consumer, 2))
        finally:
            await runner.stop()
        assert await _effects(backbone, event_type) == [(f"{event_type}:{event.id}", 42)]
        assert (consumer.stats.applied, consumer.stats.duplicates) == (1, 1)

    async def test_copies_of_an_event_in_one_batch_apply_once(self, backbone: Backbone) -> None:
        """The batch path claims all its events in one statement: two copies of one event in the
        same batch, and one that was processed before, still give exactly one effect each."""
        event_type = _unique_type()
        consumer = Consumer(
            durable=f"test-{uuid.uuid4().hex[:12]}",
            handlers={event_type: _recording_handler(backbone, event_type)},
        )
        runner = _runner(backbone, consumer)
        assert backbone.broker.js is not None
        old, new = _event(event_type, 1), _event(event_type, 2)
        async with backbone.sessionmaker() as session, session.begin():
            await runner._claim_and_apply(session, _recording_handler(backbone, event_type), old)
        for event, copy in ((new, "a"), (new, "b"), (old, "a"), (_event(event_type, 3), "a")):
            payload = orjson.dumps(event.model_dump(mode="json"))
            await backbone.broker.js.publish(
                event.type, payload, headers={"Nats-Msg-Id": f"{event.id}-{copy}"}
            )
        subscription = await backbone.broker.js.pull_subscribe(
            event_type, stream=EVENTS_STREAM, config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        )
        messages = await subscription.fetch(4, timeout=5)
        assert len(messages) == 4
        await runner.handle_batch(messages)
        assert sorted(value for _, value in await _effects(backbone, event_type)) == [1, 2, 3]
        assert (consumer.stats.applied, consumer.stats.duplicates) == (2, 2)

    async def test_a_failing_handler_is_retried_then_succeeds_once(self, backbone: Backbone) -> None:
        event_type = _unique_type()
        record = _recording_handler(backbone, event_type)
        calls = 0

        async def flaky(session: AsyncSession, event: CloudEvent) -> None:
            nonlocal calls
            calls += 1
            await record(session, event)  # written, then rolled back by the failure below
            if calls < 3:
                raise ValueError("not yet")

        consumer = Consumer(
            durable=f"test-{uuid.uuid4().hex[:12]}", handlers={event_type: flaky}, retry_base_delay=0.05
        )
        runner = _runner(backbone, consumer)
        runner.start()
        try:
            await _commit_and_relay(backbone, [_event(event_type, 5)])
            await _wait_for(lambda: _has_effects(backbone, event_type, 1))
        finally:
            await runner.stop()
        assert calls == 3
        assert len(await _effects(backbone, event_type)) == 1
        # A first delivery fetched together with other events fails inside the batch and is retried
        # at once on the one-at-a-time path, so three calls may take two or three deliveries; every
        # failure on that path is nakked and redelivered exactly once.
        assert consumer.stats.failures >= 1
        assert consumer.stats.redeliveries == consumer.stats.failures

    async def test_a_poison_event_goes_to_the_dead_letters_after_the_last_try(
        self, backbone: Backbone
    ) -> None:
        event_type = _unique_type()

        async def broken(session: AsyncSession, event: CloudEvent) -> None:
            raise ValueError("cannot apply this event")

        durable = f"test-{uuid.uuid4().hex[:12]}"
        consumer = Consumer(
            durable=durable, handlers={event_type: broken}, max_attempts=3, retry_base_delay=0.05
        )
        runner = _runner(backbone, consumer)
        runner.start()
        try:
            await _commit_and_relay(backbone, [_event(event_type, 1)])
            await _wait_for(lambda: _dead_lettered(consumer))
        finally:
            await runner.stop()
        assert consumer.stats.failures == 3
        dead_subject = f"dead.{durable}.{event_type}"
        assert await _count_in_stream(backbone.nats_url, DEAD_LETTER_STREAM, dead_subject) == 1
        async with backbone.engine.connect() as connection:
            processed = await connection.scalar(
                select(func.count()).where(backbone.tables.processed_event.c.consumer == durable)
            )
        assert processed == 0  # nothing was applied, so nothing is recorded as processed


async def _commit_and_relay(bb: Backbone, events: list[CloudEvent]) -> None:
    await _commit_events(bb, events)
    await _drain(OutboxRelay(engine=bb.engine, outbox=bb.tables.outbox_event, broker=bb.broker))


async def _has_effects(bb: Backbone, event_type: str, count: int) -> bool:
    return len(await _effects(bb, event_type)) >= count


async def _stats_total(consumer: Consumer, count: int) -> bool:
    return consumer.stats.applied + consumer.stats.duplicates >= count


async def _dead_lettered(consumer: Consumer) -> bool:
    return consumer.stats.dead_lettered >= 1


async def test_listen_connection_sees_commits(backbone: Backbone) -> None:
    """The relay's wake-up: a committed outbox row notifies the channel (and a rolled-back one does not)."""
    dsn = backbone.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    woken = asyncio.Event()
    await connection.add_listener("emplan_outbox", lambda *_: woken.set())
    try:
        await _commit_events(backbone, [_event(_unique_type(), 1)])
        await asyncio.wait_for(woken.wait(), timeout=5)
    finally:
        await connection.close()
