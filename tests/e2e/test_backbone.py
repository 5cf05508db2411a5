"""Proof of the event backbone, end to end through the gateway: a department created in
plan-registry reaches task-assignment through the outbox, JetStream and a durable consumer, and is
applied exactly once — also when the broker is down at the time of the write, when the consumer is
killed mid-way, when the event is delivered twice, and when PostgreSQL crashes while events flow."""

from __future__ import annotations

import asyncio
import random
import uuid

import asyncpg
import httpx
import nats
import orjson
import pytest
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig, DeliverPolicy

from emplan_shared.messaging.broker import EVENTS_STREAM
from emplan_tools.stack import Stack

from .conftest import Login

pytestmark = pytest.mark.e2e

DIRECTORY_CONSUMER = "task-assignment-directory"


async def new_city(client: httpx.AsyncClient, admin: Login) -> str:
    """A fresh province and city of our own, so tests never share departments."""
    while True:
        province = f"{random.randint(71, 99)}0000"
        city = f"{province[:2]}{random.randint(1, 99):02d}00"
        await client.post(
            "/api/v1/directory/regions",
            json={"code": province, "name": f"测试省{province}", "level": "province"},
            headers=admin.headers,
        )
        response = await client.post(
            "/api/v1/directory/regions",
            json={"code": city, "name": f"测试市{city}", "level": "city", "parent_code": province},
            headers=admin.headers,
        )
        if response.status_code == 201:
            return city
        assert response.status_code == 409, response.text


async def create_department(client: httpx.AsyncClient, admin: Login, city: str, name: str) -> str:
    response = await client.post(
        "/api/v1/directory/departments",
        json={"region_code": city, "name": name, "aliases": [name.replace("管理", "")]},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def wait_until_known(
    client: httpx.AsyncClient, admin: Login, department_id: str, timeout: float = 30
) -> dict:  # type: ignore[type-arg]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(
            f"/api/v1/tasks/departments/{department_id}/workload", headers=admin.headers
        )
        if response.status_code == 200:
            return response.json()  # type: ignore[no-any-return]
        assert response.status_code in (404, 502, 503), response.text
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"department {department_id} never reached task-assignment")
        await asyncio.sleep(0.1)


async def applied_changes(system: Stack, department_ids: list[str]) -> dict[str, int]:
    """How many times task-assignment applied a directory event to each department (from its DB)."""
    connection = await asyncpg.connect(system.service_database_dsn("task-assignment"))
    try:
        rows = await connection.fetch(
            "SELECT department_id::text AS id, count(*) AS n FROM department_change"
            " WHERE department_id = ANY($1::uuid[]) GROUP BY department_id",
            department_ids,
        )
    finally:
        await connection.close()
    return {row["id"]: row["n"] for row in rows}


async def find_event(system: Stack, department_id: str) -> Msg:
    """The department's creation event as it lies in the stream."""
    connection = await nats.connect(system.nats_url)
    try:
        reader = await connection.jetstream().pull_subscribe(
            "emplan.directory.department.created",
            stream=EVENTS_STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
        )
        while True:
            for message in await reader.fetch(100, timeout=5):
                if f"department/{department_id}".encode() in message.data:
                    return message
    finally:
        await connection.close()


