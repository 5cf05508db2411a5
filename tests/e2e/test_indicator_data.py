"""Indicator data values through the gateway: one value entered and corrected, a GBK CSV with bad rows
(refused whole, then loaded partially), an .xlsx upload, approval bottom-up from the counties of
运城市 (140800: 盐湖区 140802, 临猗县 140821, 万荣县 140822) to the city, and a deletion reaching
the event stream."""

from __future__ import annotations

import io
from typing import Any

import httpx
import nats
import orjson
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy
from openpyxl import Workbook

from emplan_shared.messaging.broker import EVENTS_STREAM
from emplan_tools.stack import Stack

from .conftest import Login, login

pytestmark = pytest.mark.e2e

CITY, YANHU, LINYI, WANRONG = "140800", "140802", "140821", "140822"
VALUES = "/api/v1/indicators/values"


@pytest.fixture(scope="module")
def planner(system: Stack) -> Login:
    return login(system, roles=["bureau_planner"], region=CITY)


@pytest.fixture(scope="module")
def reporter(system: Stack) -> Login:
    return login(system, roles=["department_reporter"], region=YANHU)


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _value_event(system: Stack, value_id: int, action: str) -> dict[str, Any]:
    """The value's event with that action, as it lies in the stream."""
    connection = await nats.connect(system.nats_url)
    try:
        reader = await connection.jetstream().pull_subscribe(
            "emplan.indicator.value.changed",
            stream=EVENTS_STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
        )
        for _ in range(20):
            try:
                messages = await reader.fetch(100, timeout=2)
            except TimeoutError:
                continue
            for message in messages:
                await message.ack()
                event = orjson.loads(message.data)
                if event["data"]["value_id"] == value_id and event["data"]["action"] == action:
                    return dict(event)
        raise AssertionError(f"no {action} event for value {value_id}")
    finally:
        await connection.close()


