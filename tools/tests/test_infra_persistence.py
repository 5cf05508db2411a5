"""PostgreSQL and NATS of the standalone runner, for real: they start, keep their data across
restarts and crashes, and refuse clearly when something is in the way."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import asyncpg
import httpx
import nats
import psutil
import pytest
from nats.js.api import StorageType, StreamConfig

from emplan_tools.infra import postgres_run_as
from emplan_tools.processes import PortInUseError
from emplan_tools.stack import AsyncStack, DataDirLockedError, Ports, Stack

pytestmark = pytest.mark.integration


async def _write_row(database_url: str, value: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("CREATE TABLE IF NOT EXISTS kept (value text)")
        await connection.execute("INSERT INTO kept VALUES ($1)", value)
    finally:
        await connection.close()


async def _read_rows(database_url: str) -> list[str]:
    connection = await asyncpg.connect(database_url)
    try:
        return [row["value"] for row in await connection.fetch("SELECT value FROM kept ORDER BY value")]
    finally:
        await connection.close()


async def _publish(nats_url: str, payload: bytes) -> int:
    connection = await nats.connect(nats_url)
    try:
        js = connection.jetstream()
        await js.add_stream(StreamConfig(name="KEPT", subjects=["kept.>"], storage=StorageType.FILE))
        ack = await js.publish("kept.one", payload)
        return ack.seq
    finally:
        await connection.close()


async def _stored(nats_url: str, seq: int) -> bytes:
    connection = await nats.connect(nats_url)
    try:
        message = await connection.jetstream().get_msg("KEPT", seq)
        return message.data or b""
    finally:
        await connection.close()


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


async def test_infra_starts_and_keeps_its_data_across_a_restart(tmp_path: Path) -> None:
    ports = Ports.free()
    stack = AsyncStack(tmp_path, ports=ports)
    database_url, nats_url = await stack.start_infra()
    assert database_url == f"postgresql://postgres@127.0.0.1:{ports.postgres}/postgres"
    assert nats_url == f"nats://127.0.0.1:{ports.nats}"
    try:
        connection = await asyncpg.connect(database_url)
        try:
            settings = {
                name: await connection.fetchval(f"SHOW {name}")
                for name in ("fsync", "max_connections", "server_encoding", "listen_addresses", "port")
            }
        finally:
            await connection.close()
        assert settings == {
            "fsync": "on",
            "max_connections": "200",
            "server_encoding": "UTF8",
            "listen_addresses": "127.0.0.1",
            "port": str(ports.postgres),
        }
        async with httpx.AsyncClient(trust_env=False) as client:
            varz = (await client.get(f"http://127.0.0.1:{ports.nats_monitor}/varz")).json()
        assert varz["jetstream"]["config"]["sync_always"] is True
        assert Path(varz["jetstream"]["config"]["store_dir"]) == tmp_path / "nats" / "jetstream"

        await _write_row(database_url, "before restart")
        seq = await _publish(nats_url, "事件".encode())

        # The data directory is this stack's while it runs.
        with pytest.raises(DataDirLockedError, match="in use by another"):
            await AsyncStack(tmp_path, ports=Ports.free()).start_infra()
    finally:
        await stack.stop_all()
    assert stack.postgres is not None
    assert stack.nats is not None
    assert stack.postgres.process is not None
    assert stack.nats.process is not None
    assert not _alive(stack.postgres.process.pid)
    assert not _alive(stack.nats.process.pid)
    assert not (tmp_path / "postgres" / "postmaster.pid").exists()

    again = AsyncStack(tmp_path, ports=ports)
    await again.start_infra()
    try:
        assert await _read_rows(database_url) == ["before restart"]
        assert await _stored(nats_url, seq) == "事件".encode()
    finally:
        await again.stop_all()


async def test_nats_stop_start_and_kill_keep_the_stream(tmp_path: Path) -> None:
    stack = AsyncStack(tmp_path, ports="auto", external_database_url="postgresql://unused@127.0.0.1:1/x")
    nats_url = await stack.start_nats()
    try:
        seq = await _publish(nats_url, b"first")
        await stack.stop_nats()
        assert await stack.start_nats() == nats_url  # the same port
        assert await _stored(nats_url, seq) == b"first"
        seq2 = await _publish(nats_url, b"second")
        await stack.kill_nats()
        assert stack.unexpected_exits == []  # killed on purpose: not a failure
        await stack.start_nats()
        assert await _stored(nats_url, seq2) == b"second"
    finally:
        await stack.stop_all()


async def test_a_stale_postmaster_pid_does_not_prevent_the_next_start(tmp_path: Path) -> None:
    # The synchronous facade, driven from inside this test's running event loop.
    stack = Stack(tmp_path, free_ports=True, external_nats_url="nats://127.0.0.1:1")
    try:
        database_url = stack.start_postgres()
        await _write_row(database_url, "survives a crash")
        stack.kill_postgres()  # SIGKILL: postmaster.pid stays behind
        pid_file = tmp_path / "postgres" / "postmaster.pid"
        assert pid_file.exists()

        # Worse: after a reboot its pid belongs to a live process of the same user. PostgreSQL alone
        # would refuse to start ("lock file already exists").
        run_as = postgres_run_as()
        impostor = subprocess.Popen(
            ["sleep", "60"],
            user=run_as.uid if run_as else None,
            group=run_as.gid if run_as else None,
        )
        try:
            lines = pid_file.read_text().splitlines()
            pid_file.write_text("\n".join([str(impostor.pid), *lines[1:]]) + "\n")
            assert stack.start_postgres() == database_url
            assert await _read_rows(database_url) == ["survives a crash"]
            assert impostor.poll() is None  # not ours: left alone
        finally:
            impostor.send_signal(signal.SIGKILL)
            impostor.wait()
    finally:
        stack.close()


async def test_a_port_in_use_gives_a_clear_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        free = Ports.free()
        stack = AsyncStack(
            tmp_path, ports=Ports(postgres=port, nats=free.nats, nats_monitor=free.nats_monitor)
        )
        with pytest.raises(PortInUseError) as caught:
            await stack.start_infra()
        await stack.stop_all()
    message = str(caught.value)
    assert f"port {port}" in message
    assert "PostgreSQL" in message
    assert "EMPLAN_PG_PORT" in message
    assert f"pid {os.getpid()}" in message  # who holds it
    assert stack.nats is not None
    assert not stack.nats.running  # its concurrent start was called off
