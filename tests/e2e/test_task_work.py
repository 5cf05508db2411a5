"""Work on a task, end to end through the gateway with real accounts: a department reports with
evidence, the lead claims completion, the bureau closes it (销号); a department not assigned is
refused; bad input changes nothing; a task past its deadline is red and `task.overdue` reaches the
broker exactly once, although the scan runs twice and the service is killed and restarted."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import nats
import orjson
import pytest
from nats.js.api import ConsumerConfig, DeliverPolicy

from emplan_shared.events import payloads
from emplan_shared.messaging.broker import EVENTS_STREAM
from emplan_tools.stack import Stack

from .conftest import Login, login, plan_published, publish_event
from .test_backbone import create_department, new_city, wait_until_known

pytestmark = pytest.mark.e2e

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


def _unit(name: str, department_id: str) -> payloads.PlanUnit:
    return payloads.PlanUnit(name=name, department_id=uuid.UUID(department_id), match="exact")


async def publish_plan(system: Stack, city: str, lead: str, co: str) -> uuid.UUID:
    """plan.published as plan-registry's relay puts it on the broker: our own two-task plan."""
    plan_id = uuid.uuid4()
    section = [payloads.PlanSection(number="(一)", title="重点任务")]
    tasks = [
        payloads.PlanTask(
            id=uuid.uuid4(),
            kind="key_task",
            code="(1)",
            title="城镇燃气管道老化更新改造",
            description="完成老旧燃气管道更新改造。",
            section=section,
            deadline_year=2030,
            deadline_text="2030年",
            lead=[_unit("市住建局", lead)],
            co=[_unit("市水利局", co)],
            source_lines=[12],
        ),
        payloads.PlanTask(
            id=uuid.uuid4(),
            kind="key_project",
            code="(2)",
            title="防汛抗旱物资储备库建设",
            description="建成市级物资储备库。",
            section=section,
            deadline_year=2025,  # long past: overdue
            deadline_text="2025年",
            lead=[_unit("市住建局", lead)],
            co=[],
            source_lines=[20],
        ),
    ]
    await publish_event(
        system,
        plan_published(
            plan_id=plan_id,
            lineage_id=plan_id,
            region_code=city,
            region_name=f"测试市{city}",
            kind="implementation_plan",
            title="测试市城市安全治本攻坚实施方案（测试样例）",
            period=(2021, 2030),
            published_at=datetime.now(UTC),
            tasks=tasks,
        ),
    )
    return plan_id


async def ledger(
    client: httpx.AsyncClient, who: Login, plan_id: uuid.UUID, timeout: float = 30
) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await client.get(f"/api/v1/tasks/plans/{plan_id}/ledger", headers=who.headers)
        if response.status_code == 200 and len(response.json()["rows"]) == 2:
            return {row["title"]: row for row in response.json()["rows"]}
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"plan {plan_id} never reached task-assignment: {response.text}")
        await asyncio.sleep(0.2)


async def overdue_events(system: Stack, task_id: str) -> int:
    """How many task.overdue events for this task lie in the stream."""
    connection = await nats.connect(system.nats_url)
    try:
        reader = await connection.jetstream().pull_subscribe(
            "emplan.task.overdue",
            stream=EVENTS_STREAM,
            config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, inactive_threshold=30),
        )
        found = 0
        while True:
            try:
                messages = await reader.fetch(200, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):  # nats-py raises either, by version and path
                return found
            for message in messages:
                await message.ack()
                if orjson.loads(message.data).get("subject") == f"task/{task_id}":
                    found += 1
    finally:
        await connection.close()


async def outbox_drained(system: Stack, timeout: float = 30) -> None:
    """Every event task-assignment has committed has reached the broker."""
    deadline = asyncio.get_running_loop().time() + timeout
    connection = await asyncpg.connect(system.service_database_dsn("task-assignment"))
    try:
        while await connection.fetchval("SELECT count(*) FROM outbox_event WHERE published_at IS NULL"):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("task-assignment's outbox was not drained")
            await asyncio.sleep(0.2)
    finally:
        await connection.close()