class TestIndicatorData:
    async def test_enter_and_correct(self, client: httpx.AsyncClient, reporter: Login) -> None:
        body = {
            "element_code": "fire_deaths",
            "region_code": YANHU,
            "year": 2022,
            "value": "4",
            "source": "消防年报",
        }
        created = await _json(await client.post(VALUES, json=body, headers=reporter.headers), 201)
        corrected = await _json(
            await client.post(VALUES, json=body | {"value": "５"}, headers=reporter.headers)
        )
        assert (corrected["id"], corrected["value"], corrected["version"]) == (created["id"], "5", 2)
        history = await _json(await client.get(f"{VALUES}/{created['id']}/history", headers=reporter.headers))
        assert [v["value"] for v in history["versions"]] == ["4", "5"]
        outside = await client.post(VALUES, json=body | {"region_code": LINYI}, headers=reporter.headers)
        assert outside.status_code == 403
        assert outside.headers["content-type"] == "application/problem+json"

    async def test_gbk_csv_with_bad_rows(self, client: httpx.AsyncClient, planner: Login) -> None:
        text = "\n".join(
            [
                "数据元素,行政区划代码,年份,数值",
                f"road_traffic_deaths,{YANHU},2022,7",  # 2
                f'road_traffic_deaths,{LINYI},2022,"1,024"',  # 3 thousands separator
                f"road_traffic_deaths,{WANRONG},2022,NaN",  # 4
                "road_traffic_deaths,149999,2022,1",  # 5 unknown region
                f"road_traffic_deaths,{WANRONG},2040,1",  # 6 year outside the range
                f"road_traffic_deaths,{CITY},２０２２,１５",  # 7 full-width, fine
            ]
        ).encode("gbk")
        files = {"file": ("道路交通.csv", text, "text/csv")}
        refused = await client.post(f"{VALUES}/upload", files=files, headers=planner.headers)
        problem = await _json(refused, 422)
        assert problem["code"] == "bulk_rejected"
        assert {(item["line"], item["code"]) for item in problem["errors"]} == {
            (3, "thousands_separator"),
            (4, "not_finite"),
            (5, "unknown_region"),
            (6, "year_out_of_range"),
        }
        listed = await _json(
            await client.get(VALUES, params={"element_code": "road_traffic_deaths"}, headers=planner.headers)
        )
        assert listed["items"] == []  # nothing half-written
        report = await _json(
            await client.post(
                f"{VALUES}/upload", params={"partial": "true"}, files=files, headers=planner.headers
            )
        )
        assert (report["rows_total"], report["rows_inserted"], report["rows_rejected"]) == (6, 2, 4)
        listed = await _json(
            await client.get(VALUES, params={"element_code": "road_traffic_deaths"}, headers=planner.headers)
        )
        assert {(item["region_code"], item["value"]) for item in listed["items"]} == {
            (YANHU, "7"),
            (CITY, "15"),
        }

    async def test_xlsx(self, client: httpx.AsyncClient, planner: Login) -> None:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(["行政区划代码", "数据元素", "年份", "数值", "单位"])
        for region, value in ((YANHU, 110.5), (LINYI, 62), (WANRONG, 48)):
            sheet.append([region, "resident_population", 2022, value, "万人"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        files = {"file": ("人口.xlsx", buffer.getvalue())}
        report = await _json(await client.post(f"{VALUES}/upload", files=files, headers=planner.headers))
        assert (report["format"], report["rows_inserted"]) == ("xlsx", 3)
        listed = await _json(
            await client.get(
                VALUES, params={"element_code": "resident_population", "below": CITY}, headers=planner.headers
            )
        )
        assert {item["region_code"]: item["value"] for item in listed["items"]} == {
            YANHU: "1105000.0",
            LINYI: "620000",
            WANRONG: "480000",
        }

    async def test_approval_bottom_up(self, client: httpx.AsyncClient, planner: Login) -> None:
        rows = [(YANHU, "6"), (LINYI, "2"), (WANRONG, "1"), (CITY, "9")]
        report = await _json(
            await client.post(
                f"{VALUES}/bulk",
                json={
                    "values": [
                        {"element_code": "ps_deaths", "region_code": r, "year": 2022, "value": v}
                        for r, v in rows
                    ]
                },
                headers=planner.headers,
            )
        )
        assert report["rows_inserted"] == 4
        listed = await _json(
            await client.get(
                VALUES, params={"element_code": "ps_deaths", "year": 2022}, headers=planner.headers
            )
        )
        ids = {item["region_code"]: item["id"] for item in listed["items"]}
        for value_id in ids.values():
            await _json(await client.post(f"{VALUES}/{value_id}/submit", headers=planner.headers))
        early = await client.post(f"{VALUES}/{ids[CITY]}/approve", headers=planner.headers)
        assert (await _json(early, 409))["code"] == "children_not_approved"
        for county in (YANHU, LINYI, WANRONG):
            approved = await _json(
                await client.post(f"{VALUES}/{ids[county]}/approve", headers=planner.headers)
            )
            assert approved["state"] == "approved"
        city = await _json(await client.post(f"{VALUES}/{ids[CITY]}/approve", headers=planner.headers))
        assert city["state"] == "approved"

    async def test_deletion_is_an_event(
        self, system: Stack, client: httpx.AsyncClient, reporter: Login
    ) -> None:
        body = {"element_code": "nd_deaths", "region_code": YANHU, "year": 2021, "value": "3"}
        created = await _json(await client.post(VALUES, json=body, headers=reporter.headers), 201)
        deleted = await client.delete(f"{VALUES}/{created['id']}", headers=reporter.headers)
        assert deleted.status_code == 204
        event = await _value_event(system, created["id"], "deleted")
        assert event["data"]["value"] == "3"
        assert event["data"]["region_code"] == YANHU
        assert event["source"] == "/emplan/indicator-engine"
        gone = await client.get(f"{VALUES}/{created['id']}", headers=reporter.headers)
        assert gone.status_code == 404
