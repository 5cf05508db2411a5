"""The standalone system as a library: PostgreSQL, NATS, signing keys, the services and the gateway.

`AsyncStack` is the machinery (asyncio; the runner behind `make run` drives it on its main loop).
`Stack` is the same thing behind a synchronous facade that runs an `AsyncStack` on an event loop of
its own in a background thread, so sync fixtures and async tests on any loop can drive it alike::

    stack = Stack(tmp_path, free_ports=True)
    database_url, nats_url = stack.start_infra()
    stack.start_all()                 # migrations, services, gateway; returns once all are ready
    stack.kill_service("evaluation")  # SIGKILL
    stack.start_service("evaluation") # waits for its /readyz
    stack.stop_nats(); stack.start_nats()   # same port, same JetStream store
    stack.stop_all()

Every service runs the command its container runs: `python -m <service> serve --migrate --port N`
(migrate under the advisory lock, then serve); `migrate` alone is there for tests and operators.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import fcntl
import importlib.util
import os
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple, TypeVar

import httpx

from emplan_tools.infra import NatsServer, PostgresServer
from emplan_tools.keys import SigningKeys, ensure_signing_keys
from emplan_tools.processes import (
    Echo,
    ManagedProcess,
    PortInUseError,
    ProcessError,
    ensure_port_free,
    free_ports,
    run_to_completion,
)

T = TypeVar("T")

# ---------------------------------------------------------------------------------------------------
# What runs: one line a service.


@dataclass(frozen=True)
class ServiceSpec:
    """One service process: `python -m <package> serve --migrate --port <port>` (`migrate`: whether it
    has migrations to apply first)."""

    name: str
    package: str
    port: int
    migrate: bool = True
    gateway: bool = False
    """The public entry point: listens on EMPLAN_HOST:EMPLAN_PORT and is told every other service's
    URL as `<PACKAGE>_<SERVICE>_URL` (GATEWAY_PLAN_REGISTRY_URL, …)."""

    def is_installed(self) -> bool:
        """Whether `python -m <package>` exists (found without importing the package)."""
        try:
            spec = importlib.util.find_spec(self.package)
        except (ImportError, ValueError):
            return False
        if spec is None or not spec.submodule_search_locations:
            return False
        return any((Path(location) / "__main__.py").exists() for location in spec.submodule_search_locations)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("plan-registry", "plan_registry", 8101),
    ServiceSpec("indicator-engine", "indicator_engine", 8102),
    ServiceSpec("task-assignment", "task_assignment", 8103),
    ServiceSpec("evaluation", "evaluation", 8104),
    ServiceSpec("gateway", "gateway", 8000, gateway=True),
)

SERVICE_PORT_BASE = 8100
"""The internal services listen on base+1 … base+4 (EMPLAN_SERVICE_PORT_BASE moves them together)."""


def service_spec(name: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"no service {name!r}; known: {', '.join(s.name for s in SERVICES)}")


# ---------------------------------------------------------------------------------------------------
# Ports


def _int_env(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a port number") from None
    if not 0 < value < 65536:
        raise ValueError(f"{name}={value} is not a port number")
    return value


@dataclass(frozen=True)
class Ports:
    postgres: int = 55432
    nats: int = 54222
    nats_monitor: int = 58222
    services: Mapping[str, int] = field(default_factory=lambda: {spec.name: spec.port for spec in SERVICES})

    def service(self, name: str) -> int:
        return self.services[name]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Ports:
        """Defaults, overridden by EMPLAN_PG_PORT, EMPLAN_NATS_PORT, EMPLAN_NATS_MONITOR_PORT,
        EMPLAN_PORT (the gateway) and EMPLAN_SERVICE_PORT_BASE (the services, base+1 …)."""
        environ = os.environ if environ is None else environ
        base = _int_env(environ, "EMPLAN_SERVICE_PORT_BASE", SERVICE_PORT_BASE)
        services = {
            spec.name: _int_env(environ, "EMPLAN_PORT", spec.port)
            if spec.gateway
            else base + (spec.port - SERVICE_PORT_BASE)
            for spec in SERVICES
        }
        return cls(
            postgres=_int_env(environ, "EMPLAN_PG_PORT", cls.postgres),
            nats=_int_env(environ, "EMPLAN_NATS_PORT", cls.nats),
            nats_monitor=_int_env(environ, "EMPLAN_NATS_MONITOR_PORT", cls.nats_monitor),
            services=services,
        )

    @classmethod
    def free(cls, host: str = "127.0.0.1") -> Ports:
        """Ports nothing listens on now, for tests that run beside a developer's own `make run`."""
        postgres, nats, monitor, *rest = free_ports(3 + len(SERVICES), host)
        return cls(
            postgres, nats, monitor, {spec.name: port for spec, port in zip(SERVICES, rest, strict=True)}
        )


