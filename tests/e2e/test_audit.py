"""The audit trail of every service, through the gateway: a plan imported and published, a task of
it edited, an evaluation round opened on it and a data value entered — each write shows in its own
service's trail (`GET /api/v1/<area>/audit`) under the caller's account and the request id the
gateway answered with; the replicas the consumers wrote show as the system's doing; and no method
changes a trail."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
import pytest

from emplan_tools.stack import Stack

from .conftest import Login
from .test_directory import regions  # noqa: F401  (the directory's regions, loaded once a session)

pytestmark = pytest.mark.e2e

CITY, COUNTY = "140500", "140502"  # 晋城市, 城区
PLAN = "\n".join(
    [
        "晋城市“十四五”应急管理审计演示规划",
        "晋市政发〔2021〕99号",
        "",
        "一、主要目标",
        "序号\t指标内容\t2020年现状值\t2025年目标值\t指标性质\t责任单位",
        "1\t生产安全事故死亡人数\t60\t下降15%\t约束性\t市应急局",
        "二、重点任务",
        "1.完善指挥体制。2023年底前建立市级应急指挥部。（市应急局牵头）",
        "",
        "晋城市人民政府",
        "2021年12月20日",
    ]
)


def _subject(user: Login) -> str:
    return str(jwt.decode(user.token, options={"verify_signature": False})["sub"])


async def _until(call: Any, done: Any, what: str, timeout: float = 30) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while True:
        response: httpx.Response = await call()
        if done(response):
            return response
        assert time.monotonic() < deadline, f"{what}: {response.status_code} {response.text[:200]}"
        await asyncio.sleep(0.1)


async def _entry(
    client: httpx.AsyncClient, auditor: Login, area: str, object_type: str, object_id: str
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/{area}/audit",
        params={"object_type": object_type, "object_id": object_id},
        headers=auditor.headers,
    )
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_write_in_each_service_is_in_its_trail_and_no_trail_can_be_changed(
    system: Stack,
    admin: Login,
    regions: str,  # noqa: F811
) -> None:
    # The session's system admin does it all (an account made per role costs a process start each);
    # the services' own tests read the trails as city and county accounts.
    planner = reporter = auditor = admin
    writes: list[tuple[str, str, str, str, Login]] = []  # area, object type, object id, request id, who
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60) as client:
        imported = await client.post("/api/v1/plans/imports", data={"text": PLAN}, headers=planner.headers)
        assert imported.status_code == 201, imported.text
        plan_id = imported.json()["plan_id"]
        writes.append(("plans", "plan", plan_id, imported.headers["x-request-id"], planner))
        published = await client.post(f"/api/v1/plans/{plan_id}/publish", headers=planner.headers)
        assert published.status_code == 200, published.text

        ledger = await _until(
            lambda: client.get(f"/api/v1/tasks/plans/{plan_id}/ledger", headers=planner.headers),
            lambda r: r.status_code == 200,
            "task-assignment never received plan.published",
        )
        task_id = ledger.json()["rows"][0]["task_id"]
        current = await client.get(f"/api/v1/tasks/{task_id}", headers=planner.headers)
        edited = await client.patch(
            f"/api/v1/tasks/{task_id}",
            json={"title": "完善应急指挥体制（审计）"},
            headers={**planner.headers, "If-Match": current.headers["etag"]},
        )
        assert edited.status_code == 200, edited.text
        writes.append(("tasks", "task", task_id, edited.headers["x-request-id"], planner))

        body = {"plan_id": plan_id, "kind": "mid_term", "reference_date": "2023-06-30"}
        opened = await _until(
            lambda: client.post("/api/v1/evaluations/rounds", json=body, headers=planner.headers),
            lambda r: r.status_code != 422,
            "the evaluation never received plan.published",
        )
        assert opened.status_code == 201, opened.text
        writes.append(
            ("evaluations", "evaluation_round", opened.json()["id"], opened.headers["x-request-id"], planner)
        )

        value = {
            "element_code": "fire_deaths",
            "region_code": COUNTY,
            "year": 2022,
            "value": "3",
            "source": "年报",
        }
        entered = await client.post("/api/v1/indicators/values", json=value, headers=reporter.headers)
        assert entered.status_code == 201, entered.text
        writes.append(
            ("indicators", "data_value", str(entered.json()["id"]), entered.headers["x-request-id"], reporter)
        )

        for area, object_type, object_id, request_id, user in writes:
            entries = await _entry(client, auditor, area, object_type, object_id)
            mine = [e for e in entries if e["request_id"] == request_id]
            assert len(mine) == 1, (area, entries)
            assert (mine[0]["actor_subject"], mine[0]["actor_kind"]) == (_subject(user), "user"), area
            assert str(mine[0]["region_code"]).startswith(CITY[:4]), area
            assert mine[0]["after"] is not None, area

        # The replicas the consumers made from plan.published: the system's entries, no person.
        [replica] = await _entry(client, auditor, "evaluations", "plan", plan_id)
        assert (replica["action"], replica["actor_kind"], replica["actor_subject"]) == (
            "create",
            "system",
            None,
        )

        # No way to change a trail: no write method on any of them, the gateway's included.
        for area in ("plans", "indicators", "tasks", "evaluations", "auth"):
            for method in ("PUT", "PATCH", "DELETE", "POST"):
                response = await client.request(
                    method, f"/api/v1/{area}/audit", json={}, headers=auditor.headers
                )
                assert response.status_code == 405, (area, method, response.text)
