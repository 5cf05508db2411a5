"""Taking a province round's snapshot from the evaluation's read model (issue 6).

The read model of a province: the province's plan and one plan per county (120), 30 indicators each
(3,630 targets, every one judged twice: 7,260 history rows) and 5,000 tasks of the province's plan
spread over the counties (each with two states: 10,000 rows), loaded with COPY into the evaluation's
migrated database on a real PostgreSQL. Measured: `take_snapshot` (the query of the newest row per
target and task within the recorded positions, and building the validated `Snapshot`), median of
three runs, with a baseline in the same run: the same rows loaded whole through the ORM and the
newest picked in Python. The rest of the round (scoring and the HTML report) is
bench/evaluation_report.py.

    .venv/bin/python bench/evaluation_snapshot.py [--counties 120] [--tasks 5000]
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
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
from common import header, sigterm_as_interrupt
from sqlalchemy import select
from sqlalchemy.engine import make_url

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.stack import Stack
from evaluation.plans.models import PlanRecord
from evaluation.readmodel.models import TargetJudgement, TaskStateRecord
from evaluation.readmodel.snapshot import take_snapshot

REPO = Path(__file__).resolve().parents[1]
MIGRATIONS = REPO / "services" / "evaluation" / "migrations"
STATUSES = ["met", "on_track", "lagging", "seriously_lagging"]
TASK_STATUSES = ["not_started", "in_progress", "completed", "closed", "returned"]
STREAM = "EMPLAN_EVENTS"


def regions(counties: int) -> list[tuple[str, str]]:
    per_city = max(1, counties // 12)
    return [("140000", "山西省")] + [
        (f"14{city:02d}{county:02d}", f"第{city}市第{county - 20}县")
        for city in range(1, 13)
        for county in range(21, 21 + per_city)
    ]


async def load(dsn: str, counties: int, tasks: int) -> tuple[uuid.UUID, int]:
    rng = random.Random(2026)
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    sequence = 0
    try:
        plans, judgements, states = [], [], []
        province_plan = uuid.uuid4()
        for code, name in regions(counties):
            plan_id = province_plan if code == "140000" else uuid.uuid4()
            plans.append(
                (
                    plan_id,
                    uuid.uuid4(),
                    1,
                    code,
                    name,
                    f"{name}“十四五”应急管理体系规划",
                    2021,
                    2025,
                    "published",
                    now,
                )
            )
            for indicator in range(1, 31):
                target, item = uuid.uuid4(), uuid.uuid4()
                for version in (1, 2):
                    sequence += 1
                    baseline = Decimal(rng.randint(10, 1000))
                    judgements.append(
                        (
                            f"j{sequence}",
                            STREAM,
                            sequence,
                            target,
                            version,
                            plan_id,
                            item,
                            code,
                            f"i{indicator:02d}",
                            f"指标{indicator:02d}",
                            "binding" if indicator <= 5 else "expected",
                            "人",
                            "decrease_pct",
                            Decimal(15),
                            False,
                            2020,
                            2025,
                            rng.choice(STATUSES),
                            2022,
                            baseline * Decimal("0.9"),
                            baseline,
                            baseline * Decimal("0.94"),
                            baseline * Decimal("0.85"),
                            "indicator-2026.1",
                            now,
                        )
                    )
        codes = [code for code, _ in regions(counties)]
        for number in range(1, tasks + 1):
            task = uuid.uuid4()
            code = codes[number % len(codes)]
            for version in (1, 2):
                sequence += 1
                states.append(
                    (
                        f"t{sequence}",
                        STREAM,
                        sequence,
                        task,
                        version,
                        province_plan,
                        None,
                        code,
                        None,
                        "key_task",
                        f"({number})",
                        f"任务{number}",
                        date(2021 + number % 5, 12, 31),
                        rng.choice(TASK_STATUSES),
                        rng.randint(0, 100),
                        [f"省直部门{number % 40:02d}"],
                        [],
                        number % 3,
                        date(2023, 3, 1),
                        "按计划推进",
                        True,
                        date(2021, 1, 1),
                        None,
                        None,
                        now,
                    )
                )
        await connection.copy_records_to_table(
            "plan",
            records=plans,
            columns=[
                "id",
                "lineage_id",
                "version",
                "region_code",
                "region_name",
                "title",
                "period_start",
                "period_end",
                "status",
                "published_at",
            ],
        )
        await connection.copy_records_to_table(
            "rm_target_judgement",
            records=judgements,
            columns=[
                "event_id",
                "stream",
                "stream_sequence",
                "target_id",
                "judgement_version",
                "plan_id",
                "item_id",
                "region_code",
                "indicator_code",
                "indicator_name",
                "nature",
                "unit",
                "target_type",
                "target_text_value",
                "strict",
                "baseline_year",
                "target_year",
                "status",
                "year",
                "value",
                "baseline",
                "required_value",
                "target_value",
                "rules_version",
                "valid_from",
            ],
        )
        await connection.copy_records_to_table(
            "rm_task_state",
            records=states,
            columns=[
                "event_id",
                "stream",
                "stream_sequence",
                "task_id",
                "version",
                "plan_id",
                "parent_id",
                "region_code",
                "region_name",
                "kind",
                "code",
                "title",
                "deadline",
                "status",
                "progress_percent",
                "lead_departments",
                "co_departments",
                "returned_count",
                "last_reported_on",
                "last_report_summary",
                "current",
                "plan_start",
                "yellow_within_days",
                "behind_tolerance_pct",
                "valid_from",
            ],
        )
        await connection.execute(
            "INSERT INTO rm_stream_position (stream, sequence) VALUES ($1, $2)", STREAM, sequence
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return province_plan, sequence


async def naive(sessionmaker: Any, plan_ids: list[uuid.UUID], plan_id: uuid.UUID) -> int:
    """Baseline: every history row through the ORM, the newest per target and task picked in Python."""
    async with sessionmaker() as session:
        newest: dict[Any, Any] = {}
        rows = (
            await session.execute(select(TargetJudgement).where(TargetJudgement.plan_id.in_(plan_ids)))
        ).scalars()
        for row in rows:
            if row.target_id not in newest or newest[row.target_id].judgement_version < row.judgement_version:
                newest[row.target_id] = row
        tasks: dict[Any, Any] = {}
        for row in (
            await session.execute(select(TaskStateRecord).where(TaskStateRecord.plan_id == plan_id))
        ).scalars():
            if row.task_id not in tasks or tasks[row.task_id].version < row.version:
                tasks[row.task_id] = row
        return len(newest) + len(tasks)


async def measure(url: str, counties: int, tasks: int) -> None:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    started = time.perf_counter()
    plan_id, last = await load(dsn, counties, tasks)
    print(f"loaded the read model in {time.perf_counter() - started:.1f} s (stream up to {last})", flush=True)
    engine = create_engine(url, pool_size=2)
    sessionmaker = create_sessionmaker(engine)
    try:
        async with sessionmaker() as session:
            plan = await session.get(PlanRecord, plan_id)
            assert plan is not None
            plan_ids = list((await session.execute(select(PlanRecord.id))).scalars())
        walls, cpus, baseline = [], [], []
        snapshot = None
        for _ in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            async with sessionmaker() as session:
                snapshot = await take_snapshot(session, plan, date(2023, 6, 30))
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            wall = time.perf_counter()
            await naive(sessionmaker, plan_ids, plan_id)
            baseline.append(time.perf_counter() - wall)
        assert snapshot is not None
        wall, cpu, naive_wall = statistics.median(walls), statistics.median(cpus), statistics.median(baseline)
        print(
            f"take_snapshot: {len(snapshot.targets)} targets, {len(snapshot.tasks)} tasks from "
            f"{2 * len(snapshot.targets)} + {2 * len(snapshot.tasks)} history rows: median wall {wall:.3f} s, "
            f"CPU {cpu:.3f} s; baseline (ORM load of every row, newest picked in Python, no snapshot built) "
            f"{naive_wall:.3f} s",
            flush=True,
        )
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--counties", type=int, default=120)
    parser.add_argument("--tasks", type=int, default=5000)
    args = parser.parse_args()
    sigterm_as_interrupt()
    header(
        f"evaluation snapshot from the read model: {args.counties} counties, 30 indicators, {args.tasks} tasks"
    )
    data_dir = Path(tempfile.mkdtemp(prefix="emplan-bench-snapshot-"))
    stack = Stack(data_dir, free_ports=True)
    try:
        infra = stack.start_infra()
        url = with_database(infra.database_url, f"bench_eval_snapshot_{uuid.uuid4().hex[:8]}")
        migrate(url, MIGRATIONS, lock_name="bench-eval-snapshot")
        asyncio.run(measure(url, args.counties, args.tasks))
    finally:
        stack.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
