"""What the benchmarks share: a stack of their own, an account and a token, load generation
(wrk or a Python fallback), percentiles, and per-process CPU accounting.

Not a benchmark itself; `bench/run_all.py` does not run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

from emplan_tools.stack import Stack

REPO = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------------
# Signals and the machine


def sigterm_as_interrupt() -> None:
    """SIGTERM unwinds like Ctrl-C, so `finally` blocks stop what the script started."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def machine_line() -> str:
    load1, load5, load15 = os.getloadavg()
    busy = psutil.cpu_percent(interval=1.0)  # the whole machine, before we start anything
    return (
        f"machine: nproc={os.cpu_count()}  load average at start {load1:.2f} {load5:.2f} {load15:.2f}"
        f"  CPU busy {busy:.0f}% in the second before  python {sys.version.split()[0]}"
    )


def header(title: str) -> None:
    print(f"\n=== {title} ===", flush=True)
    print(machine_line(), flush=True)


# ---------------------------------------------------------------------------------------------------
# Numbers


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks, q in [0, 100]."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------------
# The system under test


@contextlib.contextmanager
def bench_stack(
    name: str,
    services: Sequence[str] | None = None,
    *,
    postgres_settings: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """A stack of our own on free ports in a fresh temporary directory; stopped and removed after,
    also on Ctrl-C. External servers (TEST_DATABASE_URL, DATABASE_URL, …) are never used.
    `postgres_settings` are added to the shipped PostgreSQL settings (for measuring only)."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"emplan-bench-{name}-"))
    # Default settings (INFO access log and all): the figures are those of the system as shipped.
    stack = Stack(data_dir, free_ports=True, services=services)
    if postgres_settings:
        assert stack.aio.postgres is not None  # our own server, never an external one
        stack.aio.postgres.settings.update(postgres_settings)
    started = time.monotonic()
    try:
        print(f"starting the stack in {data_dir} …", flush=True)
        stack.start_all()
        print(f"stack ready in {time.monotonic() - started:.1f} s", flush=True)
        yield stack
    finally:
        print("stopping the stack …", flush=True)
        try:
            stack.close()
        except BaseException as exc:  # a second Ctrl-C, or a stop error: still clean up what we can
            print(f"stopping left: {exc!r}; killing", flush=True)
            with contextlib.suppress(BaseException):
                stack.kill_all()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class Login:
    username: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def login(stack: Stack, *, roles: Sequence[str] = ("system_admin",), region: str = "000000") -> Login:
    """An account made with the gateway's own command, and an access token from the gateway."""
    username = f"bench-{uuid.uuid4().hex[:10]}"
    password = f"Pw-{uuid.uuid4().hex}"
    argv = [sys.executable, "-m", "gateway", "create-user", "--username", username, "--region", region]
    argv += ["--password-stdin"]
    for role in roles:
        argv += ["--role", role]
    subprocess.run(argv, input=password + "\n", text=True, env=stack.env, check=True, capture_output=True)
    response = httpx.post(
        f"{stack.gateway_url}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
        timeout=30,
    )
    response.raise_for_status()
    return Login(username, response.json()["access_token"])


def create_region(stack: Stack, auth: Login, code: str, name: str, level: str, parent: str | None) -> None:
    body = {"code": code, "name": name, "level": level}
    if parent is not None:
        body["parent_code"] = parent
    response = httpx.post(
        f"{stack.gateway_url}/api/v1/directory/regions", json=body, headers=auth.headers, timeout=30
    )
    if response.status_code not in (201, 409):
        raise RuntimeError(f"creating region {code}: {response.status_code} {response.text}")


def bench_city(stack: Stack, auth: Login) -> str:
    """A province and a city of the benchmark's own (GB/T 2260 shaped codes)."""
    create_region(stack, auth, "990000", "基准测试省", "province", None)
    create_region(stack, auth, "990100", "基准测试市", "city", "990000")
    return "990100"


# ---------------------------------------------------------------------------------------------------
# CPU accounting: which process was busy


class CpuMeter:
    """CPU seconds per stack process (PostgreSQL with its backends) between `start()` and `stop()`."""

    def __init__(self, stack: Stack, extra: dict[str, int] | None = None) -> None:
        self.pids: dict[str, int] = {}
        aio = stack.aio
        if aio.postgres is not None and aio.postgres.process is not None and aio.postgres.process.pid:
            self.pids["postgres (all backends)"] = aio.postgres.process.pid
        if aio.nats is not None and aio.nats.process is not None and aio.nats.process.pid:
            self.pids["nats-server"] = aio.nats.process.pid
        for name, process in aio.processes.items():
            if process.pid:
                self.pids[name] = process.pid
        # This script's own time plus that of its children that ended meanwhile (wrk).
        self.pids["load generator"] = os.getpid()
        self.pids.update(extra or {})
        self._before: dict[str, float] = {}
        self._t0 = 0.0
        self.result: dict[str, float] = {}

    @staticmethod
    def _cpu(pid: int, *, with_children: bool) -> float:
        try:
            process = psutil.Process(pid)
            times = process.cpu_times()
            total = times.user + times.system
            if pid == os.getpid():
                total += times.children_user + times.children_system
            if with_children:
                for child in process.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child_times = child.cpu_times()
                        total += child_times.user + child_times.system
            return total
        except psutil.Error:
            return 0.0

    def _sample(self) -> dict[str, float]:
        return {
            name: self._cpu(pid, with_children=name.startswith("postgres")) for name, pid in self.pids.items()
        }

    @staticmethod
    def _machine() -> tuple[float, float]:
        """(busy, steal) CPU seconds of the whole machine so far."""
        times = psutil.cpu_times()
        busy = sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq"))
        return busy, getattr(times, "steal", 0.0)

    def start(self) -> None:
        self._before = self._sample()
        self._machine_before = self._machine()
        self._t0 = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Share of one core each process used meanwhile (1.0 = one core busy all the time)."""
        after = self._sample()
        busy, steal = self._machine()
        wall = max(time.monotonic() - self._t0, 1e-9)
        self.result = {name: (after[name] - self._before.get(name, 0.0)) / wall for name in after}
        self.machine_busy = (busy - self._machine_before[0]) / wall
        self.steal = (steal - self._machine_before[1]) / wall
        # Accounting granularity differs between the two sources: clamp the rounding noise.
        self.others = max(0.0, self.machine_busy - sum(self.result.values()))
        return self.result

    def line(self) -> str:
        ordered = sorted(self.result.items(), key=lambda item: -item[1])
        ours = "  ".join(f"{name} {share * 100:.0f}%" for name, share in ordered if share >= 0.005)
        return (
            f"{ours}  | machine busy {self.machine_busy * 100:.0f}% of {os.cpu_count() * 100}%,"
            f" of which other processes {self.others * 100:.0f}%; steal {self.steal * 100:.0f}%"
        )


# ---------------------------------------------------------------------------------------------------
# HTTP load: wrk when installed, else a Python (aiohttp) client

WRK_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format('WRKJSON{"requests":%d,"duration_us":%d,"p50":%.0f,"p90":%.0f,"p99":%.0f,' ..
    '"mean":%.2f,"max":%.0f,"err_status":%d,"err_connect":%d,"err_read":%d,"err_write":%d,' ..
    '"err_timeout":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.mean, latency.max, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class LoadGenerator:
    """`run(url, headers, connections, seconds)`; wrk -t1 when found on PATH (unless `force_python`)."""

    def __init__(self, *, force_python: bool = False) -> None:
        self.forced = force_python
        self.wrk = None if force_python else shutil.which("wrk")
        self._lua_dir = tempfile.mkdtemp(prefix="emplan-bench-wrk-")
        self.lua = Path(self._lua_dir) / "report.lua"
        self.lua.write_text(WRK_LUA)
        self.pid: int | None = None  # the wrk process while it runs (for CPU accounting)

    @property
    def description(self) -> str:
        if self.wrk:
            return f"wrk ({self.wrk}, one thread, keep-alive)"
        why = "asked for" if self.forced else "wrk not found"
        return f"Python aiohttp client ({why}; it is CPU-heavy on this machine, so ratios are compressed)"

    def close(self) -> None:
        shutil.rmtree(self._lua_dir, ignore_errors=True)

    def run(self, url: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
        if self.wrk:
            return self._wrk(url, headers, connections, seconds)
        return asyncio.run(_python_load(url, headers, connections, seconds))

    def _wrk(self, url: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
        assert self.wrk is not None
        argv = [self.wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s"]
        argv += ["-s", str(self.lua)]
        for key, value in headers.items():
            argv += ["-H", f"{key}: {value}"]
        argv.append(url)
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.pid = process.pid
        try:
            stdout, stderr = process.communicate(timeout=seconds + 60)
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            self.pid = None
        lines = [line for line in stdout.splitlines() if line.startswith("WRKJSON")]
        if not lines:
            raise RuntimeError(f"wrk failed ({process.returncode}): {stdout[-500:]} {stderr[-500:]}")
        data = json.loads(lines[0].removeprefix("WRKJSON"))
        errors = sum(data[key] for key in data if key.startswith("err_"))
        return LoadResult(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            p50_ms=data["p50"] / 1000,
            p90_ms=data["p90"] / 1000,
            p99_ms=data["p99"] / 1000,
            errors=errors,
            extra={"max_ms": data["max"] / 1000},
        )


async def _python_load(url: str, headers: dict[str, str], connections: int, seconds: float) -> LoadResult:
    import aiohttp

    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    async with session.get(url, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return LoadResult(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p90_ms=percentile(latencies, 90) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        errors=errors,
        extra={"max_ms": max(latencies, default=0) * 1000},
    )


# ---------------------------------------------------------------------------------------------------
# Sequential latency: raw per-request times, two targets interleaved


class KeepAliveProbe:
    """One blocking keep-alive HTTP/1.1 connection, one request at a time (a closed loop).

    Raw per-request times, with nothing added: wrk corrects its percentiles for coordinated
    omission (one stall becomes the requests it held up), which suits a fixed-rate load but not a
    closed-loop comparison of two paths. The client's own cost (http.client, some tens of µs) is
    the same on both paths and cancels out of the difference."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        assert parts.hostname is not None
        assert parts.port is not None
        self.host, self.port = parts.hostname, parts.port
        self.target = parts.path + (f"?{parts.query}" if parts.query else "")
        self.headers = dict(headers)
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
        self.errors = 0

    def get(self) -> float | None:
        """Seconds for one GET (send to the last body byte); None if it was not a 200."""
        started = time.perf_counter()
        try:
            self.connection.request("GET", self.target, headers=self.headers)
            response = self.connection.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            self.errors += 1
            self.connection.close()
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=10)
            return None
        elapsed = time.perf_counter() - started
        if response.status != 200:
            self.errors += 1
            return None
        return elapsed

    def close(self) -> None:
        self.connection.close()


def interleaved_latency(
    urls: dict[str, str], headers: dict[str, str], requests_each: int, *, block: int = 50
) -> tuple[dict[str, list[float]], int]:
    """Sequential GETs on one keep-alive connection per target, alternating targets every `block`
    requests so that both see the same background load; per-request milliseconds and errors."""
    probes = {name: KeepAliveProbe(url, headers) for name, url in urls.items()}
    latencies: dict[str, list[float]] = {name: [] for name in urls}
    try:
        for probe in probes.values():  # warm the connection and the server's caches
            for _ in range(100):
                probe.get()
            probe.errors = 0
        names = list(urls)
        for block_number in range((requests_each + block - 1) // block):
            order = names if block_number % 2 == 0 else list(reversed(names))
            for name in order:
                probe = probes[name]
                for _ in range(block):
                    elapsed = probe.get()
                    if elapsed is not None:
                        latencies[name].append(elapsed * 1000)
    finally:
        for probe in probes.values():
            probe.close()
    return latencies, sum(probe.errors for probe in probes.values())
