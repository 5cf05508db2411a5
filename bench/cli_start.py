#!/usr/bin/env python3
"""Cold start of the operators' command: `emplan --help`, wall time from spawn to exit.

Runs the installed console script (`.venv/bin/emplan`, what `make install` puts there) `--runs` times
and the bare interpreter (`python -c pass`) as many times, interleaved so both see the same load, and
prints the median and the worst of each and their ratio. Also `emplan data load --help` (a command
two levels down) and the import time of the CLI module alone (`-X importtime`, top five). The
interpreter is the same one; byte-code is what `make install` compiled. Target: `emplan --help`
under 1 s (issue 8).

    .venv/bin/python bench/cli_start.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 1.0


def timed(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def import_profile(python: str) -> list[tuple[int, str]]:
    result = subprocess.run(
        [python, "-X", "importtime", "-c", "import emplan_tools.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = [p.strip() for p in line[len("import time:") :].split("|")]
        if parts[1].isdigit():
            rows.append((int(parts[1]), parts[2]))
    return sorted(rows, reverse=True)[:5]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    python = sys.executable
    emplan = str(Path(python).with_name("emplan"))
    if not os.path.exists(emplan):
        print(f"{emplan} is missing: run `make install`", file=sys.stderr)
        return 1
    load1, load5, load15 = os.getloadavg()
    print("=== emplan cold start ===")
    print(
        f"machine: nproc={os.cpu_count()}  load average {load1:.2f} {load5:.2f} {load15:.2f}  "
        f"CPU busy {psutil.cpu_percent(interval=1.0):.0f}%  python {sys.version.split()[0]}"
    )
    timed([emplan, "--help"])  # page cache warm, as for an operator's second command
    bare: list[float] = []
    top: list[float] = []
    nested: list[float] = []
    for _ in range(args.runs):
        bare.append(timed([python, "-c", "pass"]))
        top.append(timed([emplan, "--help"]))
        nested.append(timed([emplan, "data", "load", "--help"]))

    def line(name: str, samples: list[float]) -> str:
        return f"{name:<28} median {statistics.median(samples) * 1000:7.1f} ms   worst {max(samples) * 1000:7.1f} ms"

    print(f"runs: {args.runs} each, interleaved")
    print(line("python -c pass", bare))
    print(line("emplan --help", top))
    print(line("emplan data load --help", nested))
    ratio = statistics.median(top) / statistics.median(bare)
    print(f"emplan --help / python -c pass (medians): {ratio:.1f}x")
    print("slowest imports of emplan_tools.cli (cumulative µs):")
    for micros, name in import_profile(python):
        print(f"  {micros:>8}  {name}")
    verdict = "met" if statistics.median(top) < TARGET_SECONDS else "MISSED"
    print(f"target: emplan --help under {TARGET_SECONDS:.0f} s (median): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
