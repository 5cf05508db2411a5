#!/usr/bin/env python3
"""Plan document import through the gateway: a 64 KB plan, parsed, resolved and (optionally) saved.

Starts the whole system of its own (free ports, temporary directory), loads the regions and seeds
the departments of the documents' cities the way operators do, and times `POST /api/v1/plans/imports`
with the real 64 KB documents of `../shared/seeds` (安阳 64,377 bytes, 运城 63,879 bytes) uploaded
as files:

1. `dry_run=true`: decode, parse, region and unit resolution, the response — target p50 < 300 ms;
2. `dry_run=false`: the same plus saving the draft and its document in one transaction.

Baseline in the same run: the parser alone in this process (`decode_upload` + `parse_text`), so the
ratio shows what the HTTP hops, the directory queries and the response cost on top of the parsing;
and the CPU an import costs the system (gateway + plan-registry + PostgreSQL), which a machine busy
with other work does not inflate the way it inflates wall time.

    .venv/bin/python bench/plan_import.py [--runs 30]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import httpx
from common import bench_stack, header, login, percentile, sigterm_as_interrupt
from plan_store import system_cpu_seconds

from plan_registry.document import decode_upload, parse_text

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
DOCUMENTS = {
    "安阳 (64,377 B)": ("002_5040169b34f97ba4.txt", "410500"),
    "运城 (63,879 B)": ("000_0c809ad9eba66790.txt", "140800"),
}


def _ms(samples: list[float]) -> str:
    return f"p50 {percentile(samples, 50):7.1f} ms  p95 {percentile(samples, 95):7.1f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("plan-registry: import of a 64 KB plan document through the gateway")
    documents = {label: ((SEEDS / name).read_bytes(), code) for label, (name, code) in DOCUMENTS.items()}
    with bench_stack("plan-import") as stack:
        for command in (
            ["load-regions"],
            *(["seed-departments", "--region", c] for _, c in documents.values()),
        ):
            subprocess.run(
                [sys.executable, "-m", "plan_registry", *command],
                env=stack.env,
                check=True,
                capture_output=True,
            )
        planner = login(stack, roles=["bureau_planner"], region="000000")
        with httpx.Client(base_url=stack.gateway_url, headers=planner.headers, timeout=60) as client:
            for label, (data, _code) in documents.items():
                parse = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    parse_text(decode_upload(data))
                    parse.append((time.perf_counter() - started) * 1000)
                timings: dict[bool, list[float]] = {True: [], False: []}
                cpu: dict[bool, float] = {}
                for dry_run in (True, False):
                    for run in range(args.runs + 3):
                        if run == 3:
                            cpu_before = system_cpu_seconds(stack)
                        started = time.perf_counter()
                        response = client.post(
                            "/api/v1/plans/imports",
                            params={"dry_run": str(dry_run).lower()},
                            files={"file": ("plan.txt", data, "text/plain")},
                        )
                        elapsed = (time.perf_counter() - started) * 1000
                        assert response.status_code == (200 if dry_run else 201), response.text
                        if run >= 3:  # warm-up: first requests open connections and fill caches
                            timings[dry_run].append(elapsed)
                    cpu[dry_run] = (system_cpu_seconds(stack) - cpu_before) * 1000 / args.runs
                body = response.json()
                base = percentile(parse, 50)
                print(
                    f"{label}: {len(body['indicators'])} indicators, {len(body['tasks'])} tasks, "
                    f"{len(body['warnings'])} warnings",
                    flush=True,
                )
                print(f"  parser alone, in process      {_ms(parse)}")
                for dry_run, label_run in ((True, "dry run  "), (False, "saved    ")):
                    p50 = percentile(timings[dry_run], 50)
                    print(
                        f"RESULT plan import {label} {label_run} through the gateway {_ms(timings[dry_run])}"
                        f"  ({p50 / base:.1f}x the parser alone; target p50 < 300 ms: "
                        f"{'met' if p50 < 300 else 'MISSED'} on this machine)  system CPU {cpu[dry_run]:.0f} ms/import",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
