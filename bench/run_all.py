#!/usr/bin/env python3
"""Every benchmark, one after the other (`make bench`), each in a process of its own with a stack of
its own; their output as they go, then the RESULT lines of all of them together.

    .venv/bin/python bench/run_all.py [--only cold_start,zero_loss]

Ctrl-C stops the running benchmark (it stops what it started) and skips the rest.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("cold_start", "gateway_overhead", "event_latency", "zero_loss")
SUMMARY_MARKERS = ("RESULT", "first start ", "second start ", "clean exit", "load generator:")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    chosen = [name.strip() for name in args.only.split(",")] if args.only else list(BENCHMARKS)
    unknown = [name for name in chosen if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")

    current: subprocess.Popen[str] | None = None

    def on_sigterm(signum: int, frame: object) -> None:
        if current is not None and current.poll() is None:
            current.send_signal(signal.SIGTERM)  # it stops its own stack, then exits
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    load1, load5, load15 = os.getloadavg()
    print(f"nproc={os.cpu_count()}  load average at start {load1:.2f} {load5:.2f} {load15:.2f}", flush=True)
    summary: list[str] = []
    codes: dict[str, int] = {}
    started = time.monotonic()
    try:
        for name in chosen:
            t0 = time.monotonic()
            # Same process group: a Ctrl-C in the terminal reaches the benchmark too, which cleans up.
            current = subprocess.Popen(
                [sys.executable, str(HERE / f"{name}.py")],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
            )
            assert current.stdout is not None
            lines: list[str] = []
            for line in current.stdout:
                sys.stdout.write(line)
                sys.stdout.flush()
                if line.lstrip().startswith(SUMMARY_MARKERS):
                    lines.append(line.rstrip())
            codes[name] = current.wait()
            current = None
            summary.append(f"[{name}] exit {codes[name]}, {time.monotonic() - t0:.0f} s")
            summary += [f"    {line.strip()}" for line in lines]
    except KeyboardInterrupt:
        if current is not None:
            try:
                current.wait(timeout=120)
            except (subprocess.TimeoutExpired, KeyboardInterrupt):
                current.kill()
                current.wait()
        print("\ninterrupted: the remaining benchmarks were skipped", flush=True)
        return 130

    print(f"\n=== summary ({time.monotonic() - started:.0f} s) ===")
    print("\n".join(summary))
    failed = [name for name, code in codes.items() if code != 0]
    if failed:
        print(f"benchmarks that exited non-zero (a failed check, not a missed target): {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
