#!/usr/bin/env python3
"""Event latency, commit to effect, at a steady rate: a `department.created` event committed in
plan-registry's database until task-assignment has applied it (outbox → NOTIFY → relay → JetStream →
durable consumer → `department` replica and `department_change` row).

The producer commits events at `--rate` a second (200) for `--seconds` (20), each in a transaction
of its own, on schedule whatever the others do; then again at `--reference-rate` (20), a rate
this busy machine keeps up with, for comparison. By default (`--producer sql`) it writes plan-registry's outbox directly, exactly as
`enqueue` does inside a request, from `--connections` (8) database connections: the figure is the
backbone's, from the commit on. `--producer http` POSTs departments to plan-registry's API instead
(commit → effect is measured the same way); on two shared cores the API itself (about 7 ms of CPU a
write) cannot take 200 writes a second, which is a figure of the API, not of the backbone.

What is timed is commit to commit, on one clock: the stack's PostgreSQL runs with
`track_commit_timestamp = on` (set for this benchmark only), and per event the figure is
`pg_xact_commit_timestamp` of the transaction that applied it in task-assignment (the effect is
visible from that instant) minus that of the transaction that committed it to the outbox. Both
databases live on the same server: no clock skew. The relay's part ends at the commit of its
batch's `published_at` update (after JetStream acknowledged the batch).
Targets: p50 < 20 ms, p99 < 100 ms.

    .venv/bin/python bench/event_latency.py [--rate 200] [--seconds 20] [--reference-rate 20]
        [--producer sql|http] [--connections 8] [--pool 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp
import asyncpg
import psutil
from common import (
    CpuMeter,
    bench_city,
    bench_stack,
    header,
    login,
    percentile,
    sigterm_as_interrupt,
)

from emplan_shared.events import catalogue, payloads
from emplan_tools.stack import Stack

P50_TARGET_MS = 20.0
P99_TARGET_MS = 100.0
APPLY_TIMEOUT = 180.0


@dataclass
class Produced:
    ids: list[str] = field(default_factory=list)  # department ids (http) or event ids (sql)
    xids: dict[str, str] = field(default_factory=dict)  # event id → producing transaction (sql)
    refused: dict[int, int] = field(default_factory=dict)
    failed: int = 0
    response_ms: list[float] = field(default_factory=list)
    lateness_ms: list[float] = field(default_factory=list)
    first_send: float = 0.0
    last_answer: float = 0.0


async def paced(result: Produced, rate: float, seconds: float, one: Callable[[int], Awaitable[None]]) -> None:
    """Start `one(i)` at `rate` a second for `seconds`, each on schedule whatever the others do."""
    tasks = []
    start = time.perf_counter() + 0.05
    result.first_send = start
    for i in range(int(rate * seconds)):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        result.lateness_ms.append(max(0.0, time.perf_counter() - due) * 1000)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)


async def produce_http(
    url: str, headers: dict[str, str], city: str, *, rate: float, seconds: float, pool: int, tag: str
) -> Produced:
    """POST departments to plan-registry at `rate` a second, up to `pool` in flight."""
    result = Produced()
    connector = aiohttp.TCPConnector(limit=pool)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def one(i: int) -> None:
            body = {"region_code": city, "name": f"{tag}部门{i:05d}", "aliases": [f"{tag}{i:05d}"]}
            sent = time.perf_counter()
            try:
                async with session.post(f"{url}/api/v1/directory/departments", json=body) as response:
                    data = await response.json(content_type=None)
                    if response.status == 201:
                        result.ids.append(str(data["id"]))
                    else:
                        result.refused[response.status] = result.refused.get(response.status, 0) + 1
            except aiohttp.ClientError:
                result.failed += 1
                return
            finally:
                result.last_answer = time.perf_counter()
            result.response_ms.append((result.last_answer - sent) * 1000)

        await paced(result, rate, seconds, one)
    return result


async def produce_sql(
    dsn: str, city: str, *, rate: float, seconds: float, connections: int, tag: str
) -> Produced:
    """Commit `department.created` events into plan-registry's outbox at `rate` a second, one
    transaction each, as the service's own write path does (`enqueue` in the request's transaction);
    the NOTIFY trigger on the outbox wakes plan-registry's relay at each commit."""
    result = Produced()
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)
    try:

        async def one(i: int) -> None:
            department_id = uuid.uuid4()
            event = catalogue.DEPARTMENT_CREATED.build(
                payloads.Department(
                    id=department_id, region_code=city, name=f"{tag}部门{i:05d}", aliases=[], version=1
                ),
                subject=f"department/{department_id}",
                region_code=city,
            )
            sent = time.perf_counter()
            async with pool.acquire() as connection, connection.transaction():
                await connection.execute(
                    "INSERT INTO outbox_event (event_id, subject, envelope) VALUES ($1::uuid, $2, $3::jsonb)",
                    event.id,
                    event.nats_subject,
                    json.dumps(event.model_dump(mode="json", exclude_none=True)),
                )
                xid = await connection.fetchval("SELECT pg_current_xact_id()::text")
            result.last_answer = time.perf_counter()
            result.response_ms.append((result.last_answer - sent) * 1000)
            result.ids.append(event.id)
            result.xids[event.id] = xid

        await paced(result, rate, seconds, one)
    finally:
        await pool.close()
    return result


