"""Transactional outbox: events are written with the change that causes them and published after.

`enqueue` adds the event to the caller's transaction. `OutboxRelay` publishes committed rows to
JetStream with `Nats-Msg-Id` = event id, so a row published twice (the relay crashed between the
broker's acknowledgement and its own commit) is dropped by JetStream's duplicate window.
The relay wakes on PostgreSQL NOTIFY, sent by a trigger at commit, and polls as a fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from emplan_shared.db import utcnow
from emplan_shared.events.envelope import CloudEvent
from emplan_shared.messaging.broker import Broker
from emplan_shared.messaging.tables import OUTBOX_CHANNEL

logger = logging.getLogger(__name__)


async def enqueue(session: AsyncSession, outbox: Table, event: CloudEvent) -> None:
    """Add the event to the session's transaction; it is published only if that transaction commits."""
    await session.execute(
        insert(outbox).values(
            event_id=event.id,
            subject=event.nats_subject,
            envelope=event.model_dump(mode="json", exclude_none=True),
        )
    )


class OutboxRelay:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        broker: Broker,
        batch_size: int = 200,
        poll_interval: float = 1.0,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.broker = broker
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.published_total = 0

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="outbox-listen"),
            asyncio.create_task(self._run(), name="outbox-relay"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _listen(self) -> None:
        """Hold a LISTEN connection so a commit wakes the relay at once; reconnect when it drops."""
        dsn = make_url(self.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await asyncpg.connect(dsn)
                lost = asyncio.Event()
                connection.add_termination_listener(lambda _c, lost=lost: lost.set())
                await connection.add_listener(OUTBOX_CHANNEL, lambda *_: self._wakeup.set())
                self._wakeup.set()  # rows committed while we were not listening
                await lost.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("outbox LISTEN connection failed", extra={"error": repr(exc)})
            finally:
                if connection is not None and not connection.is_closed():
                    connection.terminate()
            await asyncio.sleep(1.0)

    async def _run(self) -> None:
        await self.broker.ready.wait()
        backoff = 0.1
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self.poll_interval)
            self._wakeup.clear()
            try:
                while await self.publish_batch() == self.batch_size:
                    pass
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker or database away: the rows stay unpublished and are retried; nothing is lost.
                logger.warning("outbox relay failed, retrying", extra={"error": repr(exc)})
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                self._wakeup.set()

    async def publish_batch(self) -> int:
        """Publish one batch of committed, unpublished events in order; returns how many."""
        js = self.broker.js
        if js is None or not self.broker.connected:
            raise ConnectionError("NATS is not connected")
        table = self.outbox
        async with self.engine.begin() as connection:
            rows = (
                await connection.execute(
                    select(table.c.position, table.c.event_id, table.c.subject, table.c.envelope)
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.position)
                    .limit(self.batch_size)
                    # Several replicas of a service relay side by side without publishing a row twice.
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            # Pipelined: every publish goes out before the first acknowledgement is awaited, so a
            # batch costs one round trip (and the broker's disk syncs back to back), not one each.
            # Rows after a failed one may be stored all the same; they stay unpublished here, and
            # their second publish is dropped by the broker's duplicate window.
            acks: list[asyncio.Future[Any]] = []
            failure: Exception | None = None
            try:
                for row in rows:
                    acks.append(
                        await js.publish_async(
                            row.subject, _encode(row.envelope), headers={"Nats-Msg-Id": row.event_id}
                        )
                    )
            except Exception as exc:
                failure = exc
            published: list[int] = []
            for row, ack in zip(rows, acks, strict=False):
                try:
                    await asyncio.wait_for(ack, timeout=5)
                except Exception as exc:
                    failure = exc
                    break
                published.append(row.position)
            for ack in acks[len(published) :]:
                ack.cancel()
            if failure is not None and len(published) < len(rows):
                failed = rows[len(published)]
                await connection.execute(
                    update(table)
                    .where(table.c.position == failed.position)
                    .values(attempts=table.c.attempts + 1, last_error=repr(failure)[:2000])
                )
            else:
                failure = None
            if published:
                await connection.execute(
                    update(table).where(table.c.position.in_(published)).values(published_at=utcnow())
                )
        # Committed what went out before raising, so a half-published batch is not sent again.
        self.published_total += len(published)
        if failure is not None:
            raise failure
        return len(rows)


def _encode(envelope: dict[str, Any]) -> bytes:
    return orjson.dumps(envelope)
