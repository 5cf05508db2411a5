#!/usr/bin/env python3
"""Indicator roll-up over the whole country: ~3,200 regions × 20 indicators × 7 years.

Starts a PostgreSQL and a NATS of its own (free ports, temporary directory), migrates
indicator-engine's database and loads, with COPY, approved figures for every county-level region of
the administrative list (2,800+ regions, leaves of the tree) for the data elements of 20 indicator
definitions over 2017–2023; cities, provinces and the country have no figures of their own, so every
value above a county is a roll-up. indicator-engine runs in this process (its app through httpx's
ASGI transport: the service's own cost, without the network or the gateway).

Figures:
1. One indicator and year at province level — `GET /api/v1/indicators/results/breakdown?region=000000`
   (the country and each province, rates from summed numerators and denominators), median and p95 of
   `--runs` calls; target < 200 ms. Baseline in the same run: the same province ratios computed by one
   plain SQL `GROUP BY` in PostgreSQL (the least any implementation must spend reading the figures);
   the ratio API / SQL is printed, and the province values of both are checked to be equal, exactly.
2. Full recomputation — `results.rollup.store_all`: every region's result for every one of the 20
   indicators and 7 years computed in PostgreSQL (element totals summed up the tree level by level,
   rates from the summed totals, one exact division) and stored in `indicator_result` by one
   `INSERT … SELECT`, committed; median of `--repeats`; target < 10 s. Baselines in the same run: one
   SQL `GROUPING SETS` query of the bare sums, and (unless `--no-python-reference`) the Python
   reference `results.service.compute_all` once, every stored result compared with it exactly.

    .venv/bin/python bench/indicator_rollup.py [--runs 20] [--repeats 3] [--no-python-reference]
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
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jwt
from common import header, percentile, sigterm_as_interrupt
from sqlalchemy.engine import make_url

from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.stack import Stack
from indicator_engine.app import create_app
from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.results import regions, rollup
from indicator_engine.results import service as results_service
from indicator_engine.results.sources import elements_of
from indicator_engine.settings import Settings

REPO = Path(__file__).resolve().parents[1]
YEARS = list(range(2017, 2024))
INDICATOR, YEAR = "ps_death_rate_gdp", 2023


def pick_definitions(count: int = 20) -> list[str]:
    """20 definitions: every additive one first (sums and rates roll up), then reported ones."""
    ordered = sorted(
        CATALOGUE.definitions.values(), key=lambda d: (d.regions.kind not in ("sum", "ratio_of_sums"), d.code)
    )
    return [d.code for d in ordered[:count]]


def figure(element: str, rng: random.Random) -> Decimal:
    kind = CATALOGUE.element(element).kind
    if element == "resident_population":
        return Decimal(rng.randint(100_000, 2_000_000))
    if kind == "count":
        return Decimal(rng.randint(0, 60))
    if kind == "amount":
        return Decimal(rng.randint(10_000, 5_000_000)).scaleb(-2)  # e.g. GDP 100.00–50,000.00 亿元
    return Decimal(rng.randint(500, 1000)).scaleb(-1)  # a share 50.0–100.0 %


async def load(url: str, codes: list[str]) -> int:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        await connection.executemany(
            "INSERT INTO data_element (code, name, unit, kind, description, input_units, builtin, version, "
            "created_by) VALUES ($1, $2, $3, $4, $5, '[]', true, 1, 'bench') ON CONFLICT DO NOTHING",
            [(e.code, e.name, e.unit, e.kind, e.description) for e in CATALOGUE.elements.values()],
        )
        elements = sorted({el for code in codes for el in elements_of(CATALOGUE.definition(code))})
        leaves = sorted(regions.administrative_codes() - set(regions.tree(regions.COUNTRY)))
        rng = random.Random(2026)
        records = [
            (element, region, year, 0, figure(element, rng), "approved", 1, "bench", "bench")
            for region in leaves
            for element in elements
            for year in YEARS
        ]
        await connection.copy_records_to_table(
            "data_value",
            records=records,
            columns=[
                "element_code",
                "region_code",
                "year",
                "month",
                "value",
                "state",
                "version",
                "entered_by",
                "updated_by",
            ],
        )
        await connection.execute("ANALYZE data_value")
        print(
            f"loaded {len(records):,} figures: {len(leaves):,} county-level regions × {len(elements)} elements "
            f"× {len(YEARS)} years ({len(regions.administrative_codes()) + 1:,} regions in the tree)",
            flush=True,
        )
        return len(records)
    finally:
        await connection.close()


async def sql_baseline(url: str) -> tuple[float, dict[str, Decimal]]:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    query = (
        "SELECT left(region_code, 2) AS province, "
        "sum(value) FILTER (WHERE element_code = 'ps_deaths') / "
        "sum(value) FILTER (WHERE element_code = 'gdp') AS rate "
        "FROM data_value WHERE element_code IN ('ps_deaths', 'gdp') AND year = $1 AND month = 0 "
        "AND state = 'approved' GROUP BY 1"
    )
    try:
        times = []
        rows = []
        for _ in range(5):
            started = time.perf_counter()
            rows = await connection.fetch(query, YEAR)
            times.append(time.perf_counter() - started)
        return statistics.median(times), {row["province"] + "0000": row["rate"] for row in rows}
    finally:
        await connection.close()


async def sql_full_baseline(url: str) -> float:
    """Sums of every element and year for the country, every province and every city in one SQL
    statement (GROUPING SETS): the bare aggregation, without rates, incompleteness or exact division."""
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    query = (
        "SELECT element_code, year, left(region_code, 2) AS province, left(region_code, 4) AS city, "
        "region_code, sum(value) FROM data_value WHERE month = 0 AND state = 'approved' "
        "GROUP BY GROUPING SETS ((element_code, year), (element_code, year, province), "
        "(element_code, year, city), (element_code, year, region_code))"
    )
    try:
        started = time.perf_counter()
        await connection.fetch(query)
        return time.perf_counter() - started
    finally:
        await connection.close()


async def measure(args: argparse.Namespace, server_url: str, nats_url: str, keys_dir: Path) -> None:
    prefix = f"emplan_bench{uuid.uuid4().hex[:6]}_"
    url = with_database(server_url, prefix + "indicator_engine")
    await asyncio.to_thread(
        migrate, url, REPO / "services/indicator-engine/migrations", lock_name="bench-rollup"
    )
    codes = pick_definitions()
    await load(url, codes)
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
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://indicator-engine", timeout=60
        ) as client:
            params = {"indicator": INDICATOR, "region": "000000", "year": YEAR}
            headers = {"Authorization": f"Bearer {token}"}
            for _ in range(3):  # warm-up: connections, catalogue, region tree
                response = await client.get(
                    "/api/v1/indicators/results/breakdown", params=params, headers=headers
                )
                response.raise_for_status()
            times, cpu_times = [], []
            for _ in range(args.runs):
                started, started_cpu = time.perf_counter(), time.process_time()
                response = await client.get(
                    "/api/v1/indicators/results/breakdown", params=params, headers=headers
                )
                times.append(time.perf_counter() - started)
                cpu_times.append(time.process_time() - started_cpu)
                response.raise_for_status()
            body = response.json()
        sql_seconds, sql_rates = await sql_baseline(url)
        api_rates = {
            child["region_code"]: Decimal(child["value"]) for child in body["children"] if child["value"]
        }
        # SQL's numeric division keeps fewer digits than the service's 34 significant digits: compare
        # at 16 significant digits, enough to tell any wrong sum apart.
        same = all(
            abs(api_rates[code] - rate) <= abs(rate) * Decimal("1e-15") for code, rate in sql_rates.items()
        ) and set(api_rates) == set(sql_rates)
        api_median = statistics.median(times)
        print(
            f"1. {INDICATOR} {YEAR}, the country and its {len(body['children'])} provinces "
            f"(GET /results/breakdown?region=000000): median {api_median * 1000:.1f} ms, "
            f"p95 {percentile(times, 95) * 1000:.1f} ms over {args.runs} calls, CPU of this process median "
            f"{statistics.median(cpu_times) * 1000:.1f} ms "
            f"(target < 200 ms: {'met' if api_median < 0.2 else 'MISSED'})",
            flush=True,
        )
        print(
            f"   baseline, one SQL GROUP BY of the same province ratios: {sql_seconds * 1000:.1f} ms; "
            f"API / SQL = {api_median / sql_seconds:.1f}×; province values equal: {same}; "
            f"country: {body['region']['status']} {body['region']['value']}",
            flush=True,
        )
        repeats = []
        report = None
        for _ in range(args.repeats):
            started = time.perf_counter()
            async with app.state.sessionmaker() as session:
                report = await rollup.store_all(session, years=YEARS, codes=codes)
                await session.commit()
            repeats.append(time.perf_counter() - started)
        assert report is not None
        full = statistics.median(repeats)
        print(
            f"2. full recomputation in PostgreSQL (results.rollup.store_all, stored by one INSERT … SELECT and "
            f"committed): {len(codes)} indicators × {len(YEARS)} years = {report.results:,} results "
            f"({report.ok:,} ok, {report.incomplete:,} incomplete, {report.undefined:,} undefined) in median "
            f"{full:.2f} s of {args.repeats} (min {min(repeats):.2f}, max {max(repeats):.2f} s; target < 10 s: "
            f"{'met' if full < 10 else 'MISSED'})",
            flush=True,
        )
        sql_full = await sql_full_baseline(url)
        print(
            f"   baseline, one SQL GROUPING SETS query summing every element and year for the country, "
            f"provinces, cities and counties: {sql_full:.2f} s; recomputation / SQL = {full / sql_full:.2f}×",
            flush=True,
        )
        if args.python_reference:
            started, started_cpu = time.perf_counter(), time.process_time()
            async with app.state.sessionmaker() as session:
                results = await results_service.compute_all(session, years=YEARS, codes=codes)
            python_seconds = time.perf_counter() - started
            python_cpu = time.process_time() - started_cpu
            same = await compare_with_stored(url, results)
            print(
                f"   the Python reference (results.service.compute_all, the previous full recomputation) in the "
                f"same run: {python_seconds:.2f} s (CPU of this process {python_cpu:.2f} s) → "
                f"{python_seconds / full:.1f}× the SQL one; all {same:,} stored results equal the reference "
                f"exactly (status, value, numerator, denominator, missing count and elements)",
                flush=True,
            )


async def compare_with_stored(url: str, results: dict[tuple[str, int], dict[str, Any]]) -> int:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT definition_code, year, region_code, status, value, numerator, denominator, missing_count, "
            "missing_elements, undefined_reason FROM indicator_result WHERE scope = 'approved'"
        )
    finally:
        await connection.close()
    stored = {(r["definition_code"], r["year"], r["region_code"]): r for r in rows}
    count = 0
    for (code, year), per_region in results.items():
        for region, result in per_region.items():
            row = stored[(code, year, region)]
            expected = (
                result.status,
                result.value,
                result.numerator,
                result.denominator,
                len(result.missing),
                sorted(result.missing_elements),
                result.undefined_reason,
            )
            got = (
                row["status"],
                row["value"],
                row["numerator"],
                row["denominator"],
                row["missing_count"],
                sorted(row["missing_elements"]),
                row["undefined_reason"],
            )
            if got != expected:
                raise AssertionError(f"{code} {year} {region}: stored {got} != reference {expected}")
            count += 1
    if count != len(stored):
        raise AssertionError(f"{len(stored)} stored results, {count} in the reference")
    return count


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--no-python-reference",
        dest="python_reference",
        action="store_false",
        help="skip the Python reference run and the result-by-result comparison with it",
    )
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("indicator roll-up: whole country")
    data_dir = Path(tempfile.mkdtemp(prefix="emplan-bench-rollup-"))
    stack = Stack(data_dir, free_ports=True)
    try:
        infra = stack.start_infra()
        asyncio.run(measure(args, infra.database_url, infra.nats_url, data_dir / "keys"))
    finally:
        stack.stop_all()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
