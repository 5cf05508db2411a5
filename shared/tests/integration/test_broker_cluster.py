"""The broker given several servers, the first one down: it connects to the next (what a NATS
cluster member going away looks like at start) and the streams have the configured copies."""

from __future__ import annotations

import asyncio
import socket

import pytest

from emplan_shared.messaging.broker import EVENTS_STREAM, Broker

pytestmark = pytest.mark.integration


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_connects_past_a_server_that_is_down(infra) -> None:  # type: ignore[no-untyped-def]
    broker = Broker(
        f"nats://127.0.0.1:{_closed_port()},{infra.nats_url}", name="cluster-test", stream_replicas=1
    )
    broker.start()
    try:
        await asyncio.wait_for(broker.ready.wait(), timeout=20)
        assert broker.nc is not None
        assert broker.nc.connected_url is not None
        assert f":{broker.nc.connected_url.port}" in infra.nats_url
        assert broker.js is not None
        info = await broker.js.stream_info(EVENTS_STREAM)
        assert info.config.num_replicas == 1
    finally:
        await broker.close()
