"""Durable JetStream consumers whose effects happen exactly once.

Each event is applied in a database transaction that first records `(consumer, event id)` in
`processed_event`; a redelivered or duplicated event conflicts on that key and changes nothing. The
events of one fetched batch share that transaction (one commit); the messages are acknowledged only
after it. A handler that keeps failing is retried with backoff
up to `max_attempts`, then the event is copied to the dead-letter stream and terminated. Failures of
the infrastructure itself (database or broker away) are retried without limit: they are not the
event's fault, and giving up on them would lose it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field

from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from emplan_shared.context import request_id_var
from emplan_shared.events.envelope import CloudEvent
from emplan_shared.messaging.broker import EVENTS_STREAM, Broker, dead_letter_subject
from emplan_shared.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, CloudEvent], Awaitable[None]]


@dataclass(frozen=True)
class StreamPosition:
    """Where the event being handled sits in its stream (JetStream metadata)."""

    stream: str
    sequence: int


# Set while a handler runs: a read model that must say "includes up to event N of stream X" reads it
# with `current_position()`. None outside a consumer (a handler called directly, e.g. in a test).
position_var: ContextVar[StreamPosition | None] = ContextVar("emplan_stream_position", default=None)


def current_position() -> StreamPosition | None:
    return position_var.get()


def _position_of(message: Msg) -> StreamPosition | None:
    try:
        metadata = message.metadata
    except Exception:  # not a JetStream message (a test's hand-made Msg)
        return None
    return StreamPosition(metadata.stream, metadata.sequence.stream)


_INFRASTRUCTURE_ERRORS = (OperationalError, InterfaceError, ConnectionError, OSError, asyncio.TimeoutError)


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    redeliveries: int = 0
    failures: int = 0
    dead_lettered: int = 0
    ignored: int = 0


@dataclass
class Consumer:
    """One durable consumer: a name, the event types it handles and their handlers."""

    durable: str
    handlers: Mapping[str, Handler]
    max_attempts: int = 5
    batch_size: int = 50
    ack_wait_seconds: float = 30.0
    retry_base_delay: float = 0.2
    stats: ConsumerStats = field(default_factory=ConsumerStats)

    @property
    def subjects(self) -> list[str]:
        return sorted(self.handlers)


def _is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _INFRASTRUCTURE_ERRORS)


class ConsumerRunner:
    """Runs a `Consumer` against JetStream and the service's database until cancelled."""

    def __init__(
        self,
        *,
        consumer: Consumer,
        broker: Broker,
        sessionmaker: async_sessionmaker[AsyncSession],
        processed_event: Table,
    ) -> None:
        self.consumer = consumer
        self.broker = broker
        self.sessionmaker = sessionmaker
        self.processed_event = processed_event
        # Built once: the claim runs for every event, and building it each time (its cache key) costs.
        self._claim_statement = (
            insert(processed_event).on_conflict_do_nothing().returning(processed_event.c.event_id)
        )
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer-{self.consumer.durable}")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)

    def _config(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=self.consumer.durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self.consumer.ack_wait_seconds,
            # Unlimited on the server: the bound on a failing handler is ours (max_attempts), because
            # the server cannot tell a poison event from a database outage.
            max_deliver=-1,
            filter_subjects=self.consumer.subjects,
            max_ack_pending=1000,
        )

    async def _run(self) -> None:
        while True:
            await self.broker.ready.wait()
            try:
                assert self.broker.js is not None
                subscription = await self.broker.js.pull_subscribe(
                    subject="",
                    durable=self.consumer.durable,
                    stream=EVENTS_STREAM,
                    config=self._config(),
                )
                waiting = 0
                while True:
                    # A pull for n messages returns once n have come or it expires, so asking for a
                    # whole batch while fewer are waiting holds the first one back: when idle ask
                    # for one (it returns the moment one arrives), else for as many as the server
                    # said were waiting behind the last one.
                    wanted = min(self.consumer.batch_size, waiting) if waiting > 0 else 1
                    try:
                        messages = await subscription.fetch(wanted, timeout=5 if wanted == 1 else 1)
                    except (TimeoutError, NatsTimeoutError):
                        waiting = 0
                        continue
                    if messages:
                        await self.handle_batch(messages)
                        waiting = messages[-1].metadata.num_pending
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning(
                    "consumer loop failed, restarting",
                    extra={"consumer": self.consumer.durable, "error": repr(exc)},
                )
                await asyncio.sleep(1.0)

    async def handle_batch(self, messages: Sequence[Msg]) -> None:
        """Apply the events of a fetched batch in one transaction, so that they share one commit
        (one WAL flush: on a busy disk a commit each caps a consumer at a few hundred events a
        second). Each event is still claimed in `processed_event` with its effect, and acked after
        the commit. If anything in the batch fails, the whole transaction rolls back and every event
        takes the one-at-a-time path (`handle`), which retries or dead-letters the one at fault."""
        if len(messages) == 1:
            await self.handle(messages[0])
            return
        batch: list[tuple[Msg, CloudEvent, Handler]] = []
        for message in messages:
            try:
                event = CloudEvent.model_validate_json(message.data)
            except ValidationError:
                await self.handle(message)  # dead-letters it
                continue
            handler = self.consumer.handlers.get(event.type)
            if handler is None:
                await self.handle(message)  # acks it as ignored
                continue
            batch.append((message, event, handler))
        if not batch:
            return
        try:
            applied = await self._apply_batch(batch)
        except Exception as exc:
            logger.info(
                "batch failed, applying its events one at a time",
                extra={"consumer": self.consumer.durable, "events": len(batch), "error": repr(exc)},
            )
            for message, _, _ in batch:
                await self.handle(message)
            return
        stats = self.consumer.stats
        for (message, _, _), was_applied in zip(batch, applied, strict=True):
            if message.metadata.num_delivered > 1:
                stats.redeliveries += 1
            if was_applied:
                stats.applied += 1
            else:
                stats.duplicates += 1
            await _quietly(message.ack())

    async def _apply_batch(self, batch: Sequence[tuple[Msg, CloudEvent, Handler]]) -> list[bool]:
        async with self.sessionmaker() as session, session.begin():
            # Every event of the batch claimed in one statement, then each claimed one applied.
            claimed = await self._claim(session, [event for _, event, _ in batch])
            applied: list[bool] = []
            for message, event, handler in batch:
                if event.id not in claimed:
                    applied.append(False)
                    continue
                claimed.discard(event.id)  # a second copy in the same batch is a duplicate
                token = request_id_var.set(event.requestid)
                position = position_var.set(_position_of(message))
                try:
                    await handler(session, event)
                finally:
                    position_var.reset(position)
                    request_id_var.reset(token)
                applied.append(True)
        return applied

    async def handle(self, message: Msg) -> None:
        stats = self.consumer.stats
        attempt = message.metadata.num_delivered
        if attempt > 1:
            stats.redeliveries += 1
        try:
            event = CloudEvent.model_validate_json(message.data)
        except ValidationError as exc:
            # A message that is not an event will never become one: straight to the dead letters.
            await self._dead_letter(message, "unknown", f"not a CloudEvent: {exc}")
            return
        handler = self.consumer.handlers.get(event.type)
        if handler is None:
            stats.ignored += 1
            await message.ack()
            return
        token = request_id_var.set(event.requestid)
        position = position_var.set(_position_of(message))
        try:
            applied = await self._apply(handler, event)
        except Exception as exc:
            stats.failures += 1
            if _is_infrastructure_error(exc):
                logger.warning("infrastructure unavailable, event will be retried", extra=_log(event, exc))
                await _quietly(message.nak(delay=min(0.5 * attempt, 5.0)))
                await asyncio.sleep(0.5)
            elif attempt >= self.consumer.max_attempts:
                logger.error("event failed for the last time, dead-lettered", extra=_log(event, exc))
                await self._dead_letter(message, event.type, repr(exc))
            else:
                logger.warning("event handler failed, will retry", extra=_log(event, exc))
                await _quietly(message.nak(delay=min(self.consumer.retry_base_delay * 2**attempt, 30.0)))
            return
        finally:
            position_var.reset(position)
            request_id_var.reset(token)
        if applied:
            stats.applied += 1
        else:
            stats.duplicates += 1
        # Acked after the commit: a lost ack means a redelivery, which the processed_event key absorbs.
        await _quietly(message.ack())

    async def _apply(self, handler: Handler, event: CloudEvent) -> bool:
        async with self.sessionmaker() as session, session.begin():
            return await self._claim_and_apply(session, handler, event)

    async def _claim_and_apply(self, session: AsyncSession, handler: Handler, event: CloudEvent) -> bool:
        """Record the event as processed and apply it, in the caller's transaction; False (and no
        effect) if it was processed before."""
        if not await self._claim(session, [event]):
            return False
        await handler(session, event)
        return True

    async def _claim(self, session: AsyncSession, events: Sequence[CloudEvent]) -> set[str]:
        """Insert `(consumer, event id)` for each event; the ids that were not processed before."""
        rows = [
            {"consumer": self.consumer.durable, "event_id": event.id, "event_type": event.type}
            for event in events
        ]
        if len(rows) == 1:
            result = await session.execute(self._claim_statement, rows[0])
        else:
            # One statement for the whole batch (SQLAlchemy's insertmanyvalues, RETURNING kept).
            result = await session.execute(self._claim_statement, rows)
        return {str(event_id) for event_id in result.scalars()}

    async def _dead_letter(self, message: Msg, event_type: str, reason: str) -> None:
        assert self.broker.js is not None
        stats = self.consumer.stats
        headers = {
            "Emplan-Consumer": self.consumer.durable,
            "Emplan-Failure": reason[:1000].replace("\n", " "),
            "Emplan-Deliveries": str(message.metadata.num_delivered),
        }
        if message.headers and "Nats-Msg-Id" in message.headers:
            # Dedupe the dead letter itself if this step is repeated after a crash.
            headers["Nats-Msg-Id"] = f"{self.consumer.durable}:{message.headers['Nats-Msg-Id']}"
        await self.broker.js.publish(
            dead_letter_subject(self.consumer.durable, event_type), message.data, headers=headers
        )
        stats.dead_lettered += 1
        await message.term()


async def _quietly(awaitable: Awaitable[None]) -> None:
    # An ack or nak that cannot reach the server is repaired by redelivery after ack_wait.
    try:
        await awaitable
    except Exception as exc:
        logger.warning("could not acknowledge message", extra={"error": repr(exc)})


def _log(event: CloudEvent, exc: BaseException) -> dict[str, str]:
    return {"event_id": event.id, "event_type": event.type, "error": repr(exc)}
