#!/usr/bin/env python3
"""Zero loss across a broker crash: 10,000 events with nats-server SIGKILLed for 5 s in the middle.

Creates `--events` (10,000) departments through plan-registry's HTTP API directly, from `--workers`
concurrent clients as fast as it takes them. Once half (5,000) have been accepted, nats-server is SIGKILLed
(`Stack.kill_nats()`), left down 5 s and started again on the same port and JetStream store
(`start_nats()`); production goes on throughout. Then waits until task-assignment has applied them all
(or `--timeout`, reporting what is missing) and checks, in task-assignment's database, that every
department has exactly one `department_change` row and its event exactly one `processed_event` row;
that the dead-letter stream is empty; how often JetStream redelivered (consumer info of the durable
`task-assignment-directory`); how many HTTP writes were refused (0 expected: writes go to the outbox
whatever the broker does); and how long the backlog took to drain after the restart.

    .venv/bin/python bench/zero_loss.py [--events 10000] [--kill-after 5000] [--outage 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

import aiohttp
import asyncpg
import nats
from common import bench_city, bench_stack, header, login, sigterm_as_interrupt

from emplan_shared.messaging.broker import DEAD_LETTER_STREAM, EVENTS_STREAM
from emplan_tools.stack import Stack

DURABLE = "task-assignment-directory"
SUBJECT = "emplan.directory.department.created"


@dataclass
class Production:
    ids: list[str] = field(default_factory=list)
    refused: dict[str, int] = field(default_factory=dict)
    refused_during_outage: int = 0
    accepted_during_outage: int = 0
    applied_at_end: int = 0
    killed_at: float | None = None
    restarted_at: float | None = None
    started: float = 0.0
    finished: float = 0.0

    def outage(self, sent: float) -> bool:
        if self.killed_at is None or sent < self.killed_at:
            return False
        return self.restarted_at is None or sent < self.restarted_at


async def produce(stack: Stack, headers: dict[str, str], city: str, args: argparse.Namespace) -> Production:
    result = Production()
    next_index = 0
    kill_now = asyncio.Event()
    url = f"{stack.url('plan-registry')}/api/v1/directory/departments"
    connector = aiohttp.TCPConnector(limit=args.workers)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, headers=headers, timeout=timeout) as session:

        async def worker() -> None:
            nonlocal next_index
            while next_index < args.events:
                i = next_index
                next_index += 1
                body = {"region_code": city, "name": f"零丢失部门{i:05d}"}
                sent = time.monotonic()
                try:
                    async with session.post(url, json=body) as response:
                        data = await response.json(content_type=None)
                        status = str(response.status)
                except (aiohttp.ClientError, TimeoutError) as exc:
                    data, status = None, type(exc).__name__
                if status == "201":
                    result.ids.append(str(data["id"]))  # type: ignore[index]
                    if result.outage(sent):
                        result.accepted_during_outage += 1
                    if len(result.ids) >= args.kill_after:
                        kill_now.set()
                else:
                    result.refused[status] = result.refused.get(status, 0) + 1
                    if result.outage(sent):
                        result.refused_during_outage += 1

        async def chaos() -> None:
            await kill_now.wait()
            result.killed_at = time.monotonic()
            await stack.call(lambda s: s.kill_nats())
            print(
                f"  nats-server SIGKILLed after {len(result.ids)} accepted"
                f" (t={result.killed_at - result.started:.1f} s); down for {args.outage:.0f} s",
                flush=True,
            )
            await asyncio.sleep(args.outage)
            await stack.call(lambda s: s.start_nats())
            result.restarted_at = time.monotonic()
            print(
                f"  nats-server started again (t={result.restarted_at - result.started:.1f} s,"
                f" {len(result.ids)} accepted so far; {(await backlog(stack))[0]})",
                flush=True,
            )

        result.started = time.monotonic()
        chaos_task = asyncio.create_task(chaos())
        await asyncio.gather(*(worker() for _ in range(args.workers)))
        result.finished = time.monotonic()
        state, result.applied_at_end = await backlog(stack)
        print(f"  last write accepted (t={result.finished - result.started:.1f} s; {state})")
        if not chaos_task.done():
            if not kill_now.is_set():
                chaos_task.cancel()
            else:
                await chaos_task
    return result


async def backlog(stack: Stack) -> tuple[str, int]:
    """Where the events are right now: still in the outbox, and applied by the consumer."""
    producer_db = await asyncpg.connect(stack.service_database_dsn("plan-registry"))
    consumer_db = await asyncpg.connect(stack.service_database_dsn("task-assignment"))
    try:
        unpublished = await producer_db.fetchval(
            "SELECT count(*) FROM outbox_event WHERE published_at IS NULL"
        )
        applied = await consumer_db.fetchval("SELECT count(*) FROM department_change")
    finally:
        await producer_db.close()
        await consumer_db.close()
    return f"{unpublished} unpublished in the outbox, {applied} applied", int(applied)


async def applied_departments(connection: asyncpg.Connection, ids: list[str]) -> int:
    return int(
        await connection.fetchval(
            "SELECT count(DISTINCT department_id) FROM department_change WHERE department_id = ANY($1::uuid[])",
            ids,
        )
    )


async def verify(stack: Stack, production: Production, args: argparse.Namespace) -> bool:
    ids = production.ids
    consumer_db = await asyncpg.connect(stack.service_database_dsn("task-assignment"))
    producer_db = await asyncpg.connect(stack.service_database_dsn("plan-registry"))
    try:
        # Wait for the consumer to catch up.
        deadline = time.monotonic() + args.timeout
        applied = 0
        last_print = 0.0
        while True:
            applied = await applied_departments(consumer_db, ids)
            now = time.monotonic()
            if applied >= len(ids) or now > deadline:
                break
            if now - last_print > 10:
                print(f"  waiting: {applied}/{len(ids)} applied", flush=True)
                last_print = now
            await asyncio.sleep(0.2)
        all_applied_at = time.monotonic()

        outbox = await producer_db.fetch(
            "SELECT event_id::text AS event_id, envelope->>'subject' AS subject, published_at IS NOT NULL AS"
            " published, attempts, last_error FROM outbox_event WHERE envelope->>'subject' = ANY($1::text[])",
            [f"department/{i}" for i in ids],
        )
        event_ids = [row["event_id"] for row in outbox]
        changes = await consumer_db.fetch(
            "SELECT department_id::text AS id, count(*) AS n FROM department_change"
            " WHERE department_id = ANY($1::uuid[]) GROUP BY department_id",
            ids,
        )
        processed = await consumer_db.fetch(
            "SELECT event_id::text AS event_id, count(*) AS n FROM processed_event"
            " WHERE consumer = $1 AND event_id = ANY($2::uuid[]) GROUP BY event_id",
            DURABLE,
            event_ids,
        )
        replica = await consumer_db.fetchval(
            "SELECT count(*) FROM department WHERE id = ANY($1::uuid[])", ids
        )
    finally:
        await consumer_db.close()
        await producer_db.close()

    broker = await nats.connect(stack.nats_url)
    try:
        js = broker.jetstream()
        dead = (await js.stream_info(DEAD_LETTER_STREAM)).state.messages
        events = await js.stream_info(EVENTS_STREAM, subjects_filter=SUBJECT)
        in_stream = (events.state.subjects or {}).get(SUBJECT, 0)
        consumer = await js.consumer_info(EVENTS_STREAM, DURABLE)
    finally:
        await broker.close()

    change_counts = {row["id"]: row["n"] for row in changes}
    processed_counts = {row["event_id"]: row["n"] for row in processed}
    missing = [i for i in ids if change_counts.get(i, 0) == 0]
    doubled = [i for i, n in change_counts.items() if n > 1]
    unprocessed = [e for e in event_ids if processed_counts.get(e, 0) == 0]
    processed_twice = [e for e, n in processed_counts.items() if n > 1]
    unpublished = sum(1 for row in outbox if not row["published"])
    retried = [row for row in outbox if row["attempts"] > 0]

    accepted = len(ids)
    span = production.finished - production.started
    refused_total = sum(production.refused.values())
    print(
        f"produced: {accepted} accepted (201) of {args.events} in {span:.1f} s ({accepted / span:.0f}/s);"
        f" refused {refused_total} {production.refused or ''};"
        f" during the outage: {production.accepted_during_outage} accepted,"
        f" {production.refused_during_outage} refused"
    )
    print(
        f"outbox: {len(outbox)} events, {unpublished} unpublished;"
        f" {len(retried)} needed more than one publish attempt"
        + (f" (e.g. {retried[0]['last_error'][:120]})" if retried else "")
    )
    print(
        f"JetStream: {in_stream} '{SUBJECT}' messages in {EVENTS_STREAM} (= events: no duplicate got past"
        f" de-duplication)"
        if in_stream == len(outbox)
        else f"JetStream: {in_stream} '{SUBJECT}' messages in {EVENTS_STREAM} for {len(outbox)} events"
    )
    print(
        f"consumer {DURABLE}: delivered {consumer.delivered.consumer_seq} (stream seq"
        f" {consumer.delivered.stream_seq}), redelivered now {consumer.num_redelivered},"
        f" ack pending {consumer.num_ack_pending}, pending {consumer.num_pending}"
        "  (num_redelivered counts messages currently redelivered-and-unacked; delivered − events"
        " = deliveries beyond the first)"
    )
    print(f"  deliveries beyond one per event: {consumer.delivered.consumer_seq - len(outbox)}")
    print(f"dead letters ({DEAD_LETTER_STREAM}): {dead}")
    print(
        f"task-assignment: {accepted - len(missing)} of {accepted} departments applied"
        f" ({replica} in the replica); missing {len(missing)}, applied twice {len(doubled)};"
        f" processed_event: missing {len(unprocessed)}, twice {len(processed_twice)}"
    )
    if missing:
        print(f"  first missing: {missing[:5]}")
    if production.restarted_at is not None:
        print(
            f"catch-up: all applied {all_applied_at - production.restarted_at:.1f} s after nats restarted,"
            f" {all_applied_at - production.finished:.1f} s after the last write was accepted"
            f" (then {(accepted - production.applied_at_end) / max(all_applied_at - production.finished, 1e-9):.0f}"
            " events/s drained)"
            if applied >= accepted
            else f"catch-up: NOT complete within {args.timeout:.0f} s"
        )
    exactly_once = (
        accepted == args.events
        and not missing
        and not doubled
        and not unprocessed
        and not processed_twice
        and len(outbox) == accepted
    )
    print(
        f"RESULT every event applied exactly once: {'PASS' if exactly_once else 'FAIL'}"
        f" ({accepted - len(missing) - len(doubled)}/{args.events});"
        f" dead letters {dead}; HTTP writes refused during the outage {production.refused_during_outage}",
        flush=True,
    )
    return exactly_once and dead == 0 and refused_total == 0


async def run(stack: Stack, args: argparse.Namespace) -> bool:
    admin = login(stack)
    city = bench_city(stack, admin)
    print(
        f"producing {args.events} departments with {args.workers} concurrent clients;"
        f" SIGKILL nats after {args.kill_after} accepted, {args.outage:.0f} s down …",
        flush=True,
    )
    production = await produce(stack, admin.headers, city, args)
    return await verify(stack, production, args)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--kill-after", type=int, default=5_000)
    parser.add_argument("--outage", type=float, default=5.0, help="seconds nats-server stays down")
    parser.add_argument("--workers", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the consumer")
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("zero loss: 10,000 events, nats-server SIGKILLed for 5 s in the middle")
    try:
        with bench_stack("zeroloss") as stack:
            ok = asyncio.run(run(stack, args))
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
