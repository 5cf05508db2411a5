"""`/metrics` and `/readyz/details` of an app built by the shared factory, on the real PostgreSQL and
JetStream: requests counted by route template, the outbox backlog, a consumer's lag, its dead letters,
and who may read them."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import ClassVar

import httpx
import nats
import orjson
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel
from pydantic_settings import SettingsConfigDict
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.app import create_service_app
from emplan_shared.db import create_engine, new_metadata
from emplan_shared.events import CloudEvent, new_event
from emplan_shared.messaging.consumer import Consumer
from emplan_shared.messaging.outbox import enqueue
from emplan_shared.messaging.tables import (
    add_messaging_tables,
    recreate_without_migrations,
)
from emplan_shared.migrate import ensure_database
from emplan_shared.settings import ServiceSettings, with_database

pytestmark = pytest.mark.integration


class _Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="METRICS_TEST_", extra="ignore")
    service_name: ClassVar[str] = "metrics-test"


class Note(BaseModel):
    value: int


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    durable: str
    event_type: str


things = APIRouter()


@things.get("/things/{thing_id:int}")
async def get_thing(thing_id: int) -> dict[str, int]:
    return {"id": thing_id}


async def _wait_for(condition: Callable[[], Awaitable[bool] | bool], timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if isinstance(result, Awaitable):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


def _sample(body: str, name: str, **labels: str) -> float | None:
    """The value of one sample in the Prometheus text format (labels matched exactly)."""
    for line in body.splitlines():
        match = re.fullmatch(r"([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        if found == labels:
            return float(match.group(4))
    return None


async def _start(infra, prefix: str, *, token: str | None = None, operator_open: bool = True):  # type: ignore[no-untyped-def]
    url = with_database(infra.database_url, prefix + "metrics_test")
    await ensure_database(url)
    metadata = new_metadata()
    messaging = add_messaging_tables(metadata)
    engine = create_engine(url, pool_size=2)
    async with engine.begin() as connection:
        await recreate_without_migrations(connection, metadata)
    await engine.dispose()

    event_type = f"emplan.test.m{uuid.uuid4().hex}.noted"
    durable = f"metrics-test-{uuid.uuid4().hex[:8]}"

    gate = asyncio.Event()

    async def handler(session: AsyncSession, event: CloudEvent) -> None:
        if event.data["value"] < 0:
            raise ValueError("a poison event")
        if event.data["value"] >= 100:
            await gate.wait()  # holds the consumer, so what comes after waits in the stream

    consumer = Consumer(
        durable=durable, handlers={event_type: handler}, max_attempts=2, retry_base_delay=0.01
    )
    settings = _Settings(
        DATABASE_URL=infra.database_url,
        EMPLAN_DATABASE_PREFIX=prefix,
        NATS_URL=infra.nats_url,
        EMPLAN_METRICS_SAMPLE_SECONDS=0.1,
        EMPLAN_METRICS_TOKEN=token,
        EMPLAN_LOG_LEVEL="WARNING",
    )
    app = create_service_app(
        settings=settings,
        title="metrics test",
        description="",
        routers=[things],
        messaging=messaging,
        consumers=[consumer],
        operator_open=operator_open,
    )
    app.state.test_gate = gate
    return app, durable, event_type


@pytest.fixture(scope="module")
async def running(infra) -> AsyncIterator[Running]:  # type: ignore[no-untyped-def]
    app, durable, event_type = await _start(infra, "emplan_")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            await _wait_for(lambda: app.state.broker.ready.is_set())
            yield Running(app, client, durable, event_type)
            app.state.test_gate.set()


async def _scrape(running: Running) -> str:
    response = await running.client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


class TestMetrics:
    async def test_requests_are_counted_by_route_template(self, running: Running) -> None:
        for path in ("/things/1", "/things/2", "/things/3", "/nowhere/at/all"):
            await running.client.get(path)
        body = await _scrape(running)
        assert (
            _sample(
                body, "emplan_http_requests_total", method="GET", route="/things/{thing_id}", status="200"
            )
            == 3
        )
        assert (
            _sample(body, "emplan_http_requests_total", method="GET", route="<unmatched>", status="404") == 1
        )
        assert (
            _sample(
                body, "emplan_http_request_duration_seconds_count", method="GET", route="/things/{thing_id}"
            )
            == 3
        )
        # The raw paths never become labels, and the scrape does not count itself.
        assert "/things/1" not in body
        assert 'route="/metrics"' not in body

    async def test_consumer_outcomes_dead_letters_lag_and_outbox_backlog(self, running: Running) -> None:
        app = running.app
        stats = app.state.consumers[0].consumer.stats
        events = [
            new_event(type=running.event_type, source="/emplan/test", data=Note(value=v)) for v in (1, 2, -1)
        ]
        async with app.state.sessionmaker() as session, session.begin():
            for event in events:
                await enqueue(session, app.state.messaging.outbox_event, event)
        # Two applied; the poison one fails twice (max_attempts=2) and is dead-lettered.
        await _wait_for(lambda: stats.applied == 2 and stats.dead_lettered == 1)

        # Lag: the consumer is held by the first of four events; the others wait in the stream.
        connection = await nats.connect(app.state.settings.nats_url)
        try:
            js = connection.jetstream()
            for value in range(100, 104):
                event = new_event(type=running.event_type, source="/emplan/test", data=Note(value=value))
                await js.publish(event.nats_subject, orjson.dumps(event.model_dump(mode="json")))
        finally:
            await connection.close()
        # Backlog: three committed rows on a subject no stream takes stay unpublished (and are retried).
        outbox = app.state.messaging.outbox_event
        async with app.state.engine.begin() as db:
            for _ in range(3):
                await db.execute(
                    insert(outbox).values(
                        event_id=str(uuid.uuid4()), subject="unrouted.metrics.test", envelope={}
                    )
                )

        def lag(body: str) -> tuple[float | None, float | None]:
            pending = _sample(body, "emplan_consumer_pending", consumer=running.durable)
            ack_pending = _sample(body, "emplan_consumer_ack_pending", consumer=running.durable)
            return pending, ack_pending

        async def settled() -> bool:
            body = await _scrape(running)
            pending, ack_pending = lag(body)
            return (
                pending is not None
                and ack_pending is not None
                and pending + ack_pending == 4
                and ack_pending >= 1
                and _sample(body, "emplan_outbox_backlog") == 3
            )

        await _wait_for(settled)
        body = await _scrape(running)
        durable = running.durable
        assert _sample(body, "emplan_consumer_events_total", consumer=durable, outcome="applied") == 2
        assert _sample(body, "emplan_consumer_dead_lettered_total", consumer=durable) == 1
        # Failed twice: the first try and its one redelivery.
        assert _sample(body, "emplan_consumer_failures_total", consumer=durable) == 2
        assert _sample(body, "emplan_consumer_redeliveries_total", consumer=durable) == 1
        assert _sample(body, "emplan_dead_letters", consumer=durable) == 1
        pending, ack_pending = lag(body)
        assert pending is not None
        assert ack_pending is not None
        assert pending + ack_pending == 4
        assert pending >= 1
        assert (_sample(body, "emplan_outbox_published_total") or 0) >= 3
        assert (_sample(body, "emplan_outbox_oldest_unpublished_age_seconds") or -1) >= 0

        details = await running.client.get("/readyz/details")
        assert details.status_code == 200
        view = details.json()
        assert view["service"] == "metrics-test"
        assert view["status"] == "ready"
        assert view["checks"] == {"database": "ok", "nats": "ok"}
        assert view["outbox"]["backlog"] == 3
        consumer = view["consumers"][durable]
        assert consumer["pending"] + consumer["ack_pending"] == 4
        assert consumer["dead_letters"] == 1
        assert consumer["stats"]["applied"] == 2
        async with app.state.engine.begin() as db:
            await db.execute(outbox.delete().where(outbox.c.subject == "unrouted.metrics.test"))


class TestWhoMayRead:
    async def test_metrics_token_and_public_port(self, infra) -> None:  # type: ignore[no-untyped-def]
        app, _, _ = await _start(infra, "emplan_guard_", token="s3cret-metrics", operator_open=False)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway") as client,
        ):
            for path in ("/metrics", "/readyz/details"):
                anonymous = await client.get(path)
                assert anonymous.status_code == 401
                assert anonymous.headers["content-type"] == "application/problem+json"
                assert anonymous.json()["code"] == "token_missing"
                wrong = await client.get(path, headers={"Authorization": "Bearer not-the-token"})
                assert wrong.status_code == 401
                right = await client.get(path, headers={"Authorization": "Bearer s3cret-metrics"})
                assert right.status_code in (200, 503), path
            # /readyz stays open for the orchestrator's probes.
            assert (await client.get("/readyz")).status_code in (200, 503)
