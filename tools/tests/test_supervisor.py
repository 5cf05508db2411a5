"""The process supervisor, the signing keys, the ports and the service table, without servers."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import sys
from pathlib import Path

import psutil
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from emplan_tools.keys import ensure_signing_keys
from emplan_tools.processes import Echo, ManagedProcess, reap_orphan, run_to_completion
from emplan_tools.stack import SERVICES, AsyncStack, MigrationError, Ports


async def test_output_is_prefixed_on_the_terminal_and_logged_plain(tmp_path: Path) -> None:
    terminal = io.StringIO()
    log = tmp_path / "logs" / "child.log"
    returncode, output = await run_to_completion(
        "child",
        [sys.executable, "-c", "import sys; print('one'); print('two', file=sys.stderr); print('三')"],
        log_file=log,
        echo=Echo(terminal, width=8, colour=False),
    )
    assert returncode == 0
    assert terminal.getvalue().splitlines() == ["child   | one", "child   | two", "child   | 三"]
    assert output.splitlines() == ["one", "two", "三"]
    assert log.read_text().splitlines()[1:] == ["one", "two", "三"]  # after the run's header line


async def test_an_unexpected_exit_is_reported_and_a_stubborn_child_is_killed(tmp_path: Path) -> None:
    exits: list[tuple[str, int]] = []
    dying = ManagedProcess(
        "dying",
        [sys.executable, "-c", "import sys; print('bye'); sys.exit(3)"],
        log_file=tmp_path / "dying.log",
        on_exit=lambda process, code: exits.append((process.name, code)),
    )
    await dying.start()
    assert await dying.wait() == 3
    assert exits == [("dying", 3)]
    assert dying.tail() == "bye"

    stubborn = ManagedProcess(
        "stubborn",
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('up', flush=True); time.sleep(60)",
        ],
        log_file=tmp_path / "stubborn.log",
        stop_timeout=0.5,
        on_exit=lambda process, code: exits.append((process.name, code)),
    )
    await stubborn.start()
    while "up" not in stubborn.tail():
        await asyncio.sleep(0.05)
    pid = stubborn.pid
    assert pid is not None
    # Killed (SIGKILL). asyncio reports 255 instead when another child watcher in this process
    # reaped the child first ("Unknown child process pid"), which a long test session can cause.
    assert await stubborn.stop() in (-9, 255)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert exits == [("dying", 3)]  # asked to stop: not reported


async def test_an_orphan_recorded_by_an_earlier_runner_is_stopped(tmp_path: Path) -> None:
    record = tmp_path / "run" / "orphan.json"
    first = ManagedProcess(
        "orphan",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        log_file=tmp_path / "o.log",
        record_file=record,
    )
    await first.start()
    assert record.exists()
    pid = first.pid
    assert pid is not None
    # A new runner (after the first died without stopping it) finds and stops it before starting.
    assert await asyncio.to_thread(reap_orphan, record) == pid
    assert not record.exists()
    await first.wait()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert await asyncio.to_thread(reap_orphan, record) is None


async def test_a_failed_migration_fails_loudly_with_its_output(tmp_path: Path) -> None:
    fake_python = tmp_path / "python"
    fake_python.write_text('#!/bin/sh\necho "migrating $2: relation does not exist" >&2\nexit 4\n')
    fake_python.chmod(0o755)
    stack = AsyncStack(
        tmp_path,
        external_database_url="postgresql://postgres@127.0.0.1:1/postgres",
        external_nats_url="nats://127.0.0.1:1",
        services=["evaluation"],
        python=str(fake_python),
    )
    with pytest.raises(MigrationError) as caught:
        await stack.run_migrations()
    assert caught.value.service == "evaluation"
    assert caught.value.returncode == 4
    assert "migrating evaluation: relation does not exist" in str(caught.value)
    assert "relation does not exist" in (tmp_path / "logs" / "evaluation.log").read_text()


def test_signing_keys_are_made_once(tmp_path: Path) -> None:
    keys = ensure_signing_keys(tmp_path / "keys")
    assert stat.S_IMODE(keys.private_key_file.stat().st_mode) == 0o600
    private = serialization.load_pem_private_key(keys.private_key_file.read_bytes(), password=None)
    public = serialization.load_pem_public_key(keys.public_key_file.read_bytes())
    assert isinstance(private, Ed25519PrivateKey)
    assert isinstance(public, Ed25519PublicKey)
    assert keys.private_key_file.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert keys.public_key_file.read_text().startswith("-----BEGIN PUBLIC KEY-----")  # SPKI
    public.verify(private.sign(b"token"), b"token")

    before = keys.private_key_file.read_bytes()
    keys.public_key_file.unlink()
    again = ensure_signing_keys(tmp_path / "keys")
    assert again.private_key_file.read_bytes() == before
    assert again.public_key_file.read_bytes() == public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert keys.exchange_key_file is not None
    assert again.exchange_key_file is not None
    # The exchange cursors' key: secret (0600) and kept, or every cursor handed out turns invalid.
    assert stat.S_IMODE(keys.exchange_key_file.stat().st_mode) == 0o600
    assert again.exchange_key_file.read_bytes() == keys.exchange_key_file.read_bytes()
    assert again.env() == {
        "EMPLAN_JWT_PRIVATE_KEY_FILE": str(keys.private_key_file),
        "EMPLAN_JWT_PUBLIC_KEY_FILE": str(keys.public_key_file),
        "EMPLAN_EXCHANGE_CURSOR_KEY_FILE": str(keys.exchange_key_file),
    }


def test_ports_from_the_environment() -> None:
    assert Ports.from_env({}) == Ports()
    assert Ports().services == {
        "plan-registry": 8101,
        "indicator-engine": 8102,
        "task-assignment": 8103,
        "evaluation": 8104,
        "gateway": 8000,
    }
    ports = Ports.from_env(
        {
            "EMPLAN_PG_PORT": "6000",
            "EMPLAN_NATS_PORT": "6001",
            "EMPLAN_PORT": "9000",
            "EMPLAN_SERVICE_PORT_BASE": "9100",
        }
    )
    assert (ports.postgres, ports.nats, ports.nats_monitor) == (6000, 6001, 58222)
    assert ports.services["gateway"] == 9000
    assert ports.services["evaluation"] == 9104
    with pytest.raises(ValueError, match="EMPLAN_PG_PORT"):
        Ports.from_env({"EMPLAN_PG_PORT": "lots"})
    free = Ports.free()
    assert len({free.postgres, free.nats, free.nats_monitor, *free.services.values()}) == 3 + len(SERVICES)


def test_the_gateway_is_told_where_every_service_is(tmp_path: Path) -> None:
    stack = AsyncStack(
        tmp_path,
        external_database_url="postgresql://postgres@db.example:5432/postgres",
        external_nats_url="nats://nats.example:4222",
        services=[spec.name for spec in SERVICES if spec.is_installed()],
    )
    env = stack.child_env("gateway") if "gateway" in stack.service_names else stack.child_env()
    assert env["DATABASE_URL"] == "postgresql://postgres@db.example:5432/postgres"
    assert env["NATS_URL"] == "nats://nats.example:4222"
    if "gateway" in stack.service_names:
        assert env["GATEWAY_PLAN_REGISTRY_URL"] == "http://127.0.0.1:8101"
        assert env["GATEWAY_INDICATOR_ENGINE_URL"] == "http://127.0.0.1:8102"
        assert env["GATEWAY_TASK_ASSIGNMENT_URL"] == "http://127.0.0.1:8103"
        assert env["GATEWAY_EVALUATION_URL"] == "http://127.0.0.1:8104"
        assert stack.gateway_url == "http://127.0.0.1:8000"
    assert "GATEWAY_EVALUATION_URL" not in stack.child_env("evaluation")
    assert (
        stack.service_database_dsn("task-assignment")
        == "postgresql://postgres@db.example:5432/emplan_task_assignment"
    )
