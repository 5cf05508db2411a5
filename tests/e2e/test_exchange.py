"""The exchange API through the gateway, as a provincial platform uses it: a machine client of 吕梁市
(141100) pulls its data values, the data change (a value entered, one corrected, one deleted), it
pulls again and gets exactly the change, tombstone included; a stream broken off after n lines and
resumed from line n's cursor repeats and loses nothing; a county's client (文水县 141121) sees only
its county, and neither a cursor of another client nor a tampered one is accepted.

吕梁 is used by no other e2e test, so the values here are all there is in the subtree.
"""

from __future__ import annotations

import asyncio
import base64
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from emplan_tools.stack import Stack

from .conftest import Login

pytestmark = pytest.mark.e2e

CITY, LISHI, WENSHUI = "141100", "141102", "141121"
VALUES = "/api/v1/indicators/values"
PULL = "/api/v1/exchange/data-values"
NDJSON = {"Accept": "application/x-ndjson"}


@dataclass(frozen=True)
class Party:
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _machine_client(client: httpx.AsyncClient, admin: Login, region: str) -> Party:
    client_id = f"exchange-{uuid.uuid4().hex[:8]}"
    created = await client.post(
        "/api/v1/auth/clients",
        json={"client_id": client_id, "name": "省级平台（测试）", "region_code": region},
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    basic = base64.b64encode(f"{client_id}:{created.json()['client_secret']}".encode()).decode()
    issued = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert issued.status_code == 200, issued.text
    return Party(issued.json()["access_token"])


async def _planner(client: httpx.AsyncClient, admin: Login) -> Party:
    username, password = f"exchange-{uuid.uuid4().hex[:10]}", f"Pw-{uuid.uuid4().hex}"
    created = await client.post(
        "/api/v1/auth/accounts",
        json={
            "username": username,
            "display_name": "吕梁市应急局规划员",
            "roles": ["bureau_planner"],
            "region_code": CITY,
            "password": password,
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    issued = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )
    return Party(issued.json()["access_token"])


@dataclass(frozen=True)
class World:
    planner: Party
    city: Party
    county: Party


@pytest.fixture(scope="module")
async def world(system: Stack, admin: Login) -> World:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        return World(
            planner=await _planner(client, admin),
            city=await _machine_client(client, admin, CITY),
            county=await _machine_client(client, admin, WENSHUI),
        )


async def _enter(client: httpx.AsyncClient, who: Party, region: str, year: int, value: str) -> dict[str, Any]:
    body = {"element_code": "ps_deaths", "region_code": region, "year": year, "value": value}
    response = await client.post(VALUES, json=body, headers=who.headers)
    assert response.status_code in (200, 201), response.text
    return dict(response.json())


async def _stream(client: httpx.AsyncClient, who: Party, **params: str) -> list[dict[str, Any]]:
    response = await client.get(PULL, params=params, headers=who.headers | NDJSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-ndjson"
    return [orjson.loads(line) for line in response.content.splitlines()]


async def _settled(pull: Any, want: int) -> Any:
    """Repeat a pull until it holds `want` items (at most 10 s). A write of any other transaction
    on the server still running when the pull reads holds the commit horizon, and what committed
    after it, back for that moment: a pull is promised to skip nothing, not to see a commit at once.
    Repeating a pull from the same cursor changes nothing."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        result, count = await pull()
        if count >= want or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.05)


class TestExchange:
    async def test_pull_change_pull_again(self, client: httpx.AsyncClient, world: World) -> None:
        a = await _enter(client, world.planner, LISHI, 2021, "12")
        b = await _enter(client, world.planner, WENSHUI, 2021, "3")
        c = await _enter(client, world.planner, CITY, 2021, "20")

        async def full_pull() -> tuple[list[dict[str, Any]], int]:
            rows = await _stream(client, world.city)
            return rows, len(rows) - 1

        first = await _settled(full_pull, 3)
        assert [(r["id"], r["value"], r["deleted"]) for r in first[:-1]] == [
            (a["id"], "12", False),
            (b["id"], "3", False),
            (c["id"], "20", False),
        ]
        assert first[-1]["count"] == 3
        cursor = first[-1]["next_cursor"]
        # The data change: a correction, a deletion, a new value.
        await _enter(client, world.planner, LISHI, 2021, "13")
        deleted = await client.delete(f"{VALUES}/{b['id']}", headers=world.planner.headers)
        assert deleted.status_code == 204
        d = await _enter(client, world.planner, WENSHUI, 2022, "2")

        async def change_pull() -> tuple[dict[str, Any], int]:
            response = await client.get(PULL, params={"cursor": cursor}, headers=world.city.headers)
            assert response.status_code == 200, response.text
            return response.json(), len(response.json()["items"])

        page = await _settled(change_pull, 3)
        assert [(i["id"], i["deleted"], i.get("value"), i.get("version")) for i in page["items"]] == [
            (a["id"], False, "13", 2),
            (b["id"], True, None, None),
            (d["id"], False, "2", 1),
        ]
        assert page["has_more"] is False
        # And then nothing, until something changes again.
        third = await client.get(PULL, params={"cursor": page["next_cursor"]}, headers=world.city.headers)
        assert third.json()["items"] == []

    async def test_interrupted_stream_resumes_without_gap_or_repeat(
        self, system: Stack, world: World
    ) -> None:
        async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
            full = [r for r in await _stream(client, world.city) if "id" in r]
            assert len(full) >= 4
            got: list[dict[str, Any]] = []
            # Read two lines, then drop the connection mid-stream.
            async with client.stream("GET", PULL, headers=world.city.headers | NDJSON) as response:
                async for line in response.aiter_lines():
                    got.append(orjson.loads(line))
                    if len(got) == 2:
                        break
            rest = await _stream(client, world.city, cursor=got[-1]["cursor"])
        resumed = got + rest[:-1]
        assert [r["id"] for r in resumed] == [r["id"] for r in full]
        assert len({(r["id"], r["cursor"]) for r in resumed}) == len(resumed)

    async def test_county_sees_only_its_subtree(self, client: httpx.AsyncClient, world: World) -> None:
        rows = await _stream(client, world.county)
        assert rows[:-1]
        assert {r["region_code"] for r in rows[:-1]} == {WENSHUI}
        outside = await client.get(PULL, params={"region": LISHI}, headers=world.county.headers)
        assert outside.status_code == 404
        assert outside.headers["content-type"] == "application/problem+json"
        assert outside.json()["code"] == "region_not_found"
        # The city's cursor is not the county's, and a cursor changed in one character is nobody's.
        city_cursor = (await client.get(PULL, params={"limit": 1}, headers=world.city.headers)).json()[
            "next_cursor"
        ]
        for who, cursor in [(world.county, city_cursor), (world.city, city_cursor[:-3] + "AAA")]:
            refused = await client.get(PULL, params={"cursor": cursor}, headers=who.headers)
            assert refused.status_code == 400, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["code"] == "invalid_cursor"

    async def test_sdmx_and_dry_run_through_the_gateway(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        dry = await client.get(PULL, params={"dry_run": "true"}, headers=world.county.headers)
        report = dry.json()
        # 文水县: 2021 deleted, 2022 current (entered above).
        assert (report["changed"], report["deleted"]) == (1, 1)
        sdmx = await client.get("/api/v1/exchange/data-values.sdmx.json", headers=world.county.headers)
        assert sdmx.status_code == 200
        assert sdmx.headers["content-type"].startswith("application/vnd.sdmx.data+json")
        areas = sdmx.json()["data"]["structures"][0]["dimensions"]["observation"][1]
        assert (areas["id"], [v["id"] for v in areas["values"]]) == ("REF_AREA", [WENSHUI])
