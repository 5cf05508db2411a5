"""A small supervisor for the child processes of the standalone system.

Each `ManagedProcess` is one child: started in its own session (so a Ctrl-C in the terminal reaches
only the runner, which then stops the children in order), its output appended to a log file and,
when asked, echoed to the terminal with every line prefixed by the child's name. On Linux the child
also gets a parent-death signal, so a runner killed with SIGKILL does not leave PostgreSQL, NATS or a
service behind holding its port; on other systems a record file lets the next start find and stop
such an orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import os
import signal
import socket
import sys
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TextIO

import psutil

_PR_SET_PDEATHSIG = 1
_LOG_ROTATE_BYTES = 20 * 1024 * 1024
_READ_CHUNK = 64 * 1024

ExitCallback = Callable[["ManagedProcess", int], None]


class ProcessError(RuntimeError):
    """A child failed to start, or exited when it should not have; the message carries its output."""


class PortInUseError(ProcessError):
    pass


@dataclass(frozen=True)
class RunAs:
    """An unprivileged system user a child runs as (PostgreSQL refuses to run as root)."""

    name: str
    uid: int
    gid: int


# ---------------------------------------------------------------------------------------------------
# Ports


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (the kernel's choice)."""
    return free_ports(1, host)[0]


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports; the sockets stay bound until all are chosen, so none repeats."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _port_holder(port: int) -> str:
    """Who listens on `port`, as far as this process may see (best effort)."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                try:
                    proc = psutil.Process(conn.pid)
                    command = " ".join(proc.cmdline())[:160] or proc.name()
                except psutil.Error:
                    command = "?"
                return f" (held by pid {conn.pid}: {command})"
    except (psutil.Error, OSError):
        pass
    return ""


def ensure_port_free(host: str, port: int, what: str, hint: str = "") -> None:
    """Raise `PortInUseError` with a clear message when `host:port` cannot be listened on."""
    bind_host = "0.0.0.0" if host in ("", "0.0.0.0") else host
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # Servers set SO_REUSEADDR too, so a port in TIME_WAIT is not "in use" for them either.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((bind_host, port))
    except OSError as exc:
        message = (
            f"port {port} on {bind_host} for {what} is already in use{_port_holder(port)}: {exc.strerror}"
        )
        if hint:
            message += f"\n  {hint}"
        raise PortInUseError(message) from None
    finally:
        sock.close()


# ---------------------------------------------------------------------------------------------------
# Terminal echo


_COLOURS = ("36", "32", "35", "33", "34", "96", "92", "95", "93", "94")


class Echo:
    """Writes children's lines to a terminal stream, each prefixed with the child's name."""

    def __init__(self, stream: TextIO | None = None, width: int = 16, colour: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self.width = width
        if colour is None:
            colour = self.stream.isatty() and os.environ.get("NO_COLOR") is None
        self.colour = colour

    def prefix(self, name: str) -> str:
        label = f"{name:<{self.width}}|"
        if not self.colour:
            return label + " "
        code = _COLOURS[zlib.crc32(name.encode()) % len(_COLOURS)]
        return f"\x1b[{code}m{label}\x1b[0m "

    def write_lines(self, name: str, lines: Sequence[str]) -> None:
        if not lines:
            return
        prefix = self.prefix(name)
        try:
            self.stream.write("".join(prefix + line + "\n" for line in lines))
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed terminal must not take the runner down


# ---------------------------------------------------------------------------------------------------
# Child processes


def _parent_death_preexec(sig: int) -> Callable[[], None] | None:
    """A preexec_fn that asks Linux to send `sig` to the child when this process dies (None elsewhere).

    It runs after the child has switched user (CPython calls preexec_fn after setuid), which matters:
    a credential change clears the parent-death signal.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os.kill(os.getpid(), sig)

    return preexec