async def wait_applied(dsn: str, event_ids: list[str], timeout: float) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + timeout
        while True:
            done = await connection.fetchval(
                "SELECT count(*) FROM department_change WHERE event_id = ANY($1::text[])", event_ids
            )
            if done >= len(event_ids) or time.monotonic() > deadline:
                return int(done)
            await asyncio.sleep(0.25)
    finally:
        await connection.close()


async def commits_of(dsn: str, department_ids: list[str]) -> list[asyncpg.Record]:
    """Per department: its event id, the producer's commit time, and the relay's commit time of the
    batch that published it (NULL while unpublished)."""
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(
            "SELECT o.event_id::text AS event_id,"
            " pg_xact_commit_timestamp(d.xmin) AS committed_at,"
            " CASE WHEN o.published_at IS NOT NULL THEN pg_xact_commit_timestamp(o.xmin) END AS relayed_at"
            " FROM department d JOIN outbox_event o ON o.envelope->>'subject' = 'department/' || d.id::text"
            " WHERE d.id = ANY($1::uuid[])",
            department_ids,
        )
    finally:
        await connection.close()


async def commits_of_sql(dsn: str, produced: Produced) -> list[asyncpg.Record]:
    """Per event: the producing transaction's commit time, and the relay's as in `commits_of`."""
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(
            "SELECT o.event_id::text AS event_id,"
            " pg_xact_commit_timestamp(x.xid::xid8::xid) AS committed_at,"
            " CASE WHEN o.published_at IS NOT NULL THEN pg_xact_commit_timestamp(o.xmin) END AS relayed_at"
            " FROM outbox_event o JOIN unnest($1::text[], $2::text[]) AS x(event_id, xid)"
            " ON o.event_id = x.event_id::uuid",
            list(produced.xids),
            list(produced.xids.values()),
        )
    finally:
        await connection.close()


async def effects_of(dsn: str, event_ids: list[str]) -> dict[str, datetime]:
    """Per event: the commit time of the consumer's transaction that applied it."""
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT event_id, pg_xact_commit_timestamp(xmin) AS effect_at FROM department_change"
            " WHERE event_id = ANY($1::text[])",
            event_ids,
        )
    finally:
        await connection.close()
    return {row["event_id"]: row["effect_at"] for row in rows}


