#!/usr/bin/env python3
"""Latency of `GET /metrics` on a running service (target: under 5 ms, issue 8).

Starts a stack of its own (bench/common.py), drives a little traffic through the gateway first so
the request histograms have series to render (every operation of a plan import and a few reads), then
GETs each process's `/metrics` (the gateway's too) with the metrics token one request at a time on one keep-alive connection (what a
Prometheus scrape is) and prints p50/p99/max per service, with the body size and the number of
samples. The outbox and consumer figures are sampled in the background (EMPLAN_METRICS_SAMPLE_SECONDS),
so a scrape renders numbers already in memory; this measures that rendering plus the HTTP round trip.
With `--url` it measures that URL instead and starts nothing (`--token` for the gateway's).

    .venv/bin/python bench/metrics_endpoint.py [--requests 1000] [--url http://127.0.0.1:8103/metrics]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import KeepAliveProbe, bench_stack, header, login, percentile, sigterm_as_interrupt

TARGET_MS = 5.0


def measure(url: str, headers: dict[str, str], requests: int) -> tuple[list[float], int, int]:
    body = httpx.get(url, headers=headers, timeout=10).text
    samples = sum(1 for line in body.splitlines() if line and not line.startswith("#"))
    probe = KeepAliveProbe(url, headers)
    times: list[float] = []
    try:
        for _ in range(50):  # warm-up: connection, first renders
            probe.get()
        for _ in range(requests):
            elapsed = probe.get()
            if elapsed is not None:
                times.append(elapsed * 1000)
    finally:
        probe.close()
    return times, len(body.encode()), samples


def report(name: str, times: list[float], size: int, samples: int) -> bool:
    p50, p99 = percentile(times, 50), percentile(times, 99)
    print(
        f"{name:<18} n={len(times):<5} p50 {p50:6.2f} ms  p99 {p99:6.2f} ms  max {max(times):6.2f} ms  "
        f"body {size / 1024:5.1f} KiB  samples {samples}",
        flush=True,
    )
    return p50 < TARGET_MS


def traffic(gateway: str, token: str) -> None:
    """Some requests of several routes and statuses, so the histograms are not empty."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=gateway, headers=headers, timeout=30) as client:
        for path in (
            "/api/v1/plans",
            "/api/v1/indicators/definitions",
            "/api/v1/tasks/plans/00000000-0000-4000-8000-000000000000/ledger",
            "/api/v1/evaluations/rounds",
            "/api/v1/directory/regions?q=忻州",
            "/api/v1/nowhere",
        ):
            for _ in range(20):
                client.get(path)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--url", help="measure this /metrics URL of a running service instead")
    parser.add_argument("--token", help="bearer token for --url (the metrics token, or an admin's)")
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("GET /metrics")
    if args.url:
        headers = {"Authorization": f"Bearer {args.token}"} if args.token else {}
        met = report(args.url, *measure(args.url, headers, args.requests))
    else:
        # Scraped as Prometheus does: with the deployment's metrics token (which every process of
        # the stack inherits from this environment).
        token = secrets.token_urlsafe(24)
        os.environ["EMPLAN_METRICS_TOKEN"] = token
        headers = {"Authorization": f"Bearer {token}"}
        with bench_stack("metrics", services=None) as stack:
            admin = login(stack)
            traffic(stack.gateway_url, admin.token)
            met = True
            for name in stack.service_names:
                met &= report(name, *measure(f"{stack.url(name)}/metrics", headers, args.requests))
    print(f"target: p50 under {TARGET_MS:g} ms: {'met' if met else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
