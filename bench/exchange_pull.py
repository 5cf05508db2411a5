#!/usr/bin/env python3
"""Exchange pull: 1,000,000 data values streamed as NDJSON through the gateway.

Starts a system of its own (PostgreSQL, NATS, the five services as shipped, one uvicorn worker each;
free ports, temporary directory), loads `--rows` data values (default 1,000,000: every region of the
administrative list × 26 data elements × 12 years) straight into indicator-engine's database with one
`INSERT … SELECT` (the load is not what is measured; triggers are off for it), registers a machine
client for the whole country through the API, and measures:

1. `GET /api/v1/exchange/data-values` with `Accept: application/x-ndjson` through the gateway, the
   full snapshot (no cursor), read to the end: rows/s from the request sent to the last line, and the
   time to the first line. Every line is counted; the final line's `count` must equal the rows loaded.
   Then the same pull straight from indicator-engine, for the gateway's share.
2. Peak RSS of the gateway and of indicator-engine during the pull (psutil, every 20 ms), against their
   RSS before it: target < 300 MB each, and flat (it must not grow with the rows).
3. CPU per process during the pull, in cores busy (who was busy).

    .venv/bin/python bench/exchange_pull.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import time
import uuid
from typing import Any

import asyncpg
import httpx
import orjson
from common import CpuMeter, bench_stack, header, login, sigterm_as_interrupt
from indicator_bulk_load import RssSampler, elements
from sqlalchemy.engine import make_url

from indicator_engine.data.regions import parents

YEARS = list(range(2012, 2024))
PULL = "/api/v1/exchange/data-values"


async def load(dsn: str, rows: int) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute("SET session_replication_role = replica")  # no audit triggers for the load
        await connection.execute(
            """
            INSERT INTO data_value (element_code, region_code, year, month, value, source, state, version,
                                    entered_by, updated_by)
            SELECT e, r, y, 0, round((random() * 30000)::numeric / 100, 2), '统计年报', 'draft', 1,
                   'bench', 'bench'
              FROM unnest($1::text[]) AS e CROSS JOIN unnest($2::text[]) AS r
                   CROSS JOIN generate_series($3::int, $4::int) AS y
             LIMIT $5
            """,
            elements(),
            sorted(parents()),
            YEARS[0],
            YEARS[-1],
            rows,
        )
        await connection.execute("ANALYZE data_value")
        return int(await connection.fetchval("SELECT count(*) FROM data_value"))
    finally:
        await connection.close()


def machine_client(base: str, admin_headers: dict[str, str]) -> dict[str, str]:
    client_id = f"bench-{uuid.uuid4().hex[:8]}"
    created = httpx.post(
        f"{base}/api/v1/auth/clients",
        json={"client_id": client_id, "name": "基准测试省级平台", "region_code": "000000"},
        headers=admin_headers,
        timeout=30,
    )
    created.raise_for_status()
    basic = base64.b64encode(f"{client_id}:{created.json()['client_secret']}".encode()).decode()
    issued = httpx.post(
        f"{base}/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
        timeout=30,
    )
    issued.raise_for_status()
    return {"Authorization": f"Bearer {issued.json()['access_token']}", "Accept": "application/x-ndjson"}


def pull(base: str, headers: dict[str, str]) -> tuple[int, float, float, dict[str, Any], int]:
    """(lines, seconds to the first line, seconds in all, the final line, bytes)."""
    lines = 0
    received = 0
    first = 0.0
    tail = b""
    started = time.perf_counter()
    with httpx.stream("GET", f"{base}{PULL}", headers=headers, timeout=600) as response:
        if response.status_code != 200:
            raise SystemExit(f"pull failed: {response.status_code} {response.read()[:500]!r}")
        for chunk in response.iter_raw():
            if not first:
                first = time.perf_counter() - started
            received += len(chunk)
            lines += chunk.count(b"\n")
            tail = (tail + chunk)[-4096:]
    elapsed = time.perf_counter() - started
    final = orjson.loads(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1])
    return lines, first, elapsed, final, received


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("exchange pull (NDJSON through the gateway)")
    with bench_stack("exchange-pull") as stack:
        dsn = (
            make_url(stack.service_database_dsn("indicator-engine"))
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        started = time.perf_counter()
        loaded = asyncio.run(load(dsn, args.rows))
        print(f"loaded {loaded:,} data values in {time.perf_counter() - started:.1f} s", flush=True)
        base = stack.gateway_url
        assert base is not None
        headers = machine_client(base, login(stack).headers)
        gateway = stack.aio.processes["gateway"].pid
        service = stack.aio.processes["indicator-engine"].pid
        assert gateway is not None
        assert service is not None
        gateway_rss, service_rss = RssSampler(gateway), RssSampler(service)
        idle = (gateway_rss.current(), service_rss.current())
        meter = CpuMeter(stack)
        meter.start()
        with gateway_rss, service_rss:
            lines, first, elapsed, final, received = pull(base, headers)
        meter.stop()
        # The same pull straight from the service, to see what the gateway's hop costs.
        direct = pull(stack.url("indicator-engine"), headers)
    rows = lines - 1
    print(
        f"RESULT pull: {rows:,} rows ({received / 1e6:.0f} MB NDJSON) in {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s;"
        f" first bytes after {first:.2f} s; final line count {final.get('count')}"
    )
    assert rows == loaded == final.get("count"), (rows, loaded, final)
    print(
        f"RESULT the same pull straight from indicator-engine (no gateway): {direct[0] - 1:,} rows in"
        f" {direct[2]:.2f} s = {(direct[0] - 1) / direct[2]:,.0f} rows/s; first bytes after {direct[1]:.2f} s"
    )
    print(
        f"RESULT RSS gateway: {idle[0] / 1e6:.0f} MB before, peak {gateway_rss.peak / 1e6:.0f} MB;"
        f" indicator-engine: {idle[1] / 1e6:.0f} MB before, peak {service_rss.peak / 1e6:.0f} MB (target < 300 MB)"
    )
    print(f"RESULT CPU during the pull (cores busy): {meter.line()}")
    print(f"RESULT target ≥ 30,000 rows/s: {'met' if rows / elapsed >= 30_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
