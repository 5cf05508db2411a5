#!/usr/bin/env python3
"""Cold start of the standalone system (`make run`) to a ready gateway.

Runs `python -m emplan_tools.standalone run` as a subprocess of this checkout's interpreter, with a
fresh EMPLAN_DATA_DIR (first start: initdb, signing keys, every migration) and then again on the data
it left (second start), each time measuring the wall time from spawning the runner to the gateway's
`/readyz` answering 200 (the gateway is ready only when every service behind it is). Then SIGINT, as
Ctrl-C would, and wait for the runner's clean exit. Ports come from the environment the runner reads
(EMPLAN_PORT, EMPLAN_SERVICE_PORT_BASE, EMPLAN_PG_PORT, EMPLAN_NATS_PORT, EMPLAN_NATS_MONITOR_PORT),
all free ones. Target: under 15 s on 2 cores.

"An installed checkout" is what `make install` leaves: the dependencies byte-compiled (`uv sync
--compile-bytecode`). Before measuring, the script byte-compiles the dependencies and the project's
own sources (`compileall`, which skips what is up to date): a `uv sync` without
`--compile-bytecode`, or PYTHONDONTWRITEBYTECODE=1 in the environment (set on some machines, this
one included), would otherwise leave every process compiling the whole stack from source at each
start. It also reports the CPU time the runner and everything it started used (user + system, from
`getrusage(RUSAGE_CHILDREN)`), which divided by two is the least wall time two idle cores need.

    .venv/bin/python bench/cold_start.py [--runs 2]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import REPO, header, median, sigterm_as_interrupt

from emplan_tools.processes import free_ports

TARGET_SECONDS = 15.0
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 90.0
# Variables that would point the runner at servers of someone else's.
FOREIGN = ("DATABASE_URL", "NATS_URL", "TEST_DATABASE_URL", "TEST_NATS_URL", "EMPLAN_DATA_DIR")


@dataclass
class Run:
    kind: str
    ready_s: float
    banner_s: float | None
    timeline: str
    stop_s: float
    returncode: int
    ports_released: bool
    cpu_s: float

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and self.ports_released


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _service_port_base() -> int:
    """A base whose base+1 … base+4 are all free now."""
    for _ in range(200):
        base = free_ports(1)[0] - 1
        if base + 4 < 65536 and all(_port_free(base + i) for i in range(1, 5)):
            return base
    raise RuntimeError("no free run of four ports for the services")


def _ports() -> dict[str, int]:
    postgres, nats, monitor, gateway = free_ports(4)
    return {
        "EMPLAN_PG_PORT": postgres,
        "EMPLAN_NATS_PORT": nats,
        "EMPLAN_NATS_MONITOR_PORT": monitor,
        "EMPLAN_PORT": gateway,
        "EMPLAN_SERVICE_PORT_BASE": _service_port_base(),
    }


def one_start(kind: str, data_dir: Path, log_path: Path) -> Run:
    ports = _ports()
    env = {key: value for key, value in os.environ.items() if key not in FOREIGN}
    env.update({key: str(value) for key, value in ports.items()})
    env["EMPLAN_DATA_DIR"] = str(data_dir)
    env["PYTHONUNBUFFERED"] = "1"
    ready_url = f"http://127.0.0.1:{ports['EMPLAN_PORT']}/readyz"
    argv = [sys.executable, "-m", "emplan_tools.standalone", "run", "--no-color"]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log_path, "w") as log:
        started = time.monotonic()
        # Its own session: a Ctrl-C in this terminal reaches us, and we pass it on ourselves.
        process = subprocess.Popen(
            argv, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            ready_s = _wait_ready(process, ready_url, started, log_path)
            # The gateway can answer a moment before the runner has seen every service ready; stop it
            # once it has said so, so that SIGINT takes the ordinary Ctrl-C path.
            _wait_banner(process, log_path)
            stop_started = time.monotonic()
            process.send_signal(signal.SIGINT)
            returncode = process.wait(timeout=STOP_TIMEOUT)
            stop_s = time.monotonic() - stop_started
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)  # its own process group (new session)
                    process.wait()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_s = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    output = log_path.read_text(errors="replace")
    banner = re.search(r"emplan is ready in ([\d.]+) s", output)
    timeline = re.search(r"timeline\s+(.*)", output)
    released = all(_port_free(port) for port in ports.values() if port != ports["EMPLAN_SERVICE_PORT_BASE"])
    return Run(
        kind=kind,
        ready_s=ready_s,
        banner_s=float(banner.group(1)) if banner else None,
        timeline=timeline.group(1).strip() if timeline else "?",
        stop_s=stop_s,
        returncode=returncode,
        ports_released=released,
        cpu_s=cpu_s,
    )


def _wait_ready(process: subprocess.Popen[bytes], url: str, started: float, log_path: Path) -> float:
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while True:
            if process.poll() is not None:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
                raise RuntimeError(f"the runner exited with {process.returncode} before ready:\n{tail}")
            try:
                if client.get(url).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > READY_TIMEOUT:
                raise RuntimeError(f"not ready within {READY_TIMEOUT:.0f} s (log: {log_path})")
            time.sleep(0.05)


def _wait_banner(process: subprocess.Popen[bytes], log_path: Path, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        if "emplan is ready in" in log_path.read_text(errors="replace"):
            return
        time.sleep(0.05)


def ensure_bytecode() -> None:
    """Byte-compile the dependencies and the project's sources, as an installed checkout has them."""
    paths = [sysconfig.get_paths()["purelib"], REPO / "shared" / "src", REPO / "tools" / "src"]
    paths += sorted(REPO.glob("services/*/src"))
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *map(str, paths)],
        check=False,  # a file someone is editing may not compile right now: not ours to fail on
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    print(
        f"byte-compiled dependencies and sources (as `make install` leaves them): {time.monotonic() - started:.1f} s",
        flush=True,
    )


