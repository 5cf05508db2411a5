#!/usr/bin/env python3
"""What the gateway hop adds: the same authenticated GETs served by plan-registry directly and
through the gateway, in one run on one stack.

Two requests: a region (`GET /api/v1/directory/regions/{code}`, a small body) and a page of the
department list (`GET /api/v1/directory/departments?region_code=…`, 50 departments of 60). For each,
three rounds; each round has

- a latency run: `--requests` (2,000) sequential GETs per path on one keep-alive connection each,
  the two paths interleaved in blocks of 50 so that both see the same background load; raw
  per-request times (p50, p99);
- a throughput run per path (in alternating order): `--connections` (32) keep-alive connections
  for `--seconds` (5 s).

The figures are medians over the rounds of the per-round differences (p50, p99) and ratios
(throughput). Targets: p50 added under 1 ms; gateway throughput at least 60 % of direct.

Throughput load generator: wrk (one thread) when installed (Debian package `wrk`), else a Python
aiohttp client (`--python-loadgen` forces it), which competes for the same two cores and so
compresses the ratio; the output says which. The latency runs always use the blocking client in
`common.KeepAliveProbe`.

    .venv/bin/python bench/gateway_overhead.py [--rounds 3] [--requests 2000] [--seconds 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import sys
import time

import httpx
from common import (
    CpuMeter,
    LoadGenerator,
    LoadResult,
    bench_city,
    bench_stack,
    header,
    interleaved_latency,
    login,
    median,
    percentile,
    sigterm_as_interrupt,
)

from emplan_tools.stack import Stack

DEPARTMENTS = 60
P50_TARGET_MS = 1.0
THROUGHPUT_TARGET = 0.60


def seed(stack: Stack, token_headers: dict[str, str], city: str) -> None:
    with httpx.Client(base_url=stack.url("plan-registry"), headers=token_headers, timeout=30) as client:
        for i in range(DEPARTMENTS):
            response = client.post(
                "/api/v1/directory/departments",
                json={"region_code": city, "name": f"基准部门{i:03d}", "aliases": [f"部门{i:03d}"]},
            )
            if response.status_code not in (201, 409):
                raise RuntimeError(f"seeding departments: {response.status_code} {response.text}")


def check_same(stack: Stack, headers: dict[str, str], path: str) -> int:
    """Both paths answer 200 with the same JSON; the body size."""
    direct = httpx.get(stack.url("plan-registry") + path, headers=headers, timeout=10)
    gateway = httpx.get(f"{stack.gateway_url}{path}", headers=headers, timeout=10)
    if direct.status_code != 200 or gateway.status_code != 200:
        raise RuntimeError(
            f"{path}: direct {direct.status_code}, gateway {gateway.status_code}: {gateway.text}"
        )
    if direct.json() != gateway.json():
        raise RuntimeError(f"{path}: the gateway's answer differs from the service's")
    return len(direct.content)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="sequential GETs per path and round")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--python-loadgen", action="store_true", help="use the Python client even with wrk")
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("gateway overhead: plan-registry directly vs through the gateway")
    load = LoadGenerator(force_python=args.python_loadgen)
    print(f"load generator: {load.description}", flush=True)
    try:
        with bench_stack("gateway") as stack:
            admin = login(stack)
            city = bench_city(stack, admin)
            seed(stack, admin.headers, city)
            paths = {
                "region": f"/api/v1/directory/regions/{city}",
                "department page": f"/api/v1/directory/departments?region_code={city}",
            }
            for name, path in paths.items():
                print(f"{name}: GET {path}  ({check_same(stack, admin.headers, path)} bytes)", flush=True)
            bases = {"direct": stack.url("plan-registry"), "gateway": stack.gateway_url or ""}
            verdicts = [
                measure(stack, load, admin.headers, name, path, bases, args) for name, path in paths.items()
            ]
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    finally:
        load.close()
    return 0 if all(verdicts) else 1


def measure(
    stack: Stack,
    load: LoadGenerator,
    headers: dict[str, str],
    name: str,
    path: str,
    bases: dict[str, str],
    args: argparse.Namespace,
) -> bool:
    print(f"\n--- {name} ---", flush=True)
    urls = {target: base + path for target, base in bases.items()}
    # Warm-up: connections, pools, the token caches, PostgreSQL's buffers.
    for url in urls.values():
        load.run(url, headers, args.connections, 2)
    print("warm-up done", flush=True)

    p50: dict[str, list[float]] = {target: [] for target in urls}
    p99: dict[str, list[float]] = {target: [] for target in urls}
    concurrent: dict[str, list[LoadResult]] = {target: [] for target in urls}
    cpu: dict[str, list[str]] = {target: [] for target in urls}
    errors = 0
    for round_number in range(args.rounds):
        latencies, latency_errors = interleaved_latency(urls, headers, args.requests)
        errors += latency_errors
        for target in urls:
            p50[target].append(percentile(latencies[target], 50))
            p99[target].append(percentile(latencies[target], 99))
        order = list(urls) if round_number % 2 == 0 else list(reversed(urls))
        for target in order:
            meter = CpuMeter(stack)
            meter.start()
            concurrent[target].append(load.run(urls[target], headers, args.connections, args.seconds))
            meter.stop()
            cpu[target].append(meter.line())
            errors += concurrent[target][-1].errors
        line = [
            f"{target}: p50 {p50[target][-1]:.2f} ms p99 {p99[target][-1]:.2f} ms"
            f" (n={len(latencies[target])}), {concurrent[target][-1].rps:.0f} req/s @{args.connections}"
            for target in urls
        ]
        print(
            f"round {round_number + 1}: " + " | ".join(line) + (f"  ERRORS {errors}" if errors else ""),
            flush=True,
        )
        for target in order:
            print(
                f"    CPU during {target} throughput run (share of one core): {cpu[target][-1]}", flush=True
            )

    added_p50 = [g - d for g, d in zip(p50["gateway"], p50["direct"], strict=True)]
    added_p99 = [g - d for g, d in zip(p99["gateway"], p99["direct"], strict=True)]
    ratio = [g.rps / d.rps for g, d in zip(concurrent["gateway"], concurrent["direct"], strict=True)]
    print(
        f"{name} medians of {args.rounds} rounds:"
        f" direct p50 {median(p50['direct']):.2f} ms, p99 {median(p99['direct']):.2f} ms,"
        f" {median([r.rps for r in concurrent['direct']]):.0f} req/s;"
        f" gateway p50 {median(p50['gateway']):.2f} ms, p99 {median(p99['gateway']):.2f} ms,"
        f" {median([r.rps for r in concurrent['gateway']]):.0f} req/s"
    )
    p50_ok = median(added_p50) < P50_TARGET_MS
    ratio_ok = median(ratio) >= THROUGHPUT_TARGET
    print(
        f"RESULT {name}: added p50 {median(added_p50):+.2f} ms"
        f" (target < {P50_TARGET_MS:.0f} ms: {'meets' if p50_ok else 'MISSES'}),"
        f" added p99 {median(added_p99):+.2f} ms,"
        f" throughput gateway/direct {median(ratio):.2f}"
        f" (target >= {THROUGHPUT_TARGET:.2f}: {'meets' if ratio_ok else 'MISSES'})"
        f"  [per round: p50 {', '.join(f'{x:+.2f}' for x in added_p50)};"
        f" ratio {', '.join(f'{x:.2f}' for x in ratio)}]"
        + (f"  non-200/socket errors: {errors}" if errors else ""),
        flush=True,
    )
    return errors == 0


if __name__ == "__main__":
    started = time.monotonic()
    code = main()
    print(f"(gateway_overhead took {time.monotonic() - started:.0f} s)")
    sys.exit(code)