def _rotate(log_file: Path) -> None:
    with contextlib.suppress(OSError):
        if log_file.stat().st_size > _LOG_ROTATE_BYTES:
            log_file.replace(log_file.with_name(log_file.name + ".1"))


def reap_orphan(record_file: Path, stop_signal: int = signal.SIGTERM, timeout: float = 10.0) -> int | None:
    """Stop the process a previous runner recorded in `record_file` if it still runs; its pid or None.

    The record holds the pid and the process's start time, so a recycled pid is never mistaken for it.
    """
    try:
        record = json.loads(record_file.read_text())
        pid, create_time = int(record["pid"]), float(record["create_time"])
    except (OSError, ValueError, KeyError, TypeError):
        record_file.unlink(missing_ok=True)
        return None
    try:
        proc = psutil.Process(pid)
        if abs(proc.create_time() - create_time) > 0.01:
            raise psutil.NoSuchProcess(pid)
    except psutil.Error:
        record_file.unlink(missing_ok=True)
        return None
    with contextlib.suppress(psutil.Error):
        proc.send_signal(stop_signal)
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(5)
    record_file.unlink(missing_ok=True)
    return pid


class ManagedProcess:
    """One supervised child process.

    `start()` launches it; `stop()` sends `stop_signal`, waits `stop_timeout` seconds, then kills the
    whole process group; `kill()` sends SIGKILL at once. When the child exits without having been
    asked to, `on_exit(process, returncode)` is called: the runner's cue to report it and shut down.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_file: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        echo: Echo | None = None,
        run_as: RunAs | None = None,
        stop_signal: int = signal.SIGTERM,
        stop_timeout: float = 10.0,
        record_file: Path | None = None,
        on_exit: ExitCallback | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_file = log_file
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.echo = echo
        self.run_as = run_as
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.record_file = record_file
        self.on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._exited = asyncio.Event()
        self._expected_exit = False
        self._log_offset = 0
        self.returncode: int | None = None
        self.started_at: float | None = None

    def __repr__(self) -> str:
        return f"<ManagedProcess {self.name} pid={self.pid} returncode={self.returncode}>"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and not self._exited.is_set()

    async def start(self) -> None:
        if self.running:
            raise ProcessError(f"{self.name} is already running (pid {self.pid})")
        if self.record_file is not None:
            orphan = await asyncio.to_thread(
                reap_orphan, self.record_file, self.stop_signal, self.stop_timeout
            )
            if orphan is not None:
                self._echo_notice(f"stopped pid {orphan}, left running by an earlier runner")
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        _rotate(self.log_file)
        log = open(self.log_file, "ab")
        self._log_offset = log.seek(0, os.SEEK_END)
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        log.write(f"===== {stamp} {self.name}: {' '.join(self.argv)}\n".encode())
        log.flush()
        self._log_offset = log.tell()
        self._exited = asyncio.Event()
        self._expected_exit = False
        self.returncode = None
        kwargs: dict[str, Any] = {}
        if self.run_as is not None:
            kwargs.update(user=self.run_as.uid, group=self.run_as.gid, extra_groups=[])
        pipe = self.echo is not None
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE if pipe else log,
                stderr=asyncio.subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                preexec_fn=_parent_death_preexec(self.stop_signal),
                limit=_READ_CHUNK,
                **kwargs,
            )
        except BaseException:
            log.close()
            raise
        self.started_at = time.monotonic()
        if self.record_file is not None:
            self._write_record()
        reader: asyncio.Task[None] | None = None
        if pipe:
            assert self._proc.stdout is not None
            reader = asyncio.create_task(self._pump(self._proc.stdout, log), name=f"output-{self.name}")
        else:
            log.close()  # the child holds its own descriptor
        self._watcher = asyncio.create_task(self._watch(self._proc, reader), name=f"watch-{self.name}")

    def _write_record(self) -> None:
        assert self.record_file is not None
        assert self._proc is not None
        try:
            create_time = psutil.Process(self._proc.pid).create_time()
        except psutil.Error:
            return
        self.record_file.parent.mkdir(parents=True, exist_ok=True)
        record = {"pid": self._proc.pid, "create_time": create_time, "argv": self.argv}
        self.record_file.write_text(json.dumps(record))

    async def _pump(self, stream: asyncio.StreamReader, log: IO[bytes]) -> None:
        pending = b""
        try:
            while chunk := await stream.read(_READ_CHUNK):
                log.write(chunk)
                log.flush()
                data = pending + chunk
                *lines, pending = data.split(b"\n")
                if len(pending) > _READ_CHUNK:  # a very long line: show it in pieces
                    lines.append(pending)
                    pending = b""
                if self.echo is not None and lines:
                    self.echo.write_lines(
                        self.name, [line.decode(errors="replace").rstrip("\r") for line in lines]
                    )
            if pending and self.echo is not None:
                self.echo.write_lines(self.name, [pending.decode(errors="replace")])
        finally:
            log.close()

    async def _watch(self, proc: asyncio.subprocess.Process, reader: asyncio.Task[None] | None) -> None:
        returncode = await proc.wait()
        if reader is not None:
            # A grandchild that inherited the pipe could keep it open: do not wait for it for ever.
            try:
                await asyncio.wait_for(asyncio.shield(reader), timeout=2)
            except TimeoutError:
                reader.cancel()
        self.returncode = returncode
        if self.record_file is not None:
            self.record_file.unlink(missing_ok=True)
        self._exited.set()
        if not self._expected_exit and self.on_exit is not None:
            self.on_exit(self, returncode)

    def _echo_notice(self, text: str) -> None:
        if self.echo is not None:
            self.echo.write_lines(self.name, [f"[runner] {text}"])

    async def wait(self) -> int:
        """Wait for the child to exit; its return code (negative: killed by that signal)."""
        if self._proc is None:
            raise ProcessError(f"{self.name} was never started")
        await self._exited.wait()
        assert self.returncode is not None
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.running and self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(sig)

    def _kill_group(self) -> None:
        if self._proc is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self._proc.kill()

    async def stop(self, timeout: float | None = None) -> int | None:
        """Ask the child to stop; kill its process group when it has not exited after `timeout` s."""
        if not self.running:
            return self.returncode
        self._expected_exit = True
        self.send_signal(self.stop_signal)
        try:
            return await asyncio.wait_for(self.wait(), self.stop_timeout if timeout is None else timeout)
        except TimeoutError:
            self._echo_notice(f"did not stop within {timeout or self.stop_timeout:.0f} s: killing it")
            self._kill_group()
            return await self.wait()

    async def kill(self) -> int | None:
        """SIGKILL the child's whole process group at once (a crash, for failure tests)."""
        if not self.running:
            return self.returncode
        self._expected_exit = True
        self._kill_group()
        return await self.wait()

    def tail(self, lines: int = 40) -> str:
        """The last `lines` lines this run of the child wrote (from its log file)."""
        try:
            with open(self.log_file, "rb") as log:
                log.seek(self._log_offset)
                data = log.read()
        except OSError:
            return ""
        return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


async def run_to_completion(
    name: str,
    argv: Sequence[str],
    *,
    log_file: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    echo: Echo | None = None,
    run_as: RunAs | None = None,
) -> tuple[int, str]:
    """Run a one-shot child (a migration, initdb) to its end: (returncode, its output).

    Output goes to the log file (and the echo) like a long-running child's. Cancelling the caller kills
    the child.
    """
    process = ManagedProcess(
        name, argv, log_file=log_file, env=env, cwd=cwd, echo=echo, run_as=run_as, stop_timeout=5
    )
    await process.start()
    process._expected_exit = True
    try:
        returncode = await process.wait()
    except BaseException:
        await process.kill()
        raise
    return returncode, process.tail(lines=400)
