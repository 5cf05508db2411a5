"""The three real plan documents imported through the gateway, checked against what a reader finds
in them; publication reaching JetStream with the full payload; the body limit.

The parser's own tests (services/plan-registry/tests/unit/document/test_doc_seeds.py) hold the item
by item expectations; here the same documents go through upload, directory resolution, storage and
the API, and a few hand-checked facts per document are enough to prove nothing is lost on the way.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import nats
import orjson
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from emplan_shared.events.payloads import PlanPublished
from emplan_tools.stack import Stack

from .conftest import Login, login

pytestmark = pytest.mark.e2e

SEEDS = Path(__file__).resolve().parents[2].parent / "shared" / "seeds"
YUNCHENG = "000_0c809ad9eba66790.txt"
XINZHOU = "001_e042361886956950.txt"
ANYANG = "002_5040169b34f97ba4.txt"


def _plan_registry(system: Stack, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "plan_registry", *args],
        env=system.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def province_planner(system: Stack) -> Login:
    """Regions loaded (idempotent, as operators run it) and 忻州's departments seeded."""
    _plan_registry(system, "load-regions")
    _plan_registry(system, "seed-departments", "--region", "140900")
    return login(system, roles=["bureau_planner"], region="000000")


def _seed(name: str) -> bytes:
    path = SEEDS / name
    if not path.exists():
        pytest.skip(f"{path} is absent: the real documents live in the shared folder next to the repository")
    return path.read_bytes()


async def _import(client: httpx.AsyncClient, planner: Login, name: str, *, dry_run: bool) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/plans/imports",
        params={"dry_run": str(dry_run).lower()},
        files={"file": (name, _seed(name), "text/plain")},
        headers=planner.headers,
    )
    assert response.status_code == (200 if dry_run else 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [t for t in body["tasks"] if t["kind"] == kind]


async def _published_event(system: Stack, plan_id: str) -> dict[str, Any]:
    connection = await nats.connect(system.nats_url)
    try:
        reader = await connection.jetstream().pull_subscribe(
            "emplan.plan.published",
            stream="EMPLAN_EVENTS",
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
        )
        async with asyncio.timeout(30):
            while True:
                try:
                    messages = await reader.fetch(50, timeout=2)
                except nats.errors.TimeoutError:
                    continue  # the relay has not published it yet
                for message in messages:
                    envelope: dict[str, Any] = orjson.loads(message.data)
                    if envelope.get("subject") == f"plan/{plan_id}":
                        return envelope
    finally:
        await connection.close()


class TestSeeds:
    async def test_xinzhou_implementation_plan(
        self, system: Stack, client: httpx.AsyncClient, province_planner: Login
    ) -> None:
        body = await _import(client, province_planner, XINZHOU, dry_run=False)
        assert body["region"] == {"name": "忻州市", "code": "140900", "level": "city"}
        assert body["kind"] == "implementation_plan"
        core = [i for i in body["indicators"] if i["group"] == "core"]
        # The table's seven rows: name, target as written and lead unit, read off the document.
        assert [(i["name"], i["target_text"]) for i in core] == [
            ("生产安全事故死亡人数", "下降15%"),
            ("亿元地区生产总值生产安全事故死亡率", "下降33%"),
            ("工矿商贸就业人员十万人生产安全事故死亡率", "下降10%"),
            ("煤矿百万吨死亡率", "<0.04"),
            ("年均每百万人口因自然灾害死亡率", "<0.8"),
            ("年均每十万人受灾人次", "<20000"),
            ("年均因自然灾害直接经济损失占地区生产总值比例", "<0.8%"),
        ]
        assert all(i["responsible"]["lead"] == ["市应急局"] for i in core)
        assert core[3]["responsible"]["co"] == ["市能源局"]
        assert core[6]["target"] == {"type": "max", "value": "0.8", "unit": "%", "strict": True}
        tasks, areas, projects = (_of(body, k) for k in ("key_task", "focus_area", "key_project"))
        assert (len(tasks), len(areas), len(projects)) == (33, 9, 22)
        assert tasks[10]["lead"] == ["市发展改革委", "市能源局"]
        assert areas[3]["lead"] == ["市消防救援支队"]
        assert [p["deadline_year"] for p in projects[9:]] == [2023] * 3 + [2025, 2022] + [2023] * 7 + [2025]
        assert projects[4]["co"][-1] == "各县〈市、区〉人民政府"
        # Directory resolution of the document's own spellings against the seeded departments.
        units = {u["name"]: u for u in body["units"]}
        assert units["市应急局"]["department_name"] == "市应急管理局"
        assert units["市规划和自然资源局"]["department_id"] is not None
        assert units["各县〈市、区〉人民政府"]["match"] == "group"
        unresolved = {w["text"] for w in body["warnings"] if w["code"] == "unresolved_unit"}
        assert unresolved == {u["name"] for u in body["units"] if u["match"] == "none"}
        assert all(w["line"] for w in body["warnings"] if w["code"] == "unresolved_unit")

        # Publishing puts the whole structured plan on the bus.
        published = await client.post(
            f"/api/v1/plans/{body['plan_id']}/publish", headers=province_planner.headers
        )
        assert published.status_code == 200, published.text
        envelope = await _published_event(system, body["plan_id"])
        assert envelope["type"] == "emplan.plan.published"
        assert envelope["regioncode"] == "140900"
        payload = PlanPublished.model_validate(envelope["data"])
        assert payload.title == body["title"]
        assert [str(i.id) for i in payload.indicators] == [i["id"] for i in body["indicators"]]
        assert [str(t.id) for t in payload.tasks] == [t["id"] for t in body["tasks"]]
        lead = payload.tasks[0].lead[0]
        assert (lead.name, lead.match) == ("市应急局", "alias")
        assert lead.department_id is not None

    @pytest.mark.parametrize(
        ("name", "natures"),
        [
            # 专栏1 of each plan, column 指标性质, read off the documents.
            (YUNCHENG, ["binding", "binding", "binding", "expected", "expected", "expected"]),
            (ANYANG, ["binding", "binding", "binding", "expected", "expected", "expected"]),
        ],
    )
    async def test_city_plans_core_indicators(
        self, client: httpx.AsyncClient, province_planner: Login, name: str, natures: list[str]
    ) -> None:
        body = await _import(client, province_planner, name, dry_run=True)
        assert body["kind"] == "plan"
        assert body["region"]["level"] == "city"
        core = [i for i in body["indicators"] if i["group"] == "core"]
        assert [i["nature"] for i in core] == natures
        assert core[0]["name"] == "生产安全事故死亡人数"
        assert core[0]["target"]["type"] == "decrease_pct"


class TestLimits:
    async def test_fifty_megabytes_is_refused_with_the_limit(
        self, client: httpx.AsyncClient, province_planner: Login
    ) -> None:
        async def count() -> int:
            listed = await client.get(
                "/api/v1/plans", params={"limit": 500}, headers=province_planner.headers
            )
            return len(listed.json()["items"])

        before = await count()
        response = await client.post(
            "/api/v1/plans/imports",
            files={"file": ("huge.txt", b"a" * (50 * 1024 * 1024), "text/plain")},
            headers=province_planner.headers,
        )
        assert response.status_code == 413
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["code"] == "payload_too_large"
        assert "MB" in problem["detail"]
        assert await count() == before
