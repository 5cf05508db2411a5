"""Targets, results and status end to end through the gateway.

1. The real 运城 plan (shared seeds) imported and published through plan-registry: indicator-engine
   binds its six core targets by name, on the real broker.
2. A plan of our own for 鹰潭市 360600 announced on the broker; county figures entered in bulk,
   submitted and approved through the data API; the baseline rule set to the 2016–2019 mean; results,
   breakdown and progress read back, and the status.changed events on the stream checked to form one
   unbroken chain ending at the computed status.

Figures (approved), deaths by county 月湖区 360602 / 余江区 360603 / 贵溪市 360681, city = sum:
  2016: 10+10+20 = 40, 2017: 12+12+20 = 44, 2018: 10+8+20 = 38, 2019: 10+8+20 = 38,
  2020: 5+5+10 = 20, 2021: 10+8+20 = 38, 2022: 10+7+20 = 37
  GDP (亿元): 2020: 900+300+800 = 2000, 2022: 1000+400+600 = 2000 (none for 2021)
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from emplan_shared.events import catalogue, payloads
from emplan_shared.messaging.broker import EVENTS_STREAM
from emplan_tools.stack import Stack

from .conftest import Login, login, plan_published, publish_event

pytestmark = pytest.mark.e2e

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
YUNCHENG = "000_0c809ad9eba66790.txt"
CITY, YUEHU, YUJIANG, GUIXI = "360600", "360602", "360603", "360681"
TARGETS, RESULTS, VALUES = (
    "/api/v1/indicators/targets",
    "/api/v1/indicators/results",
    "/api/v1/indicators/values",
)
DEATHS = {
    2016: (10, 10, 20),
    2017: (12, 12, 20),
    2018: (10, 8, 20),
    2019: (10, 8, 20),
    2020: (5, 5, 10),
    2021: (10, 8, 20),
    2022: (10, 7, 20),
}
GDP = {2020: (900, 300, 800), 2022: (1000, 400, 600)}


async def _json(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def _targets(client: httpx.AsyncClient, who: Login, plan_id: str, expected: int) -> dict[str, Any]:
    for _ in range(200):
        body = await _json(
            await client.get(TARGETS, params={"plan_id": plan_id, "limit": 200}, headers=who.headers)
        )
        if len(body["items"]) >= expected:
            return {item["name"]: item for item in body["items"]}
        await asyncio.sleep(0.1)
    raise AssertionError("indicator-engine never bound the published plan's targets")


class TestRealPlan:
    async def test_yuncheng_core_targets_bound_by_name(
        self, system: Stack, client: httpx.AsyncClient
    ) -> None:
        path = SEEDS / YUNCHENG
        if not path.exists():
            pytest.skip(
                f"{path} is absent: the real documents live in the shared folder next to the repository"
            )
        result = subprocess.run(
            [sys.executable, "-m", "plan_registry", "load-regions"],
            env=system.env,
            capture_output=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        planner = login(system, roles=["bureau_planner"], region="140800")
        imported = await _json(
            await client.post(
                "/api/v1/plans/imports",
                files={"file": (YUNCHENG, path.read_bytes(), "text/plain")},
                headers=planner.headers,
            ),
            201,
        )
        plan_url = f"/api/v1/plans/{imported['plan_id']}"
        if not imported.get("title"):
            # The document has no title line: the bureau fills it in before publishing.
            draft = await client.get(plan_url, headers=planner.headers)
            patched = await client.patch(
                plan_url,
                json={"title": "运城市“十四五”应急管理体系规划"},
                headers=planner.headers | {"If-Match": draft.headers["ETag"]},
            )
            assert patched.status_code == 200, patched.text
        await _json(await client.post(f"{plan_url}/publish", headers=planner.headers))
        core = [i for i in imported["indicators"] if i["group"] == "core"]
        targets = await _targets(client, planner, imported["plan_id"], len(imported["indicators"]))
        # 专栏1 of the document: six core indicators, each named exactly as the catalogue names it.
        expected = {
            "生产安全事故死亡人数": ("ps_deaths", "decrease_pct", "15", True),
            "亿元地区生产总值生产安全事故死亡率": ("ps_death_rate_gdp", "max", "0.03", True),
            "煤矿百万吨死亡率": ("coal_death_rate", "max", "0.04", True),
            "年均每百万人口因自然灾害死亡率": ("nd_death_rate", "max", "0.8", False),
            "年均每十万人受灾人次": ("nd_affected_rate", "max", "13000", False),
            "年均因自然灾害直接经济损失占地区生产总值比例": ("nd_loss_share", "max", "0.8", False),
        }
        assert {i["name"] for i in core} >= set(expected)
        for name, (code, kind, value, binding) in expected.items():
            target = targets[name]
            assert (target["definition_code"], target["binding_method"]) == (code, "name")
            assert (target["type"], target["value"]) == (kind, value)
            assert target["nature"] == ("binding" if binding else "expected")
            assert (target["region_code"], target["target_year"], target["state"]) == (
                "140800",
                2025,
                "active",
            )
            assert target["baseline"] == {"years": [2020], "start_year": 2020}


async def _announce(system: Stack, plan_id: uuid.UUID) -> None:
    def indicator(name: str, kind: str, value: str, text: str) -> payloads.PlanIndicator:
        return payloads.PlanIndicator.model_validate(
            {
                "id": uuid.uuid4(),
                "name": name,
                "target_text": text,
                "target": {"type": kind, "value": value, "unit": None, "strict": False},
                "nature": "binding",
                "group": "core",
                "baseline_text": None,
                "responsible": None,
                "source_lines": [1],
            }
        )

    await publish_event(
        system,
        plan_published(
            plan_id=plan_id,
            region_code=CITY,
            region_name="鹰潭市",
            title="鹰潭市“十四五”应急管理规划（结果测试）",
            indicators=[
                indicator("生产安全事故死亡人数", "decrease_pct", "15", "下降15%"),
                indicator("单位GDP生产安全事故死亡率", "max", "0.02", "0.02以内"),
            ],
        ),
    )


async def _status_events(system: Stack, target_id: str) -> list[dict[str, Any]]:
    connection = await nats.connect(system.nats_url)
    found: list[dict[str, Any]] = []
    try:
        reader = await connection.jetstream().pull_subscribe(
            catalogue.INDICATOR_STATUS_CHANGED.type,
            stream=EVENTS_STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
        )
        while True:
            try:
                messages = await reader.fetch(200, timeout=1)
            except TimeoutError:
                return found
            for message in messages:
                await message.ack()
                event = json.loads(message.data)
                if event["data"]["target_id"] == target_id:
                    found.append(event)
    finally:
        await connection.close()


class TestOwnPlanWithData:
    async def test_results_progress_and_status_events(self, system: Stack, client: httpx.AsyncClient) -> None:
        planner = login(system, roles=["bureau_planner"], region=CITY)
        plan_id = uuid.uuid4()
        await _announce(system, plan_id)
        targets = await _targets(client, planner, str(plan_id), 2)
        deaths, rate = targets["生产安全事故死亡人数"], targets["单位GDP生产安全事故死亡率"]
        assert (deaths["definition_code"], rate["definition_code"]) == ("ps_deaths", "ps_death_rate_gdp")
        assert rate["binding_method"] == "alias"

        baseline = await _json(
            await client.put(
                f"{TARGETS}/{deaths['id']}/baseline",
                json={"years": [2016, 2017, 2018, 2019], "start_year": 2020},
                headers=planner.headers,
            )
        )
        assert baseline["baseline"] == {"years": [2016, 2017, 2018, 2019], "start_year": 2020}

        counties = (YUEHU, YUJIANG, GUIXI)
        rows = [
            {"element_code": "ps_deaths", "region_code": county, "year": year, "value": str(n)}
            for year, counts in DEATHS.items()
            for county, n in zip(counties, counts, strict=True)
        ] + [
            {"element_code": "gdp", "region_code": county, "year": year, "value": str(n)}
            for year, amounts in GDP.items()
            for county, n in zip(counties, amounts, strict=True)
        ]
        report = await _json(
            await client.post(f"{VALUES}/bulk", json={"values": rows}, headers=planner.headers)
        )
        assert report["rows_rejected"] == 0
        listed = await _json(
            await client.get(VALUES, params={"below": CITY, "limit": 500}, headers=planner.headers)
        )
        assert len(listed["items"]) == len(rows)
        for item in listed["items"]:
            if item["state"] == "draft":
                await _json(await client.post(f"{VALUES}/{item['id']}/submit", headers=planner.headers))
            if item["state"] != "approved":
                await _json(await client.post(f"{VALUES}/{item['id']}/approve", headers=planner.headers))

        viewer = login(system, roles=["viewer"], region=CITY)
        result = await _json(
            await client.get(
                RESULTS,
                params={"indicator": "ps_death_rate_gdp", "region": CITY, "year": 2022},
                headers=viewer.headers,
            )
        )
        # (10 + 7 + 20) / (1000 + 400 + 600) = 37 / 2000 = 0.0185, not the mean of the county rates.
        assert (result["status"], result["value"], result["numerator"], result["denominator"]) == (
            "ok",
            "0.0185",
            "37",
            "2000",
        )
        missing = await _json(
            await client.get(
                RESULTS,
                params={"indicator": "ps_death_rate_gdp", "region": CITY, "year": 2021},
                headers=viewer.headers,
            )
        )
        assert (missing["status"], missing["missing_regions"], missing["missing_elements"]) == (
            "incomplete",
            [YUEHU, YUJIANG, GUIXI],
            ["gdp"],
        )
        breakdown = await _json(
            await client.get(
                f"{RESULTS}/breakdown",
                params={"indicator": "ps_deaths", "region": CITY, "year": 2022},
                headers=viewer.headers,
            )
        )
        assert [(c["region_code"], c["value"]) for c in breakdown["children"]] == [
            (YUEHU, "10"),
            (YUJIANG, "7"),
            (GUIXI, "20"),
        ]

        # Baseline (40 + 44 + 38 + 38) / 4 = 40, target 34; 2022: 37 against 37.6 due: r = 1.25, on track.
        progress = await _json(await client.get(f"{TARGETS}/{deaths['id']}/progress", headers=viewer.headers))
        assert (progress["status"], progress["year"], progress["value"]) == ("on_track", 2022, "37")
        assert (progress["baseline"]["value"], progress["target_value"], progress["required_value"]) == (
            "40",
            "34",
            "37.6",
        )
        assert progress["open_sdg"]["category"] == "on_track"
        assert (progress["projection"]["method"], progress["projection"]["outcome"]) == (
            "linear_trend",
            "met",
        )

        # The consumer of the data events judged the target as the figures were approved: its events
        # form one chain (each starts where the previous ended, versions 1, 2, …) ending at on_track.
        events: list[dict[str, Any]] = []
        for _ in range(100):
            events = await _status_events(system, deaths["id"])
            if events and events[-1]["data"]["status"] == "on_track" and events[-1]["data"]["year"] == 2022:
                break
            await asyncio.sleep(0.2)
        assert events, "no status.changed event for the target"
        assert events[-1]["data"]["status"] == "on_track"
        assert [e["data"]["status_version"] for e in events] == list(range(1, len(events) + 1))
        statuses = ["no_data"] + [e["data"]["status"] for e in events]
        assert [e["data"]["previous_status"] for e in events] == statuses[:-1]
        assert all(a != b for a, b in pairwise(statuses))