def _summary(runs: list[Run], kind: str) -> str:
    values = [run.ready_s for run in runs if run.kind == kind]
    cpu = [run.cpu_s for run in runs if run.kind == kind]
    verdict = "meets" if median(values) < TARGET_SECONDS else "MISSES"
    return (
        f"RESULT {kind:<13} spawn→gateway /readyz 200: median {median(values):5.2f} s  "
        f"min {min(values):5.2f} s  max {max(values):5.2f} s  (n={len(values)}; "
        f"target < {TARGET_SECONDS:.0f} s: {verdict}); CPU used {median(cpu):.1f} s"
        f" (≥ {median(cpu) / 2:.1f} s of wall time on two idle cores)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="first+second start pairs (default 2)")
    parser.add_argument("--keep", action="store_true", help="keep the data directories and logs")
    args = parser.parse_args()
    sigterm_as_interrupt()
    header("cold start: python -m emplan_tools.standalone run → gateway /readyz")
    ensure_bytecode()
    work = Path(tempfile.mkdtemp(prefix="emplan-bench-cold-"))
    runs: list[Run] = []
    try:
        for i in range(1, args.runs + 1):
            data_dir = work / f"data-{i}"
            for kind in ("first start", "second start"):
                run = one_start(kind, data_dir, work / f"run-{i}-{kind.split()[0]}.log")
                runs.append(run)
                print(
                    f"run {i} {kind:<12}: ready {run.ready_s:5.2f} s"
                    f" (runner's banner {run.banner_s if run.banner_s is not None else '?'} s);"
                    f" CPU {run.cpu_s:.1f} s;"
                    f" stop {run.stop_s:4.1f} s, exit {run.returncode}"
                    f"{'' if run.ports_released else ', PORTS STILL HELD'}\n"
                    f"    timeline: {run.timeline}",
                    flush=True,
                )
            if not args.keep:
                shutil.rmtree(data_dir, ignore_errors=True)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        return 130
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(_summary(runs, "first start"))
    print(_summary(runs, "second start"))
    clean = all(run.clean for run in runs)
    print(
        f"clean exit after SIGINT: {'yes' if clean else 'NO'} "
        f"(exit codes {[run.returncode for run in runs]}, stop times "
        f"{', '.join(f'{run.stop_s:.1f}' for run in runs)} s)"
    )
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