class TestBackbone:
    async def test_a_write_in_one_service_is_applied_once_in_another(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city = await new_city(client, admin)
        department_id = await create_department(client, admin, city, "市应急管理局")
        seen = await wait_until_known(client, admin, department_id)
        assert seen["name"] == "市应急管理局"
        assert seen["region_code"] == city
        assert seen["history_length"] == 1
        assert await applied_changes(system, [department_id]) == {department_id: 1}

    async def test_broker_down_at_write_time(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        if system.nats_is_external:
            pytest.skip("the broker is an external server: not ours to stop")
        city = await new_city(client, admin)
        system.stop_nats()
        try:
            # The write commits with its outbox row while the broker is away.
            department_id = await create_department(client, admin, city, "市水利局")
            await asyncio.sleep(1.0)
            response = await client.get(
                f"/api/v1/tasks/departments/{department_id}/workload", headers=admin.headers
            )
            assert response.status_code == 404
        finally:
            system.start_nats()
        seen = await wait_until_known(client, admin, department_id, timeout=60)
        assert seen["history_length"] == 1
        assert await applied_changes(system, [department_id]) == {department_id: 1}

    async def test_consumer_killed_mid_way(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city = await new_city(client, admin)
        ids = await asyncio.gather(
            *(create_department(client, admin, city, f"测试部门{i:03d}") for i in range(150))
        )
        # Kill it while it works through the backlog, then bring it back.
        await wait_until_known(client, admin, ids[0])
        system.kill_service("task-assignment")
        await asyncio.sleep(0.5)
        system.start_service("task-assignment")
        for department_id in ids:
            await wait_until_known(client, admin, department_id, timeout=60)
        assert await applied_changes(system, list(ids)) == dict.fromkeys(ids, 1)

    async def test_event_delivered_twice(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city = await new_city(client, admin)
        department_id = await create_department(client, admin, city, "市消防救援支队")
        await wait_until_known(client, admin, department_id)
        original = await find_event(system, department_id)
        connection = await nats.connect(system.nats_url)
        try:
            js = connection.jetstream()
            # Publish the event again under a new message id, which JetStream's de-duplication does
            # not catch: the consumer receives it a second time.
            ack = await js.publish(
                original.subject, original.data, headers={"Nats-Msg-Id": f"replay-{uuid.uuid4()}"}
            )
            # Wait until the durable consumer has acknowledged the copy.
            for _ in range(300):
                info = await js.consumer_info(EVENTS_STREAM, DIRECTORY_CONSUMER)
                if info.ack_floor.stream_seq >= ack.seq and info.num_ack_pending == 0:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the consumer did not take the second delivery")
        finally:
            await connection.close()
        workload = (
            await client.get(f"/api/v1/tasks/departments/{department_id}/workload", headers=admin.headers)
        ).json()
        assert workload["history_length"] == 1
        assert await applied_changes(system, [department_id]) == {department_id: 1}

    async def test_postgres_crash_while_events_flow(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        """PostgreSQL SIGKILLed while departments are being written, relayed and applied, then
        started again (crash recovery): every write that was accepted (201) is applied exactly once;
        the writes the crash interrupted are refused, never half-done."""
        if system.database_is_external:
            pytest.skip("the database is an external server: not ours to kill")
        city = await new_city(client, admin)

        async def attempt(name: str) -> str | None:
            try:
                response = await client.post(
                    "/api/v1/directory/departments",
                    json={"region_code": city, "name": name},
                    headers=admin.headers,
                )
            except httpx.HTTPError:
                return None
            if response.status_code == 201:
                return str(response.json()["id"])
            assert response.status_code >= 500, response.text  # the crash's, not the input's
            assert response.headers["content-type"] == "application/problem+json"
            return None

        async def write(count: int, prefix: str) -> list[str | None]:
            accepted: list[str | None] = []
            for i in range(count):
                accepted.append(await attempt(f"{prefix}{i:03d}"))
                await asyncio.sleep(0.01)
            return accepted

        writing = asyncio.create_task(write(150, "崩溃前后部门"))
        await asyncio.sleep(0.6)
        system.kill_postgres()
        await asyncio.sleep(0.5)
        system.start_postgres()
        accepted = [department_id for department_id in await writing if department_id]
        # And writes after the restart go through again (the pools replaced their dead connections).
        deadline = asyncio.get_running_loop().time() + 30
        while (after := await attempt("崩溃后部门")) is None:
            assert asyncio.get_running_loop().time() < deadline, "writes still refused after the restart"
            await asyncio.sleep(0.5)
        accepted.append(after)
        assert len(accepted) > 10
        for department_id in accepted:
            await wait_until_known(client, admin, department_id, timeout=60)
        assert await applied_changes(system, accepted) == dict.fromkeys(accepted, 1)

    async def test_the_request_id_travels_into_the_event(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city = await new_city(client, admin)
        request_id = f"trace-{uuid.uuid4().hex}"
        response = await client.post(
            "/api/v1/directory/departments",
            json={"region_code": city, "name": "市气象局"},
            headers=admin.headers | {"x-request-id": request_id},
        )
        assert response.status_code == 201
        event = orjson.loads((await find_event(system, response.json()["id"])).data)
        assert event["requestid"] == request_id
        assert event["regioncode"] == city
        assert event["specversion"] == "1.0"