class TestTaskWork:
    async def test_report_claim_close_and_refusals(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city = await new_city(client, admin)
        lead_id = await create_department(client, admin, city, "市住房和城乡建设局")
        co_id = await create_department(client, admin, city, "市水利局")
        stranger_id = await create_department(client, admin, city, "市交通运输局")
        for department_id in (lead_id, co_id, stranger_id):
            await wait_until_known(client, admin, department_id)
        plan_id = await publish_plan(system, city, lead_id, co_id)
        bureau = login(system, roles=["bureau_planner"], region=city)
        lead = login(system, roles=["department_reporter"], region=city, department=lead_id)
        co = login(system, roles=["department_reporter"], region=city, department=co_id)
        stranger = login(system, roles=["department_reporter"], region=city, department=stranger_id)
        other_bureau = login(system, roles=["bureau_planner"], region=await new_city(client, admin))
        task_id = (await ledger(client, bureau, plan_id))["城镇燃气管道老化更新改造"]["task_id"]
        reports = f"/api/v1/tasks/{task_id}/reports"
        report = {"period": "2026-Q4", "percent": 60, "narrative": "已完成改造42公里。"}

        # the lead reports: the task is in progress and the lead's percent is the task's
        response = await client.post(reports, json=report, headers=lead.headers)
        assert response.status_code == 201, response.text
        report_id = response.json()["id"]
        me = (await client.get("/api/v1/auth/me", headers=lead.headers)).json()
        assert response.json()["submitted_by"] == me["subject"]  # the named person, from the token
        assert response.json()["department_id"] == lead_id
        evidence = await client.post(
            f"{reports}/{report_id}/evidence",
            files={"file": ("验收记录.pdf", PDF, "application/pdf")},
            headers=lead.headers,
        )
        assert evidence.status_code == 201, evidence.text
        assert evidence.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
        co_report = await client.post(reports, json=report | {"percent": 100}, headers=co.headers)
        assert co_report.status_code == 201
        assert co_report.json()["capacity"] == "co"

        # refused: a department not assigned (403), a bureau of another city (404), bad input (nothing changes)
        refused = await client.post(reports, json=report, headers=stranger.headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "task_not_assigned"
        assert (await client.post(reports, json=report, headers=other_bureau.headers)).status_code == 404
        too_much = await client.post(reports, json=report | {"percent": 120}, headers=lead.headers)
        assert too_much.status_code == 422
        assert too_much.json()["errors"][0]["field"] == "body.percent"
        big = await client.post(
            f"{reports}/{report_id}/evidence",
            files={"file": ("big.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024), "application/pdf")},
            headers=lead.headers,
        )
        assert big.status_code == 413
        assert big.json()["code"] == "evidence_too_large"
        exe = await client.post(
            f"{reports}/{report_id}/evidence",
            files={"file": ("setup.exe", b"MZ\x90\x00", "application/octet-stream")},
            headers=lead.headers,
        )
        assert exe.status_code == 415
        assert exe.json()["code"] == "evidence_type_forbidden"

        progress = await client.get(f"/api/v1/tasks/{task_id}/progress", headers=bureau.headers)
        assert progress.status_code == 200
        assert (progress.json()["status"], progress.json()["progress_percent"]) == ("in_progress", 60)
        assert [len(u["latest_report"]["evidence"]) for u in progress.json()["units"]] == [1, 0]
        etag = progress.headers["etag"]

        transitions = f"/api/v1/tasks/{task_id}/transitions"
        claimed = await client.post(
            transitions, json={"action": "claim_completion"}, headers=lead.headers | {"If-Match": etag}
        )
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["status"] == "completed"
        stale = await client.post(
            transitions, json={"action": "close"}, headers=bureau.headers | {"If-Match": etag}
        )
        assert stale.status_code == 412
        assert stale.json()["code"] == "precondition_failed"
        closed = await client.post(
            transitions,
            json={"action": "close"},
            headers=bureau.headers | {"If-Match": claimed.headers["etag"]},
        )
        assert closed.status_code == 200
        assert closed.json()["status"] == "closed"
        assert [h["action"] for h in closed.json()["history"]] == ["report", "claim_completion", "close"]

        late = await client.post(reports, json=report, headers=lead.headers)
        assert late.status_code == 409
        assert late.json()["code"] == "task_closed"
        listed = await client.get(reports, headers=bureau.headers)
        assert len(listed.json()["items"]) == 2  # the lead's and the co-operating unit's, nothing more
        task = await client.get(f"/api/v1/tasks/{task_id}", headers=bureau.headers)
        assert task.json()["status"] == "closed"

    async def test_overdue_red_and_notified_once(
        self, system: Stack, client: httpx.AsyncClient, admin: Login
    ) -> None:
        city = await new_city(client, admin)
        lead_id = await create_department(client, admin, city, "市住房和城乡建设局")
        co_id = await create_department(client, admin, city, "市水利局")
        for department_id in (lead_id, co_id):
            await wait_until_known(client, admin, department_id)
        plan_id = await publish_plan(system, city, lead_id, co_id)
        bureau = login(system, roles=["bureau_planner"], region=city)
        rows = await ledger(client, bureau, plan_id)
        late_id = rows["防汛抗旱物资储备库建设"]["task_id"]
        assert rows["防汛抗旱物资储备库建设"]["deadline"] == "2025-12-31"

        progress = (await client.get(f"/api/v1/tasks/{late_id}/progress", headers=bureau.headers)).json()
        assert (progress["light"], progress["overdue"]) == ("red", True)

        refused = await client.post("/api/v1/tasks/overdue-scan", json={}, headers=bureau.headers)
        assert refused.status_code == 403
        first = await client.post("/api/v1/tasks/overdue-scan", json={}, headers=admin.headers)
        second = await client.post("/api/v1/tasks/overdue-scan", json={}, headers=admin.headers)
        assert first.status_code == second.status_code == 200
        assert second.json()["notified"] == 0
        await outbox_drained(system)
        assert await overdue_events(system, late_id) == 1

        system.kill_service("task-assignment")
        system.start_service("task-assignment")  # its start-up scan runs again
        again = await client.post("/api/v1/tasks/overdue-scan", json={}, headers=admin.headers)
        assert again.status_code == 200
        assert again.json()["notified"] == 0
        await outbox_drained(system)
        assert await overdue_events(system, late_id) == 1
        assert await overdue_events(system, rows["城镇燃气管道老化更新改造"]["task_id"]) == 0