_PORT_HINTS = {
    "postgres": "set EMPLAN_PG_PORT to use another port, or DATABASE_URL to use a server of your own",
    "nats": "set EMPLAN_NATS_PORT / EMPLAN_NATS_MONITOR_PORT, or NATS_URL to use a server of your own",
    "gateway": "set EMPLAN_PORT to use another port",
    "service": "set EMPLAN_SERVICE_PORT_BASE to move the services (they use base+1 … base+4)",
}


# ---------------------------------------------------------------------------------------------------
# Errors


class StackError(ProcessError):
    """The system could not be brought up; the message says what and shows the child's output."""


class MigrationError(StackError):
    def __init__(self, service: str, returncode: int, output: str) -> None:
        super().__init__(f"migrating {service} failed with exit code {returncode}:\n{output}")
        self.service = service
        self.returncode = returncode
        self.output = output


class DataDirLockedError(StackError):
    pass


class InfraUrls(NamedTuple):
    database_url: str
    nats_url: str


async def _all(awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Run concurrently; on the first failure cancel the rest (and wait for them) and raise it."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# ---------------------------------------------------------------------------------------------------
# The stack


class AsyncStack:
    """PostgreSQL, NATS, signing keys and the services, with their data under `data_dir`.

    An asyncio API, to be used from one event loop (the runner's main loop, the session loop of
    pytest-asyncio tests, or `Stack`'s own). `ports="auto"` (or `free_ports=True`) picks free ports;
    `external_database_url` / `external_nats_url` use
    servers of the caller's instead of starting them. `services` limits which services start (names
    from `SERVICES`; default: every one whose package is installed). `echo` prints children's output
    with a name prefix (the runner); by default it goes only to `data_dir/logs/<name>.log`.

    A child exiting without being asked to is recorded in `unexpected_exits`, sets `failed`, and is
    passed to `on_unexpected_exit(name, returncode)`.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        ports: Ports | Literal["auto"] | None = None,
        free_ports: bool = False,
        external_database_url: str | None = None,
        external_nats_url: str | None = None,
        services: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        echo: Echo | bool = False,
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        ready_timeout: float = 90.0,
        on_unexpected_exit: Callable[[str, int], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        if free_ports or ports == "auto":
            self.ports = Ports.free()
        else:
            self.ports = ports if isinstance(ports, Ports) else Ports()
        self.external_database_url = external_database_url
        self.external_nats_url = external_nats_url
        self.host = host
        self.echo: Echo | None = Echo() if echo is True else (echo or None)
        self.extra_env = dict(env or {})
        self.python = python or sys.executable
        self.ready_timeout = ready_timeout
        self.on_unexpected_exit = on_unexpected_exit
        if services is None:
            self.specs = [spec for spec in SERVICES if spec.is_installed()]
        else:
            self.specs = [service_spec(name) for name in services]
            missing = [spec.name for spec in self.specs if not spec.is_installed()]
            if missing:
                raise StackError(f"not installed (no `python -m <package>`): {', '.join(missing)}")

        self.postgres: PostgresServer | None = None
        if external_database_url is None:
            self.postgres = PostgresServer(
                self.data_dir / "postgres",
                port=self.ports.postgres,
                log_file=self.logs_dir / "postgres.log",
                record_file=self.run_dir / "postgres.json",
                on_exit=self._on_child_exit,
            )
        self.nats: NatsServer | None = None
        if external_nats_url is None:
            self.nats = NatsServer(
                self.data_dir / "nats",
                port=self.ports.nats,
                monitor_port=self.ports.nats_monitor,
                log_file=self.logs_dir / "nats.log",
                record_file=self.run_dir / "nats.json",
                on_exit=self._on_child_exit,
            )
        self.keys: SigningKeys | None = None
        self.processes: dict[str, ManagedProcess] = {}
        self.unexpected_exits: list[tuple[str, int]] = []
        self.failed = asyncio.Event()
        self.timings: dict[str, float] = {}
        self._t0 = time.monotonic()
        self._lock: IO[str] | None = None

    # -- where things are ----------------------------------------------------------------------

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def service_names(self) -> list[str]:
        return [spec.name for spec in self.specs]

    @property
    def database_url(self) -> str:
        if self.external_database_url is not None:
            return self.external_database_url
        assert self.postgres is not None
        return self.postgres.url

    @property
    def nats_url(self) -> str:
        if self.external_nats_url is not None:
            return self.external_nats_url
        assert self.nats is not None
        return self.nats.url

    @property
    def database_is_external(self) -> bool:
        return self.postgres is None

    @property
    def nats_is_external(self) -> bool:
        return self.nats is None

    @property
    def jwt_private_key_file(self) -> Path:
        return self.ensure_keys().private_key_file

    @property
    def jwt_public_key_file(self) -> Path:
        return self.ensure_keys().public_key_file

    @property
    def env(self) -> dict[str, str]:
        """The environment for tools run against this stack (`python -m gateway create-user`, …)."""
        gateway = next((spec.name for spec in self.specs if spec.gateway), None)
        return self.child_env(gateway)

    def service_database_dsn(self, name: str) -> str:
        """A plain `postgresql://` DSN of service `name`'s own database (for asyncpg / psql)."""
        from sqlalchemy.engine import make_url

        prefix = self.child_env().get("EMPLAN_DATABASE_PREFIX", "emplan_")
        database = prefix + name.replace("-", "_")
        return (
            make_url(self.database_url)
            .set(drivername="postgresql", database=database)
            .render_as_string(hide_password=False)
        )

    @property
    def max_body_bytes(self) -> int:
        """The largest request body the services accept (EMPLAN_MAX_BODY_BYTES or the default)."""
        raw = self.child_env().get("EMPLAN_MAX_BODY_BYTES")
        if raw:
            return int(raw)
        from emplan_shared.settings import ServiceSettings

        default = ServiceSettings.model_fields["max_body_bytes"].default
        return int(default)

    def _spec(self, name: str) -> ServiceSpec:
        for spec in self.specs:
            if spec.name == name:
                return spec
        raise KeyError(f"{name!r} is not a service of this stack ({', '.join(self.service_names)})")

    def _bind_host(self, spec: ServiceSpec) -> str:
        return self.host if spec.gateway else "127.0.0.1"

    def url(self, name: str) -> str:
        """The base URL a client uses to reach service `name` (the gateway: EMPLAN_HOST:EMPLAN_PORT)."""
        spec = self._spec(name)
        host = self._bind_host(spec)
        if host in ("0.0.0.0", "", "::"):
            host = "127.0.0.1"
        return f"http://{host}:{self.ports.service(name)}"

    @property
    def gateway_url(self) -> str | None:
        for spec in self.specs:
            if spec.gateway:
                return self.url(spec.name)
        return None

    def child_env(self, name: str | None = None) -> dict[str, str]:
        """The environment of service `name`'s processes (or of any tool run against this stack)."""
        env = dict(os.environ)
        env.update(self.extra_env)
        env.update({"DATABASE_URL": self.database_url, "NATS_URL": self.nats_url, "PYTHONUNBUFFERED": "1"})
        if self.keys is not None:
            env.update(self.keys.env())
        if name is not None and self._spec(name).gateway:
            prefix = self._spec(name).package.upper()
            for spec in SERVICES:
                if not spec.gateway:
                    env[f"{prefix}_{spec.package.upper()}_URL"] = (
                        f"http://127.0.0.1:{self.ports.service(spec.name)}"
                    )
        return env

    # -- bookkeeping ---------------------------------------------------------------------------

    def _mark(self, event: str) -> None:
        self.timings[event] = time.monotonic() - self._t0

    def _on_child_exit(self, process: ManagedProcess, returncode: int) -> None:
        self.unexpected_exits.append((process.name, returncode))
        self.failed.set()
        if self.on_unexpected_exit is not None:
            self.on_unexpected_exit(process.name, returncode)

    def _acquire_lock(self) -> None:
        if self._lock is not None:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock = open(self.data_dir / "standalone.lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "?"
            lock.close()
            raise DataDirLockedError(
                f"{self.data_dir} is in use by another emplan standalone runner (pid {holder}); "
                "stop it first, or set EMPLAN_DATA_DIR to use another data directory"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def check_ports(self) -> None:
        """Fail with a clear message, before anything starts, when ports this stack needs are taken
        (every one of them in one message)."""
        wanted: list[tuple[str, int, str, str]] = []
        if self.postgres is not None and not self.postgres.running:
            wanted.append(("127.0.0.1", self.ports.postgres, "PostgreSQL", "postgres"))
        if self.nats is not None and not self.nats.running:
            wanted.append(("127.0.0.1", self.ports.nats, "NATS", "nats"))
            wanted.append(("127.0.0.1", self.ports.nats_monitor, "NATS monitoring", "nats"))
        for spec in self.specs:
            process = self.processes.get(spec.name)
            if process is None or not process.running:
                hint = "gateway" if spec.gateway else "service"
                wanted.append((self._bind_host(spec), self.ports.service(spec.name), spec.name, hint))
        problems: list[str] = []
        hints: list[str] = []
        for host, port, what, hint in wanted:
            try:
                ensure_port_free(host, port, what)
            except PortInUseError as exc:
                problems.append(str(exc))
                if _PORT_HINTS[hint] not in hints:
                    hints.append(_PORT_HINTS[hint])
        if problems:
            raise PortInUseError("\n".join(problems + [f"  {hint}" for hint in hints]))

    @staticmethod
    def _check_port(host: str, port: int, what: str, hint: str) -> None:
        ensure_port_free(host, port, what, _PORT_HINTS[hint])

    # -- infrastructure ------------------------------------------------------------------------

    def ensure_keys(self) -> SigningKeys:
        """The gateway's Ed25519 signing key pair under `data_dir/keys`, made on first use."""
        if self.keys is None:
            self.keys = ensure_signing_keys(self.keys_dir)
        return self.keys

    async def start_postgres(self) -> str:
        if self.postgres is None:
            return self.database_url
        self._acquire_lock()
        try:
            url = await self.postgres.start()
        except PortInUseError as exc:
            raise PortInUseError(f"{exc}\n  {_PORT_HINTS['postgres']}") from None
        self._mark("postgres ready")
        return url

    async def stop_postgres(self) -> None:
        if self.postgres is not None:
            await self.postgres.stop()

    async def kill_postgres(self) -> None:
        """SIGKILL PostgreSQL (a crash: the next start runs recovery)."""
        if self.postgres is not None:
            await self.postgres.kill()

    async def start_nats(self) -> str:
        """Start NATS (again) on the same port with the same JetStream store; wait until it is ready."""
        if self.nats is None:
            return self.nats_url
        self._acquire_lock()
        try:
            url = await self.nats.start()
        except PortInUseError as exc:
            raise PortInUseError(f"{exc}\n  {_PORT_HINTS['nats']}") from None
        self._mark("nats ready")
        return url

    async def stop_nats(self) -> None:
        """Stop NATS gracefully (SIGTERM)."""
        if self.nats is not None:
            await self.nats.stop()

    async def kill_nats(self) -> None:
        """SIGKILL NATS (a crash)."""
        if self.nats is not None:
            await self.nats.kill()

    async def start_infra(self) -> InfraUrls:
        """PostgreSQL and NATS (concurrently) and the signing keys; (database_url, nats_url)."""
        self._acquire_lock()
        self.ensure_keys()
        await _all([self.start_postgres(), self.start_nats()])
        return InfraUrls(self.database_url, self.nats_url)

    # -- services ------------------------------------------------------------------------------

    async def migrate(self, name: str) -> None:
        """`python -m <package> migrate` for one service; `MigrationError` with its output on failure."""
        spec = self._spec(name)
        returncode, output = await run_to_completion(
            spec.name,
            [self.python, "-m", spec.package, "migrate"],
            log_file=self.logs_dir / f"{spec.name}.log",
            env=self.child_env(spec.name),
            echo=self.echo,
        )
        if returncode != 0:
            raise MigrationError(spec.name, returncode, output)
        self._mark(f"{spec.name} migrated")

    async def run_migrations(self, names: Iterable[str] | None = None) -> None:
        """Migrate the services (all of this stack's by default) concurrently."""
        specs = self.specs if names is None else [self._spec(name) for name in names]
        await _all([self.migrate(spec.name) for spec in specs if spec.migrate])

    async def start_service(self, name: str) -> None:
        """`python -m <package> serve --migrate --port N`; returns once its /readyz answers 200."""
        spec = self._spec(name)
        existing = self.processes.get(name)
        if existing is not None and existing.running:
            return
        host, port = self._bind_host(spec), self.ports.service(name)
        self._check_port(host, port, name, "gateway" if spec.gateway else "service")
        command = [self.python, "-m", spec.package, "serve", "--migrate", "--host", host, "--port", str(port)]
        if not spec.migrate:
            command.remove("--migrate")
        process = ManagedProcess(
            spec.name,
            command,
            log_file=self.logs_dir / f"{spec.name}.log",
            env=self.child_env(spec.name),
            echo=self.echo,
            stop_signal=signal.SIGTERM,
            stop_timeout=10,
            record_file=self.run_dir / f"{spec.name}.json",
            on_exit=self._on_child_exit,
        )
        self.processes[name] = process
        await process.start()
        await self.wait_ready(name)
        self._mark(f"{spec.name} ready")

    async def wait_ready(self, name: str, timeout: float | None = None) -> None:
        """Poll service `name`'s /readyz until it answers 200; fail at once if the process exits."""
        process = self.processes[name]
        url = f"{self.url(name)}/readyz"
        timeout = self.ready_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        last = "no answer"
        async with httpx.AsyncClient(timeout=3, trust_env=False) as client:
            while True:
                if not process.running:
                    raise StackError(
                        f"{name} exited with code {process.returncode} before it was ready "
                        f"(log: {process.log_file}):\n{process.tail()}"
                    )
                try:
                    response = await client.get(url)
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text[:300]}"
                except httpx.HTTPError as exc:
                    last = repr(exc)
                if time.monotonic() > deadline:
                    raise StackError(f"{name} was not ready within {timeout:.0f} s; {url} said: {last}")
                await asyncio.sleep(0.1)

    async def start_services(self, names: Iterable[str] | None = None) -> None:
        """Start services (all of this stack's by default) concurrently and wait until all are ready."""
        specs = self.specs if names is None else [self._spec(name) for name in names]
        await _all([self.start_service(spec.name) for spec in specs])

    async def stop_service(self, name: str) -> None:
        """SIGTERM, then SIGKILL after 10 s."""
        process = self.processes.get(name)
        if process is not None:
            await process.stop()

    async def kill_service(self, name: str) -> None:
        """SIGKILL the service (a crash)."""
        process = self.processes.get(name)
        if process is not None:
            await process.kill()

    async def start_all(self) -> None:
        """Everything: infra, keys, then for each service (concurrently) its migration and its server;
        returns when every /readyz answers 200 (the gateway's checks the services behind it)."""
        self._t0 = time.monotonic()
        self._acquire_lock()
        self.check_ports()
        await self.start_infra()

        # Each service migrates in its own serving process (`serve --migrate`), as in its container.
        await _all([self.start_service(spec.name) for spec in self.specs])
        self._mark("all ready")

    async def stop_all(self) -> None:
        """The gateway, then the services (SIGTERM, SIGKILL after 10 s), then NATS, then PostgreSQL."""
        errors: list[BaseException] = []

        async def stop(coroutines: Sequence[Awaitable[object]]) -> None:
            results = await asyncio.gather(*coroutines, return_exceptions=True)
            errors.extend(r for r in results if isinstance(r, BaseException))

        gateway = [p.stop() for n, p in self.processes.items() if self._spec(n).gateway]
        await stop(gateway)
        await stop([p.stop() for n, p in self.processes.items() if not self._spec(n).gateway])
        await stop([self.stop_nats()])
        await stop([self.stop_postgres()])
        self._release_lock()
        if errors:
            raise StackError(f"stopping left errors: {errors!r}")

    async def kill_all(self) -> None:
        """SIGKILL everything at once (a second Ctrl-C)."""
        await asyncio.gather(
            *(p.kill() for p in self.processes.values()),
            self.kill_nats(),
            self.kill_postgres(),
            return_exceptions=True,
        )
        self._release_lock()

    async def __aenter__(self) -> AsyncStack:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop_all()


# ---------------------------------------------------------------------------------------------------
# The synchronous facade


class _LoopThread:
    """An event loop running for ever in a daemon thread; `run()` executes a coroutine on it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        if threading.current_thread() is self.thread:
            coroutine.close()
            raise RuntimeError("a Stack method was called from inside the Stack's own event loop")
        if self.loop.is_closed():
            coroutine.close()
            raise RuntimeError("this Stack is closed")
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        if not self.thread.is_alive():
            self.loop.close()


class Stack:
    """The standalone system, driven synchronously: an `AsyncStack` on an event loop of its own.

    Every method blocks until done, from any thread and also from inside a coroutine of another event
    loop (it then holds that loop up meanwhile: fine in a test). `await stack.call(lambda s: ...)`
    runs an `AsyncStack` coroutine without blocking the caller's loop. The child processes belong to
    the Stack's thread: on Linux they die with the process that made them.
    Arguments: those of `AsyncStack`.
    """

    def __init__(
        self,
        data_dir: Path | str,
        *,
        ports: Ports | Literal["auto"] | None = None,
        free_ports: bool = False,
        external_database_url: str | None = None,
        external_nats_url: str | None = None,
        services: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        echo: Echo | bool = False,
        env: Mapping[str, str] | None = None,
        python: str | None = None,
        ready_timeout: float = 90.0,
    ) -> None:
        self.aio = AsyncStack(
            data_dir,
            ports=ports,
            free_ports=free_ports,
            external_database_url=external_database_url,
            external_nats_url=external_nats_url,
            services=services,
            host=host,
            echo=echo,
            env=env,
            python=python,
            ready_timeout=ready_timeout,
        )
        self._thread = _LoopThread(f"emplan-stack-{self.aio.data_dir.name}")
        atexit.register(self.close)

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self._thread.run(coroutine)

    async def call(self, action: Callable[[AsyncStack], Coroutine[Any, Any, T]]) -> T:
        """Await `action(async_stack)` on the Stack's loop without blocking the caller's loop."""
        return await asyncio.wrap_future(self._thread.submit(action(self.aio)))

    # -- where things are

    @property
    def data_dir(self) -> Path:
        return self.aio.data_dir

    @property
    def logs_dir(self) -> Path:
        return self.aio.logs_dir

    @property
    def ports(self) -> Ports:
        return self.aio.ports

    @property
    def service_names(self) -> list[str]:
        return self.aio.service_names

    @property
    def database_url(self) -> str:
        return self.aio.database_url

    @property
    def nats_url(self) -> str:
        return self.aio.nats_url

    @property
    def gateway_url(self) -> str | None:
        return self.aio.gateway_url

    def url(self, name: str) -> str:
        return self.aio.url(name)

    @property
    def database_is_external(self) -> bool:
        return self.aio.database_is_external

    @property
    def nats_is_external(self) -> bool:
        return self.aio.nats_is_external

    @property
    def jwt_private_key_file(self) -> Path:
        return self.aio.jwt_private_key_file

    @property
    def jwt_public_key_file(self) -> Path:
        return self.aio.jwt_public_key_file

    @property
    def env(self) -> dict[str, str]:
        return self.aio.env

    def child_env(self, name: str | None = None) -> dict[str, str]:
        return self.aio.child_env(name)

    def service_database_dsn(self, name: str) -> str:
        return self.aio.service_database_dsn(name)

    @property
    def max_body_bytes(self) -> int:
        return self.aio.max_body_bytes

    @property
    def unexpected_exits(self) -> list[tuple[str, int]]:
        """(name, return code) of every child that exited without being asked to."""
        return list(self.aio.unexpected_exits)

    @property
    def timings(self) -> dict[str, float]:
        return dict(self.aio.timings)

    # -- control

    def ensure_keys(self) -> SigningKeys:
        return self.aio.ensure_keys()

    def check_ports(self) -> None:
        self.aio.check_ports()

    def start_infra(self) -> InfraUrls:
        return self._run(self.aio.start_infra())

    def start_all(self) -> None:
        self._run(self.aio.start_all())

    def stop_all(self) -> None:
        self._run(self.aio.stop_all())

    def kill_all(self) -> None:
        self._run(self.aio.kill_all())

    def start_postgres(self) -> str:
        return self._run(self.aio.start_postgres())

    def stop_postgres(self) -> None:
        self._run(self.aio.stop_postgres())

    def kill_postgres(self) -> None:
        self._run(self.aio.kill_postgres())

    def start_nats(self) -> str:
        return self._run(self.aio.start_nats())

    def stop_nats(self) -> None:
        self._run(self.aio.stop_nats())

    def kill_nats(self) -> None:
        self._run(self.aio.kill_nats())

    def migrate(self, name: str) -> None:
        self._run(self.aio.migrate(name))

    def run_migrations(self, names: Iterable[str] | None = None) -> None:
        self._run(self.aio.run_migrations(names))

    def start_service(self, name: str) -> None:
        self._run(self.aio.start_service(name))

    def start_services(self, names: Iterable[str] | None = None) -> None:
        self._run(self.aio.start_services(names))

    def stop_service(self, name: str) -> None:
        self._run(self.aio.stop_service(name))

    def kill_service(self, name: str) -> None:
        self._run(self.aio.kill_service(name))

    def wait_ready(self, name: str, timeout: float | None = None) -> None:
        self._run(self.aio.wait_ready(name, timeout))

    def close(self) -> None:
        """Stop everything and end the Stack's thread (also run at interpreter exit)."""
        atexit.unregister(self.close)
        if self._thread.loop.is_closed():
            return
        try:
            self._run(self.aio.stop_all())
        finally:
            self._thread.close()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
