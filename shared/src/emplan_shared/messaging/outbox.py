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
from sqlalchemy import Table, insert
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from emplan_shared.events.envelope import CloudEvent
from emplan_shared.messaging.broker import Broker
from emplan_shared.messaging.tables import OUTBOX_CHANNEL
from emplan_shared.tasks import cancel_and_wait

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
        self._db: asyncpg.Connection | None = None
        self.published_total = 0

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="outbox-listen"),
            asyncio.create_task(self._run(), name="outbox-relay"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel_and_wait(task)
        await self._close_connection()

    async def _listen(self) -> None:
        """Hold a LISTEN connection so a commit wakes the relay at once; reconnect when it drops."""
        dsn = self._dsn()
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
        """Publish one batch of committed, unpublished events in order; returns how many.

        On a connection of its own (no pool check-out, no ORM), in three round trips to PostgreSQL:
        lock the batch, then mark it published and commit in one message. The mark is committed
        without waiting for the WAL flush (`synchronous_commit = off`): if a crash loses it, the
        rows are published again and JetStream's duplicate window (10 minutes) drops them, and
        past that window every consumer's `processed_event` key does."""
        js = self.broker.js
        if js is None or not self.broker.connected:
            raise ConnectionError("NATS is not connected")
        connection = await self._connection()
        try:
            published, rows, failure = await self._publish_locked_batch(connection, js)
        except BaseException:
            # A half-done transaction or a broken connection: start the next batch on a new one.
            await self._close_connection()
            raise
        # Committed what went out before raising, so a half-published batch is not sent again.
        self.published_total += published
        if failure is not None:
            raise failure
        return rows

    async def _publish_locked_batch(
        self, connection: asyncpg.Connection, js: Any
    ) -> tuple[int, int, Exception | None]:
        table = self.outbox.name
        await connection.execute("BEGIN; SET LOCAL synchronous_commit TO off")
        rows = await connection.fetch(
            f"SELECT position, event_id, subject, envelope::text AS envelope FROM {table} "
            "WHERE published_at IS NULL ORDER BY position LIMIT $1 "
            # Several replicas of a service relay side by side without publishing a row twice.
            "FOR UPDATE SKIP LOCKED",
            self.batch_size,
        )
        if not rows:
            await connection.execute("COMMIT")
            return 0, 0, None
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
                        row["subject"],
                        row["envelope"].encode(),
                        headers={"Nats-Msg-Id": str(row["event_id"])},
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
            published.append(int(row["position"]))
        for ack in acks[len(published) :]:
            ack.cancel()
        statements: list[str] = []
        if failure is not None and len(published) < len(rows):
            failed = int(rows[len(published)]["position"])
            # Positions are integers from the database: safe to write into the statement.
            error = repr(failure)[:2000].replace("'", "''")
            statements.append(
                f"UPDATE {table} SET attempts = attempts + 1, last_error = '{error}' WHERE position = {failed}"
            )
        else:
            failure = None
        if published:
            positions = ",".join(str(position) for position in published)
            statements.append(f"UPDATE {table} SET published_at = now() WHERE position IN ({positions})")
        statements.append("COMMIT")
        # One message, several statements: the simple query protocol runs them in order.
        await connection.execute("; ".join(statements))
        return len(published), len(rows), failure

    async def _connection(self) -> asyncpg.Connection:
        if self._db is None or self._db.is_closed():
            self._db = await asyncpg.connect(
                self._dsn(), server_settings={"application_name": "outbox-relay"}
            )
        return self._db

    async def _close_connection(self) -> None:
        db, self._db = self._db, None
        if db is not None and not db.is_closed():
            db.terminate()

    def _dsn(self) -> str:
        return make_url(self.engine.url).set(drivername="postgresql").render_as_string(hide_password=False)
