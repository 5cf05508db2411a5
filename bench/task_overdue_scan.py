#!/usr/bin/env python3
"""The daily overdue scan over 100,000 tasks across 3,000 plans (target: under 5 s).

Starts a PostgreSQL and a NATS of its own (free ports, temporary directory), migrates
task-assignment's database and loads with COPY: 300 regions with 20 departments each, 10 plans per
region (3,000), 100,000 tasks (~33 per plan) with one lead and two co-operating departments each,
statuses spread over the five, deadlines spread over 2022–2030 (every year's last day, plus a
share on each day of the scan week so that each daily run has new work). The scan is the service's
own function (`task_assignment.work.overdue.scan_overdue`) in one transaction, committed, as the
background loop and `POST /api/v1/tasks/overdue-scan` run it.

Figures:
1. the daily scan: the day after the first scan (the tasks whose deadline was the day before are
   new); baseline in the same run: the bare SQL count of overdue tasks (the least any scan reads);
2. the same day again (nothing new: the steady state of hourly re-runs and restarts), median of
   `--runs`;
3. a backlog: the first scan ever, when every open past-deadline task is new (a notice and an outbox
   event each), median of `--repeat`; baseline in the same run: the same notices with each event
   built in Python through the catalogue and written with the shared `enqueue`.
The counts are checked against the generated rows, worked out in Python.

    .venv/bin/python bench/task_overdue_scan.py [--runs 5] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
from common import header, sigterm_as_interrupt
from sqlalchemy import text
from sqlalchemy.engine import make_url

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.outbox import enqueue
from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.stack import Stack
from task_assignment.database import messaging
from task_assignment.work.overdue import scan_overdue

REPO = Path(__file__).resolve().parents[1]
REGIONS, DEPARTMENTS, PLANS_PER_REGION, TASKS = 300, 20, 10, 100_000
STATUSES = ["not_started", "in_progress", "completed", "closed", "returned"]
OPEN = {"not_started", "in_progress", "returned"}
FIRST_DAY = date(2026, 11, 23)  # the first scan's day; the week after it holds daily deadlines


async def load(dsn: str) -> list[tuple[date, str]]:
    """Load the tasks; returns (deadline, status) of each, for the expected counts."""
    connection = await asyncpg.connect(dsn)
    rng = random.Random(2026)
    try:
        regions = [f"{14 + i // 99:02d}{1 + i % 99:02d}00" for i in range(REGIONS)]
        departments = {region: [uuid.uuid4() for _ in range(DEPARTMENTS)] for region in regions}
        await connection.copy_records_to_table(
            "department",
            records=[
                (dept, region, f"部门{i}", [], True, 1)
                for region, ids in departments.items()
                for i, dept in enumerate(ids)
            ],
            columns=["id", "region_code", "name", "aliases", "active", "version"],
        )
        plans = [(uuid.uuid4(), region) for region in regions for _ in range(PLANS_PER_REGION)]
        now = datetime.now(UTC)
        await connection.copy_records_to_table(
            "task_plan",
            records=[
                (p, p, 1, r, f"地区{r}", "implementation_plan", f"实施方案{n}", 2021, 2030, now)
                for n, (p, r) in enumerate(plans)
            ],
            columns=[
                "id",
                "lineage_id",
                "version",
                "region_code",
                "region_name",
                "kind",
                "title",
                "period_start",
                "period_end",
                "published_at",
            ],
        )
        tasks, assignments, facts = [], [], []
        week = [FIRST_DAY + timedelta(days=d) for d in range(7)]
        for index in range(TASKS):
            plan_id, region = plans[index % len(plans)]
            task_id = uuid.uuid4()
            deadline = rng.choice(week) if rng.random() < 0.02 else date(rng.randint(2022, 2030), 12, 31)
            status = rng.choice(STATUSES)
            facts.append((deadline, status))
            tasks.append(
                (
                    task_id,
                    plan_id,
                    region,
                    "plan",
                    "key_task",
                    index,
                    f"({index})",
                    f"重点任务{index}",
                    deadline,
                    status,
                    rng.randint(0, 100),
                    "bench",
                )
            )
            ids = departments[region]
            lead, co1, co2 = rng.sample(ids, 3)
            assignments += [
                (uuid.uuid4(), task_id, lead, "lead", "牵头单位", 0),
                (uuid.uuid4(), task_id, co1, "co", "配合单位", 1),
                (uuid.uuid4(), task_id, co2, "co", "配合单位", 2),
            ]
        await connection.copy_records_to_table(
            "task",
            records=tasks,
            columns=[
                "id",
                "plan_id",
                "region_code",
                "origin",
                "kind",
                "position",
                "code",
                "title",
                "deadline",
                "status",
                "progress_percent",
                "created_by",
            ],
        )
        await connection.copy_records_to_table(
            "assignment",
            records=assignments,
            columns=["id", "task_id", "department_id", "role", "unit_name", "position"],
        )
        await connection.execute("ANALYZE")
        print(
            f"loaded {len(plans):,} plans, {len(tasks):,} tasks, {len(assignments):,} assignments",
            flush=True,
        )
        return facts
    finally:
        await connection.close()


def expected_overdue(facts: list[tuple[date, str]], day: date) -> int:
    return sum(1 for deadline, status in facts if status in OPEN and deadline < day)


async def measure(args: argparse.Namespace, server_url: str) -> None:
    prefix = f"emplan_bench{uuid.uuid4().hex[:6]}_"
    url = with_database(server_url, prefix + "task_assignment")
    await asyncio.to_thread(
        migrate, url, REPO / "services/task-assignment/migrations", lock_name="bench-overdue"
    )
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    facts = await load(dsn)
    engine = create_engine(url, pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    sql = await asyncpg.connect(dsn)

    async def scan(day: date) -> tuple[float, int, int]:
        started = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            result = await scan_overdue(session, day)
        return time.perf_counter() - started, result.overdue, result.notified

    async def bare(day: date) -> float:
        started = time.perf_counter()
        await sql.fetchval(
            "SELECT count(*) FROM task WHERE current AND status = ANY($1) AND deadline < $2",
            sorted(OPEN),
            day,
        )
        return time.perf_counter() - started

    async def reset() -> None:
        await sql.execute("TRUNCATE task_overdue_notice")
        await sql.execute("DELETE FROM outbox_event WHERE subject = 'emplan.task.overdue'")
        await sql.execute("VACUUM ANALYZE task_overdue_notice")
        await sql.execute("VACUUM ANALYZE outbox_event")

    async def python_built(day: date) -> tuple[float, int]:
        """Baseline: the same notices, with each event built in Python through the catalogue and
        written with the shared outbox `enqueue` (as the other producers write theirs)."""
        started = time.perf_counter()
        async with sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    text(
                        "INSERT INTO task_overdue_notice (task_id, deadline, event_id, detected_on) "
                        "SELECT id, deadline, gen_random_uuid()::text, :day FROM task WHERE current "
                        "AND status = ANY(:open) AND deadline < :day RETURNING task_id"
                    ),
                    {"day": day, "open": sorted(OPEN)},
                )
            ).all()
            tasks = (
                await session.execute(
                    text(
                        "SELECT t.id, t.plan_id, t.region_code, t.code, t.title, t.deadline, t.status, "
                        "t.progress_percent, array_agg(a.department_id) FILTER (WHERE a.role = 'lead') AS lead, "
                        "array_agg(a.department_id) FILTER (WHERE a.role = 'co') AS co FROM task t "
                        "JOIN assignment a ON a.task_id = t.id WHERE t.id = ANY(:ids) GROUP BY t.id"
                    ),
                    {"ids": [row[0] for row in rows]},
                )
            ).all()
            for t in tasks:
                event = catalogue.TASK_OVERDUE.build(
                    payloads.TaskOverdue(
                        task_id=t.id,
                        plan_id=t.plan_id,
                        region_code=t.region_code,
                        code=t.code,
                        title=t.title,
                        deadline=t.deadline,
                        status=t.status,
                        progress_percent=t.progress_percent,
                        lead_department_ids=t.lead or [],
                        co_department_ids=t.co or [],
                        detected_on=day,
                    ),
                    subject=f"task/{t.id}",
                    region_code=t.region_code,
                )
                await enqueue(session, messaging.outbox_event, event)
        return time.perf_counter() - started, len(tasks)

    try:
        expected = expected_overdue(facts, FIRST_DAY)
        backlog, naive = [], []
        for _ in range(args.repeat):
            await reset()
            seconds, overdue, notified = await scan(FIRST_DAY)
            assert overdue == notified == expected, (overdue, notified, expected)
            events = await sql.fetchval(
                "SELECT count(*) FROM outbox_event WHERE subject = 'emplan.task.overdue'"
            )
            assert events == notified
            backlog.append(seconds)
            await reset()
            seconds, written = await python_built(FIRST_DAY)
            assert written == expected
            naive.append(seconds)
        await reset()
        await scan(FIRST_DAY)
        await sql.execute("ANALYZE")
        next_day = FIRST_DAY + timedelta(days=1)
        seconds, overdue, notified = await scan(next_day)
        new = expected_overdue(facts, next_day) - expected
        assert notified == new, (notified, new)
        baseline = statistics.median([await bare(next_day) for _ in range(args.runs)])
        print(
            f"1. the daily scan, {next_day}: {seconds * 1000:.0f} ms over {len(facts):,} tasks, {notified} new "
            f"notices and events (target < 5 s: {'met' if seconds < 5 else 'MISSED'}); bare SQL count of "
            f"overdue tasks {baseline * 1000:.1f} ms, scan / SQL = {seconds / baseline:.1f}×",
            flush=True,
        )
        again = []
        for _ in range(args.runs):
            seconds, overdue, notified = await scan(next_day)
            assert notified == 0
            again.append(seconds)
        p50 = statistics.median(again)
        print(
            f"2. the same day again (hourly re-runs, restarts; nothing new): p50 {p50 * 1000:.0f} ms over "
            f"{args.runs} runs; scan / SQL = {p50 / baseline:.1f}×",
            flush=True,
        )
        total = await sql.fetchval("SELECT count(*) FROM task_overdue_notice")
        assert total == expected_overdue(facts, next_day)
        first, python = statistics.median(backlog), statistics.median(naive)
        print(
            f"3. a backlog: the first scan ever, {FIRST_DAY}, {expected:,} overdue tasks at once: median "
            f"{first:.2f} s of {args.repeat} (target < 5 s: {'met' if first < 5 else 'MISSED'}); baseline "
            f"with the events built in Python and enqueued one by one {python:.2f} s, SQL-built / Python = "
            f"{first / python:.2f}",
            flush=True,
        )
    finally:
        await sql.close()
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the backlog scan")
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("daily overdue scan: 100,000 tasks across 3,000 plans")
    data_dir = Path(tempfile.mkdtemp(prefix="emplan-bench-overdue-"))
    stack = Stack(data_dir, free_ports=True)
    try:
        infra = stack.start_infra()
        asyncio.run(measure(args, infra.database_url))
    finally:
        stack.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
