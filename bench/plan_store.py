#!/usr/bin/env python3
"""1,000 plans with their content stored: listing and fetching a plan through the gateway.

Starts the whole system of its own (free ports, temporary directory), loads the regions, and stores
1,000 plan versions straight into plan-registry's tables (what 1,000 imports would leave, without
spending minutes importing): the content of the three seed documents (55–86 KB of JSON each,
parsed once), spread over 山西's cities and counties, 70 % published and 30 % drafts, creation times
spread over a year. Then, sequentially through the gateway, after a warm-up:

1. `GET /api/v1/plans?limit=50` for a provincial account (first page of 1,000) — target p50 < 20 ms;
2. the same for a city account (its city and counties), and with `region_code` + `status` filters;
3. `GET /api/v1/plans/{id}` of random plans (the whole content) — target p50 < 20 ms.

Baseline in the same run: `GET /api/v1/directory/regions/{code}` (one primary-key row through the
same hops), so the ratio shows what listing and content add on top of the round trip. Besides wall
time, each figure gives the CPU the request cost the system (gateway + plan-registry + PostgreSQL):
on a machine busy with other work the wall time is mostly waiting for a core, the CPU is not.

    .venv/bin/python bench/plan_store.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
from common import bench_stack, header, login, percentile, sigterm_as_interrupt
from sqlalchemy import insert, select
from sqlalchemy.engine import make_url

from emplan_shared.db import create_engine
from emplan_tools.stack import Stack
from plan_registry.directory.models import Region
from plan_registry.document import parse_text
from plan_registry.plans import content
from plan_registry.plans.models import Plan, PlanDocument
from plan_registry.plans.names import title_key

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
NAMES = ["000_0c809ad9eba66790.txt", "001_e042361886956950.txt", "002_5040169b34f97ba4.txt"]
PLANS = 1000


async def _store(stack: Stack) -> tuple[list[str], str]:
    url = make_url(stack.service_database_dsn("plan-registry")).set(drivername="postgresql+asyncpg")
    engine = create_engine(url.render_as_string(hide_password=False), pool_size=1)
    rng = random.Random(7)
    try:
        async with engine.begin() as connection:
            regions = (
                await connection.execute(
                    select(Region.code, Region.name, Region.level)
                    .where(Region.code.like("14%"), Region.level.in_(["city", "county"]))
                    .order_by(Region.code)
                )
            ).all()
            documents: list[tuple[uuid.UUID, Any, str]] = []
            for name in NAMES:
                text = (SEEDS / name).read_text(encoding="utf-8")
                parsed = parse_text(text)
                document_id = uuid.uuid4()
                await connection.execute(
                    insert(PlanDocument).values(
                        id=document_id,
                        filename=name,
                        media_type="text/plain",
                        sha256=uuid.uuid4().hex * 2,
                        size_bytes=len(text.encode()),
                        line_count=text.count("\n") + 1,
                        text=text,
                        created_by="bench",
                    )
                )
                documents.append((document_id, parsed, name))
            now = datetime.now(UTC)
            rows: list[dict[str, Any]] = []
            for index in range(PLANS):
                document_id, parsed, _ = documents[index % len(documents)]
                code, region_name, level = regions[rng.randrange(len(regions))]
                title = f"{region_name}“十四五”应急管理体系规划（第{index}号）"
                body = content.from_parsed(parsed)
                published = rng.random() < 0.7
                created = now - timedelta(minutes=rng.randrange(525_600))
                rows.append(
                    {
                        "id": uuid.uuid4(),
                        "lineage_id": uuid.uuid4(),
                        "version": 1,
                        "status": "published" if published else "draft",
                        "revision": 1,
                        "kind": parsed.kind,
                        "title": title,
                        "title_key": title_key(title),
                        "region_code": code,
                        "region_name": region_name,
                        "region_level": level,
                        "period_start": 2021,
                        "period_end": 2025,
                        "issuing_body": parsed.issuing_body,
                        "doc_number": parsed.doc_number,
                        "issued_date": parsed.issued_on,
                        "parent_titles": parsed.parent_plans,
                        "content": body,
                        "warnings": [w.model_dump(mode="json") for w in parsed.warnings],
                        "units": [],
                        "indicator_count": len(body["indicators"]),
                        "task_count": len(body["tasks"]),
                        "warning_count": len(parsed.warnings),
                        "document_id": document_id,
                        "created_by": "bench",
                        "created_at": created,
                        "updated_by": "bench",
                        "updated_at": created,
                        "published_by": "bench" if published else None,
                        "published_at": created if published else None,
                    }
                )
            for start in range(0, len(rows), 100):
                await connection.execute(insert(Plan), rows[start : start + 100])
            await connection.exec_driver_sql("ANALYZE plan")
        return [str(r["id"]) for r in rows], "140900"
    finally:
        await engine.dispose()


def system_cpu_seconds(stack: Stack) -> float:
    """CPU seconds used so far by the gateway, plan-registry and PostgreSQL (with its backends).

    On a machine other work keeps busy, wall-clock latency measures the queue for the cores; the CPU
    a request costs the system does not, and on an idle machine a sequential request's latency is
    close to it (plus the client's own time)."""
    postgres = stack.aio.postgres
    assert postgres is not None
    assert postgres.process is not None
    pids = [stack.aio.processes[name].pid for name in ("gateway", "plan-registry")] + [postgres.process.pid]
    total = 0.0
    for pid in pids:
        if not pid:
            continue
        top = psutil.Process(pid)
        for process in [top, *top.children(recursive=True)]:  # workers, PostgreSQL backends
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
    return total


@dataclass
class Timing:
    wall_ms: list[float]
    cpu_ms: float  # system CPU per request


def _time(
    stack: Stack,
    client: httpx.Client,
    paths: Callable[[], str],
    runs: int,
    params: dict[str, str] | None = None,
) -> Timing:
    for _ in range(10):  # warm-up
        client.get(paths(), params=params).raise_for_status()
    samples: list[float] = []
    cpu_before = system_cpu_seconds(stack)
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(paths(), params=params)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return Timing(samples, (system_cpu_seconds(stack) - cpu_before) * 1000 / runs)


def _line(label: str, timing: Timing, base: Timing, target: bool = True) -> str:
    p50 = percentile(timing.wall_ms, 50)
    verdict = f"; target p50 < 20 ms: {'met' if p50 < 20 else 'MISSED'} on this machine" if target else ""
    return (
        f"RESULT {label:<44} p50 {p50:6.2f} ms  p95 {percentile(timing.wall_ms, 95):6.2f} ms"
        f"  ({p50 / percentile(base.wall_ms, 50):.1f}x the baseline{verdict})"
        f"  system CPU {timing.cpu_ms:5.2f} ms/request ({timing.cpu_ms / base.cpu_ms:.1f}x)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("plan-registry: 1,000 stored plans, list and get through the gateway")
    with bench_stack("plan-store") as stack:
        subprocess.run(
            [sys.executable, "-m", "plan_registry", "load-regions"],
            env=stack.env,
            check=True,
            capture_output=True,
        )
        started = time.monotonic()
        ids, city = asyncio.run(_store(stack))
        print(f"stored {len(ids)} plans in {time.monotonic() - started:.1f} s", flush=True)
        province = login(stack, roles=["bureau_planner"], region="140000")
        city_planner = login(stack, roles=["bureau_planner"], region=city)
        rng = random.Random(11)
        with (
            httpx.Client(base_url=stack.gateway_url, headers=province.headers, timeout=30) as client,
            httpx.Client(base_url=stack.gateway_url, headers=city_planner.headers, timeout=30) as city_client,
        ):
            base = _time(stack, client, lambda: f"/api/v1/directory/regions/{city}", args.runs)
            print(_line("baseline: GET one region", base, base, target=False))
            first_page = {"limit": "50"}
            listing = _time(stack, client, lambda: "/api/v1/plans", args.runs, first_page)
            print(_line("list 50 of 1,000 (province)", listing, base))
            listing = _time(stack, city_client, lambda: "/api/v1/plans", args.runs, first_page)
            print(_line("list 50 (city and its counties)", listing, base))
            filtered = {"limit": "50", "region_code": city, "status": "published"}
            listing = _time(stack, client, lambda: "/api/v1/plans", args.runs, filtered)
            print(_line("list 50, region subtree + status filter", listing, base))
            size = len(client.get(f"/api/v1/plans/{ids[0]}").content)
            fetch = _time(stack, client, lambda: f"/api/v1/plans/{ids[rng.randrange(len(ids))]}", args.runs)
            print(_line(f"get one plan with its content (~{size // 1000} KB)", fetch, base))
    return 0


if __name__ == "__main__":
    sys.exit(main())
