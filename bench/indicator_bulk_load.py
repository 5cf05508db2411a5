#!/usr/bin/env python3
"""indicator-engine bulk load: data values per second through the API, against a plain COPY.

Starts a PostgreSQL, a NATS and indicator-engine of its own (free ports, temporary directory; the
service as shipped, one uvicorn worker, started by the stack tooling), writes a CSV of `--rows` data
values (default 1,000,000: every region of the administrative list × 26 data elements × 12 years,
counts as integers, amounts with two decimals, shares with one, accidents ≥ 1 so no row breaks the
deaths rule) and measures:

1. API: `POST /api/v1/indicators/values/upload` with that CSV (multipart, all or nothing), straight to
   the service (the gateway's 20 MB body limit is below a million-row file), wall time from the first
   byte sent to the report received: rows/s. Every row is checked (element, region list,
   jurisdiction, year, number rules), staged with COPY, checked across rows in SQL (duplicates,
   approved values, deaths without accidents), and upserted with the jump flag and history.
2. Baseline on the same server in the same run: `COPY … FROM STDIN (FORMAT csv)` of the same file into
   a table shaped like `data_value` (same columns, unique key and indexes): rows/s. The ratio
   API / COPY is printed.
3. Peak RSS of the service process during the load (psutil, sampled every 20 ms), target < 500 MB.

    .venv/bin/python bench/indicator_bulk_load.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path

import asyncpg
import httpx
import jwt
import psutil
from common import bench_stack, header, sigterm_as_interrupt
from sqlalchemy.engine import make_url

from indicator_engine.data.regions import parents
from indicator_engine.domain.catalogue import CATALOGUE

YEARS = list(range(2012, 2024))


def elements() -> list[str]:
    codes = sorted(CATALOGUE.elements)
    return codes[:26]


def write_csv(path: Path, rows: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    regions = sorted(parents())
    codes = elements()
    written = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("element_code,region_code,year,value\n")
        for code in codes:
            kind = CATALOGUE.element(code).kind
            for region in regions:
                for year in YEARS:
                    if written == rows:
                        return written
                    if code == "ps_accidents":
                        value = str(rng.randint(1, 400))
                    elif kind == "count":
                        value = str(rng.randint(0, 300))
                    elif kind == "amount":
                        value = f"{rng.randint(100, 9_999_999) / 100:.2f}"
                    else:
                        value = f"{rng.randint(500, 1000) / 10:.1f}"
                    out.write(f"{code},{region},{year},{value}\n")
                    written += 1
    return written


class RssSampler:
    """Peak resident memory of a process and its children while running."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def current(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            time.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def token(private_key_file: Path) -> str:
    now = int(time.time())
    claims = {
        "iss": "emplan",
        "aud": "emplan",
        "sub": "bench-bulk",
        "iat": now,
        "exp": now + 3600,
        "roles": ["machine_client"],
        "region": "000000",
    }
    return jwt.encode(claims, private_key_file.read_text(), algorithm="EdDSA")


async def copy_baseline(dsn: str, csv_path: Path) -> tuple[float, int]:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "DROP TABLE IF EXISTS bench_copy_baseline; "
            "CREATE TABLE bench_copy_baseline (LIKE data_value INCLUDING DEFAULTS INCLUDING IDENTITY "
            "INCLUDING INDEXES INCLUDING CONSTRAINTS); "
            "ALTER TABLE bench_copy_baseline ALTER entered_by SET DEFAULT 'bench', "
            "ALTER updated_by SET DEFAULT 'bench', ALTER state SET DEFAULT 'draft', "
            "ALTER version SET DEFAULT 1, ALTER month SET DEFAULT 0"
        )
        started = time.perf_counter()
        async with connection.transaction():
            await connection.copy_to_table(
                "bench_copy_baseline",
                source=str(csv_path),
                columns=["element_code", "region_code", "year", "value"],
                format="csv",
                header=True,
            )
        elapsed = time.perf_counter() - started
        count = await connection.fetchval("SELECT count(*) FROM bench_copy_baseline")
        await connection.execute("DROP TABLE bench_copy_baseline")
        return elapsed, int(count)
    finally:
        await connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("indicator-engine bulk load")
    workdir = Path(tempfile.mkdtemp(prefix="emplan-bench-bulk-"))
    try:
        csv_path = workdir / "values.csv"
        rows = write_csv(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"CSV: {rows:,} rows, {size_mb:.1f} MB", flush=True)
        with bench_stack("indicator-bulk", services=["indicator-engine"]) as stack:
            url = stack.url("indicator-engine")
            headers = {"Authorization": f"Bearer {token(stack.jwt_private_key_file)}"}
            process = stack.aio.processes["indicator-engine"]
            assert process.pid is not None
            sampler = RssSampler(process.pid)
            idle_rss = sampler.current()
            with sampler, csv_path.open("rb") as upload:
                started = time.perf_counter()
                response = httpx.post(
                    f"{url}/api/v1/indicators/values/upload",
                    files={"file": ("values.csv", upload, "text/csv")},
                    headers=headers,
                    timeout=1800,
                )
                api_seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise SystemExit(f"upload failed: {response.status_code} {response.text[:2000]}")
            report = response.json()
            stored = report["rows_inserted"] + report["rows_updated"]
            dsn = (
                make_url(stack.service_database_dsn("indicator-engine"))
                .set(drivername="postgresql")
                .render_as_string(hide_password=False)
            )
            copy_seconds, copied = asyncio.run(copy_baseline(dsn, csv_path))
            log = (stack.logs_dir / "indicator-engine.log").read_text()
            phases = [line for line in log.splitlines() if "bulk load:" in line]
        api_rate = rows / api_seconds
        copy_rate = copied / copy_seconds
        print(
            f"RESULT API upload (CSV, all or nothing): {rows:,} rows in {api_seconds:.2f} s = {api_rate:,.0f} values/s"
            f"  (inserted {report['rows_inserted']:,}, flagged {report['rows_flagged']:,},"
            f" rejected {report['rows_rejected']:,}; stored {stored:,})"
        )
        print(
            f"RESULT plain COPY of the same file: {copied:,} rows in {copy_seconds:.2f} s = {copy_rate:,.0f} rows/s"
        )
        print(
            f"RESULT ratio API / COPY: {api_rate / copy_rate:.2f}  (COPY is {copy_rate / api_rate:.1f}× faster)"
        )
        print(
            f"RESULT service RSS: idle {idle_rss / 1e6:.0f} MB, peak during the load {sampler.peak / 1e6:.0f} MB"
            f" (target < 500 MB)"
        )
        for line in phases[-1:]:
            print("service log:", line[line.index("bulk load:") :][:200])
        print(f"RESULT target ≥ 50,000 values/s: {'met' if api_rate >= 50_000 else 'NOT met'}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
