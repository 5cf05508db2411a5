"""Push to a provincial platform, shown with two real nats-servers on this machine: a county
deployment (JetStream domain `emplan-140902`, accepting leaf nodes) whose events are written through
the real transactional outbox and relay of `emplan_shared`, and a provincial server (domain
`emplan-140000`) connected to it as a leaf node, whose stream sources the county's `EMPLAN_EVENTS`
through the county's domain API with the subject prefixed by the county's code.

The link is cut twice: by stopping the provincial server (it comes back with its store), and by a
network failure while both servers keep running (a TCP relay in the test, closed and reopened).
The county keeps writing meanwhile; every event reaches the province once, in the county's order."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import orjson
import pytest
from nats.js.errors import NotFoundError
from pydantic import BaseModel
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared.db import create_engine, create_sessionmaker, new_metadata
from emplan_shared.events import new_event
from emplan_shared.messaging.broker import EVENTS_STREAM, Broker
from emplan_shared.messaging.outbox import OutboxRelay, enqueue
from emplan_shared.messaging.tables import (
    MessagingTables,
    add_messaging_tables,
    recreate_without_migrations,
)
from emplan_shared.migrate import ensure_database
from emplan_shared.settings import with_database
from emplan_tools.infra import NatsServer
from emplan_tools.processes import free_ports
from emplan_tools.push import (
    SUBTREE_STREAM,
    Listen,
    county_config,
    province_config,
    subtree_stream,
)

pytestmark = pytest.mark.integration

COUNTY, PROVINCE = "140902", "140000"
HOST = "127.0.0.1"


class Noted(BaseModel):
    n: int


class Link:
    """The leaf-node link between the two servers as a TCP relay this test can cut and restore
    while both servers keep running (a network failure rather than a stopped server)."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def up(self) -> None:
        self.server = await asyncio.start_server(self._relay, HOST, self.port)

    async def down(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        self.server = None

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(HOST, self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers += [writer, upstream_writer]
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()


async def _leaf_links(monitor_port: int) -> int:
    async with httpx.AsyncClient(trust_env=False, timeout=2) as client:
        return int((await client.get(f"http://{HOST}:{monitor_port}/leafz")).json()["leafnodes"])


async def _until_links(monitor_port: int, count: int) -> None:
    deadline = time.monotonic() + 10
    while await _leaf_links(monitor_port) != count:
        assert time.monotonic() < deadline, f"the province never had {count} leaf-node links"
        await asyncio.sleep(0.05)


class Deployment(NatsServer):
    """A nats-server started from a configuration written by `emplan_tools.push`."""

    def __init__(self, data_dir: Path, config: str, *, port: int, monitor_port: int) -> None:
        super().__init__(data_dir, port=port, monitor_port=monitor_port, log_file=data_dir / "nats.log")
        self.config = config

    def write_config(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(self.config)
        return self.config_file


@pytest.fixture
async def county_db(infra) -> AsyncIterator[tuple[AsyncEngine, MessagingTables]]:  # type: ignore[no-untyped-def]
    url = with_database(infra.database_url, "emplan_test_push")
    await ensure_database(url)
    metadata: MetaData = new_metadata()
    tables = add_messaging_tables(metadata)
    engine = create_engine(url, pool_size=2)
    async with engine.begin() as connection:
        await recreate_without_migrations(connection, metadata)
    yield engine, tables
    await engine.dispose()


async def _write(engine: AsyncEngine, tables: MessagingTables, event_type: str, numbers: range) -> list[str]:
    """One committed transaction per event, as the services write them; the event ids in order."""
    ids = []
    sessionmaker = create_sessionmaker(engine)
    for n in numbers:
        event = new_event(type=event_type, source=f"/emplan/{COUNTY}", data=Noted(n=n))
        async with sessionmaker() as session, session.begin():
            await enqueue(session, tables.outbox_event, event)
        ids.append(event.id)
    return ids


async def _province_events(url: str, expected: int, timeout: float) -> list[tuple[str, str, int]]:
    """(subject, event id, stream sequence) of the provincial stream once it holds `expected`."""
    client = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        js = client.jetstream()
        deadline = time.monotonic() + timeout
        held = 0
        while True:
            with contextlib.suppress(NotFoundError):
                info = await js.stream_info(SUBTREE_STREAM)
                held = info.state.messages
            if held >= expected:
                break
            assert time.monotonic() < deadline, f"the province holds {held} of {expected} events"
            await asyncio.sleep(0.1)
        events = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            message = await js.get_msg(SUBTREE_STREAM, seq)
            assert message.data is not None
            events.append((str(message.subject), str(orjson.loads(message.data)["id"]), seq))
        return events
    finally:
        await client.close()


async def test_county_events_reach_the_province_and_resume_after_the_link_drops(
    county_db: tuple[AsyncEngine, MessagingTables], tmp_path: Path
) -> None:
    engine, tables = county_db
    county_port, leaf_port, county_monitor, province_port, province_monitor, link_port = free_ports(6)
    county = Deployment(
        tmp_path / "county",
        county_config(
            COUNTY,
            client=Listen(HOST, county_port),
            leafnodes=Listen(HOST, leaf_port),
            store_dir=tmp_path / "county",
            monitor=Listen(HOST, county_monitor),
        ),
        port=county_port,
        monitor_port=county_monitor,
    )
    province = Deployment(
        tmp_path / "province",
        province_config(
            PROVINCE,
            client=Listen(HOST, province_port),
            store_dir=tmp_path / "province",
            counties=[f"nats-leaf://{HOST}:{link_port}"],
            monitor=Listen(HOST, province_monitor),
        ),
        port=province_port,
        monitor_port=province_monitor,
    )
    event_type = f"emplan.test.t{uuid.uuid4().hex[:12]}.noted"
    broker = Broker(county.url, name="county-relay")
    relay = OutboxRelay(engine=engine, outbox=tables.outbox_event, broker=broker, poll_interval=0.2)
    link = Link(link_port, leaf_port)
    try:
        await link.up()
        await county.start()
        await province.start()
        broker.start()  # creates EMPLAN_EVENTS in the county, as every service does
        await asyncio.wait_for(broker.ready.wait(), timeout=10)
        relay.start()

        # The province sources the county, through the county's domain API over the leaf link.
        client = await nats.connect(province.url)
        try:
            await client.jetstream().add_stream(subtree_stream([COUNTY]))
        finally:
            await client.close()

        first = await _write(engine, tables, event_type, range(0, 5))
        arrived = await _province_events(province.url, 5, timeout=10)
        assert [event_id for _, event_id, _ in arrived] == first
        assert {subject for subject, _, _ in arrived} == {f"county.{COUNTY}.{event_type}"}

        # The link drops: the provincial server stops. The county keeps writing.
        await province.stop()
        second = await _write(engine, tables, event_type, range(5, 12))
        local = await nats.connect(county.url)
        try:
            deadline = time.monotonic() + 10
            while (await local.jetstream().stream_info(EVENTS_STREAM)).state.messages < 12:
                assert time.monotonic() < deadline, "the relay did not publish in the county"
                await asyncio.sleep(0.05)
        finally:
            await local.close()

        # The link comes back: the province resumes where it was, nothing lost, nothing twice.
        await province.start()
        third = await _write(engine, tables, event_type, range(12, 15))
        # (Usually within 0.3 s; when the source's first attempt races the leaf link, the server
        # retries it after a back-off, hence the generous limit.)
        arrived = await _province_events(province.url, 15, timeout=60)
        assert [event_id for _, event_id, _ in arrived] == first + second + third
        assert [seq for _, _, seq in arrived] == list(range(1, 16))

        # The network fails, both servers stay up: the county keeps writing, nothing crosses.
        await link.down()
        await _until_links(province_monitor, 0)
        fourth = await _write(engine, tables, event_type, range(15, 20))
        await asyncio.sleep(0.5)
        assert len(await _province_events(province.url, 15, timeout=5)) == 15
        # The network is back: the province's server reconnects (every second) and catches up.
        await link.up()
        arrived = await _province_events(province.url, 20, timeout=60)
        assert [event_id for _, event_id, _ in arrived] == first + second + third + fourth
        assert await _leaf_links(province_monitor) == 1
    finally:
        if link.server is not None:
            await link.down()
        await relay.stop()
        await broker.close()
        await province.stop()
        await county.stop()