async def check_commit_timestamps(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        if await connection.fetchval("SHOW track_commit_timestamp") != "on":
            raise RuntimeError("track_commit_timestamp is off: commit times cannot be read")
    finally:
        await connection.close()


def fmt(values: list[float]) -> str:
    return (
        f"p50 {percentile(values, 50):7.1f} ms  p95 {percentile(values, 95):7.1f} ms"
        f"  p99 {percentile(values, 99):7.1f} ms  max {max(values):7.1f} ms"
    )


async def run(stack: Stack, args: argparse.Namespace) -> bool:
    admin = login(stack)
    city = bench_city(stack, admin)
    url = stack.url("plan-registry")
    producer_dsn = stack.service_database_dsn("plan-registry")
    consumer_dsn = stack.service_database_dsn("task-assignment")
    await check_commit_timestamps(producer_dsn)

    async def produce(rate: float, seconds: float, tag: str) -> tuple[Produced, list[asyncpg.Record]]:
        if args.producer == "http":
            produced = await produce_http(
                url, admin.headers, city, rate=rate, seconds=seconds, pool=args.pool, tag=tag
            )
            return produced, await commits_of(producer_dsn, produced.ids)
        produced = await produce_sql(
            producer_dsn, city, rate=rate, seconds=seconds, connections=args.connections, tag=tag
        )
        return produced, await commits_of_sql(producer_dsn, produced)

    print(f"warm-up: {args.rate / 2:.0f}/s for 3 s …", flush=True)
    _, warm_rows = await produce(args.rate / 2, 3, "预热")
    await wait_applied(consumer_dsn, [row["event_id"] for row in warm_rows], APPLY_TIMEOUT)

    rates = [("", args.rate)]
    if args.reference_rate > 0:
        rates.append(("reference ", args.reference_rate))
    ok = True
    for label, rate in rates:
        print(
            f"\nmeasuring{' (' + label.strip() + ')' if label else ''}: {rate:.0f}/s for {args.seconds:.0f} s …",
            flush=True,
        )
        meter = CpuMeter(stack)
        cpu_before = process_cpu(stack, ("plan-registry", "task-assignment"))
        meter.start()
        produced, rows = await produce(rate, args.seconds, f"测量{rate:.0f}")
        meter.stop()
        event_ids = [row["event_id"] for row in rows]
        applied_count = await wait_applied(consumer_dsn, event_ids, APPLY_TIMEOUT)
        cpu_after = process_cpu(stack, ("plan-registry", "task-assignment"))
        # Per event, from the first commit until the last effect (a backlog included): what each
        # step costs, whatever else the machine was doing meanwhile.
        print(
            "CPU per event until all applied: "
            + ", ".join(
                f"{name} {1000 * (cpu_after[name] - cpu_before[name]) / max(applied_count, 1):.2f} ms"
                for name in cpu_before
            )
            + "  (plan-registry: the relay; task-assignment: the consumer)",
            flush=True,
        )
        # Again now that all are applied: the relay's commit times are all there.
        if args.producer == "http":
            rows = await commits_of(producer_dsn, produced.ids)
        else:
            rows = await commits_of_sql(producer_dsn, produced)
        applied = await effects_of(consumer_dsn, event_ids)
        ok = report(label, rate, args, produced, rows, applied, applied_count, meter) and ok
    return ok


def process_cpu(stack: Stack, names: tuple[str, ...]) -> dict[str, float]:
    """User + system CPU seconds each named service process has used so far."""
    cpu = {}
    for name in names:
        times = psutil.Process(stack.aio.processes[name].pid).cpu_times()
        cpu[name] = times.user + times.system
    return cpu


def report(
    label: str,
    rate: float,
    args: argparse.Namespace,
    produced: Produced,
    rows: list[asyncpg.Record],
    applied: dict[str, datetime],
    applied_count: int,
    meter: CpuMeter,
) -> bool:
    latencies: list[float] = []
    relay: list[float] = []
    rest: list[float] = []
    for row in rows:
        effect_at = applied.get(row["event_id"])
        if effect_at is None:
            continue
        latencies.append((effect_at - row["committed_at"]).total_seconds() * 1000)
        if row["relayed_at"] is not None:
            relay.append((row["relayed_at"] - row["committed_at"]).total_seconds() * 1000)
            rest.append((effect_at - row["relayed_at"]).total_seconds() * 1000)

    accepted = len(produced.ids)
    span = produced.last_answer - produced.first_send
    print(
        f"producer ({args.producer}): {accepted} {'created (201)' if args.producer == 'http' else 'committed'}"
        f" of {int(rate * args.seconds)}"
        + (f", refused {produced.refused}" if produced.refused else "")
        + (f", {produced.failed} connection failures" if produced.failed else "")
        + f"; achieved {accepted / span:.1f} events/s over {span:.1f} s"
        f" (asked {rate:.0f}/s); pacing lateness p99 {percentile(produced.lateness_ms, 99):.1f} ms"
    )
    what = "POST response time" if args.producer == "http" else "transaction time  "
    print(f"producer {what}:               {fmt(produced.response_ms)}")
    print(f"CPU while producing (share of one core):   {meter.line()}")
    print(f"applied: {applied_count} of {len(rows)} events within {APPLY_TIMEOUT:.0f} s")
    if not latencies:
        print("RESULT: no event was applied")
        return False
    commits = sorted(row["committed_at"] for row in rows)
    window = (commits[-1] - commits[0]).total_seconds()
    print(f"producer commits: {len(rows) / max(window, 1e-9):.0f}/s over {window:.1f} s")
    print(f"commit → relay's commit after the ack (*): {fmt(relay)}")
    print(f"relay's commit → effect's commit (*):      {fmt(rest)}")
    print(f"commit → effect's commit:                  {fmt(latencies)}  n={len(latencies)}")
    print(
        "  commit times are pg_xact_commit_timestamp() on the one PostgreSQL server holding both"
        " databases.\n  (*) the relay commits its batch after JetStream acknowledged it, while the"
        " consumer may already be applying it: the two parts overlap (the second can be negative)."
    )
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    print(
        f"RESULT {label}event latency @ {accepted / span:.0f}/s (asked {rate:.0f}/s): p50 {p50:.1f} ms"
        f" (target < {P50_TARGET_MS:.0f}: {'meets' if p50 < P50_TARGET_MS else 'MISSES'}),"
        f" p95 {percentile(latencies, 95):.1f} ms,"
        f" p99 {p99:.1f} ms (target < {P99_TARGET_MS:.0f}: {'meets' if p99 < P99_TARGET_MS else 'MISSES'}),"
        f" max {max(latencies):.1f} ms",
        flush=True,
    )
    return applied_count == len(rows) == accepted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="events a second")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--producer",
        choices=("sql", "http"),
        default="sql",
        help="sql: commit events into plan-registry's outbox directly (default); http: POST departments"
        " to plan-registry's API (also measures the API, which on 2 busy cores cannot reach 200/s)",
    )
    parser.add_argument("--connections", type=int, default=8, help="sql producer: database connections")
    parser.add_argument("--pool", type=int, default=64, help="http producer: concurrent requests at most")
    parser.add_argument(
        "--reference-rate",
        type=float,
        default=20.0,
        help="a second, lower rate measured after the first, for comparison (0: none)",
    )
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("event latency: plan-registry commit → task-assignment effect")
    try:
        # Commit times of every transaction, so that commit → effect is read off one clock.
        with bench_stack("events", postgres_settings={"track_commit_timestamp": "on"}) as stack:
            ok = asyncio.run(run(stack, args))
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
