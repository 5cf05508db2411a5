"""Tasks on the real PostgreSQL and JetStream: a synthetic plan.published (our own sample plan for
晋中市 140700, published through the outbox and consumed by the service's durable consumer) becomes
tasks with lead and co-operating departments, groups and county sub-tasks; edits with If-Match; the
ledger as JSON and .xlsx and its import; workload and counts; jurisdiction; a superseding version.

晋中市 has 11 county-level divisions (榆次区, 太谷区, 榆社县, 左权县, 和顺县, 昔阳县, 寿阳县, 祁县, 平遥县,
灵石县, 介休市), so a task addressed to 各县（市、区）人民政府 gets 11 sub-tasks.
"""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.events import catalogue, payloads
from emplan_shared.events.envelope import CloudEvent
from emplan_shared.messaging.outbox import enqueue
from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import bearer, drop_database
from task_assignment.app import create_app
from task_assignment.database import messaging
from task_assignment.settings import Settings
from task_assignment.tasks.models import Task

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
CITY = "140700"
CITY_NAME = "晋中市"
JINZHONG_COUNTIES = 11
NS = uuid.UUID("6f1e0d6c-3c55-4d0e-9a43-3d1bbd0f7a10")


def dept_id(name: str) -> uuid.UUID:
    return uuid.uuid5(NS, name)


# The city's departments (name, aliases), and one county government (榆次区 140702).
CITY_DEPARTMENTS = [
    ("市应急管理局", ["市应急局"]),
    ("市财政局", []),
    ("市水利局", []),
    ("市发展和改革委员会", ["市发展改革委", "市发改委"]),
]
YUCI = "140702"


@dataclass
class Env:
    url: str
    engine: AsyncEngine
    client: httpx.AsyncClient
    private_key: str
    app: Any

    def token(
        self, *, region: str = CITY, roles: tuple[str, ...] = ("bureau_planner",), sub: str = "planner"
    ) -> dict[str, str]:
        return bearer(self.private_key, sub=sub, region=region, roles=roles)

    async def publish(self, *events: CloudEvent) -> None:
        async with create_sessionmaker(self.engine)() as session, session.begin():
            for event in events:
                await enqueue(session, messaging.outbox_event, event)

    async def redeliver(self, event: CloudEvent) -> None:
        """The same event id again, under a new broker message id: past JetStream's duplicate window,
        so only the consumer's processed-events table stands between it and a second effect."""
        await self.app.state.broker.js.publish(
            event.nats_subject,
            orjson.dumps(event.model_dump(mode="json", exclude_none=True)),
            headers={"Nats-Msg-Id": str(uuid.uuid4())},
        )

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.engine.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()

    async def wait_for(self, check: Callable[[], Awaitable[bool]], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not await check():
            assert time.monotonic() < deadline, "the event was not applied in time"
            await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def database(infra) -> Iterator[tuple[str, str]]:  # type: ignore[no-untyped-def]
    prefix = f"emplan_tasks{uuid.uuid4().hex[:8]}_"
    name = prefix + "task_assignment"
    url = with_database(infra.database_url, name)
    migrate(url, SERVICE_ROOT / "migrations", lock_name=f"test-{name}")
    try:
        yield prefix, url
    finally:
        asyncio.run(drop_database(infra.database_url, name))


@pytest.fixture(scope="module")
async def env(
    infra, database: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Env]:  # type: ignore[no-untyped-def]
    prefix, url = database
    keys = ensure_signing_keys(tmp_path_factory.mktemp("keys"))
    settings = Settings(
        DATABASE_URL=infra.database_url,
        EMPLAN_DATABASE_PREFIX=prefix,
        NATS_URL=infra.nats_url,
        EMPLAN_JWT_PUBLIC_KEY_FILE=keys.public_key_file,
        EMPLAN_LOG_FORMAT="text",
        EMPLAN_LOG_LEVEL="WARNING",
    )
    app = create_app(settings)
    engine = create_engine(url, pool_size=2)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://task-assignment") as client:
            environment = Env(url, engine, client, keys.private_key_file.read_text(), app)
            await _seed_departments(environment)
            yield environment
    await engine.dispose()


async def _seed_departments(env: Env) -> None:
    events = [
        catalogue.DEPARTMENT_CREATED.build(
            payloads.Department(id=dept_id(name), region_code=CITY, name=name, aliases=aliases, version=1),
            region_code=CITY,
        )
        for name, aliases in CITY_DEPARTMENTS
    ]
    events.append(
        catalogue.DEPARTMENT_CREATED.build(
            payloads.Department(
                id=dept_id("榆次区人民政府"), region_code=YUCI, name="榆次区人民政府", version=1
            ),
            region_code=YUCI,
        )
    )
    await env.publish(*events)
    ids = [dept_id(name) for name, _ in CITY_DEPARTMENTS] + [dept_id("榆次区人民政府")]

    async def applied() -> bool:
        count = await env.scalar("SELECT count(*) FROM department WHERE id = ANY(:ids)", ids=ids)
        return bool(count == len(ids))

    await env.wait_for(applied)


def unit(name: str, *, resolved: bool = True, match: str = "exact") -> payloads.PlanUnit:
    return payloads.PlanUnit(name=name, department_id=dept_id(name) if resolved else None, match=match)  # type: ignore[arg-type]


GROUP = "各县（市、区）人民政府"
SAFETY_MEMBERS = "市安委会有关成员单位"
ITEM = {key: uuid.uuid5(NS, key) for key in ("t1", "t2", "t3", "t4")}


def sample_plan(
    plan_id: uuid.UUID,
    *,
    version: int = 1,
    supersedes: uuid.UUID | None = None,
    lineage: uuid.UUID | None = None,
) -> payloads.PlanPublished:
    """Our own four-item plan: every kind of unit the resolution meets."""
    section = [payloads.PlanSection(number="(二)", title="重点任务")]
    tasks = [
        payloads.PlanTask(
            id=ITEM["t1"],
            kind="key_task",
            code="(1)",
            title="健全应急指挥机制",
            description="2023 年前建成市县两级应急指挥部。",
            section=section,
            deadline_year=2023,
            deadline_text="2023 年",
            lead=[unit("市应急管理局")],
            co=[
                payloads.PlanUnit(name=SAFETY_MEMBERS, department_id=None, match="group"),
                payloads.PlanUnit(name=GROUP, department_id=None, match="group"),
            ],
            source_lines=[10],
        ),
        payloads.PlanTask(
            id=ITEM["t2"],
            kind="focus_area",
            code="(1)",
            title="汛期水库安全度汛",
            description="完成病险水库除险加固。",
            section=section,
            deadline_year=2022,
            deadline_text="2022年6月底",
            # No id in the payload: the replica resolves the name within the plan's region.
            lead=[payloads.PlanUnit(name="市水利局", department_id=None, match="none")],
            co=[unit("市财政局")],
            source_lines=[20],
        ),
        payloads.PlanTask(
            id=ITEM["t3"],
            kind="key_project",
            code="(1)",
            title="基层应急能力提升工程",
            description="乡镇应急队伍建设。",
            section=section,
            deadline_year=2025,
            deadline_text=None,
            lead=[payloads.PlanUnit(name="各县〈市、区〉政府", department_id=None, match="group")],
            co=[payloads.PlanUnit(name="市发展改革委", department_id=None, match="none")],
            source_lines=[30],
        ),
        payloads.PlanTask(
            id=ITEM["t4"],
            kind="key_task",
            code="(2)",
            title="应急文化宣传",
            description="",
            section=section,
            deadline_year=None,
            deadline_text=None,
            lead=[payloads.PlanUnit(name="市应急文化中心", department_id=None, match="none")],
            co=[],
            source_lines=[40],
        ),
    ]
    return payloads.PlanPublished(
        plan_id=plan_id,
        lineage_id=lineage or plan_id,
        version=version,
        supersedes=supersedes,
        region_code=CITY,
        region_name=CITY_NAME,
        kind="implementation_plan",
        title="晋中市应急管理能力提升实施方案（测试样例）",
        period=payloads.PlanPeriod(start=2021, end=2025),
        issuing_body=None,
        doc_number=None,
        issued_on=None,
        parent_plans=[],
        published_at=datetime(2022, 3, 1, tzinfo=UTC),
        published_by="planner-a",
        document_sha256=None,
        goals=[],
        indicators=[],
        tasks=tasks if version == 1 else tasks[:3],
    )


@dataclass
class Published:
    plan_id: uuid.UUID
    tasks: dict[str, dict[str, Any]]  # item key → task JSON


async def _publish_plan(env: Env, plan: payloads.PlanPublished) -> None:
    await env.publish(catalogue.PLAN_PUBLISHED.build(plan, subject=str(plan.plan_id), region_code=CITY))

    async def arrived() -> bool:
        return bool(await env.scalar("SELECT count(*) FROM task_plan WHERE id = :id", id=plan.plan_id))

    await env.wait_for(arrived)


@pytest.fixture(scope="module")
async def published(env: Env) -> Published:
    plan_id = uuid.uuid4()
    await _publish_plan(env, sample_plan(plan_id))
    ledger = (await env.client.get(f"/api/v1/tasks/plans/{plan_id}/ledger", headers=env.token())).json()
    tasks = {}
    for key, row in zip(("t1", "t2", "t3", "t4"), ledger["rows"], strict=True):
        tasks[key] = (await env.client.get(f"/api/v1/tasks/{row['task_id']}", headers=env.token())).json()
    return Published(plan_id, tasks)


# ------------------------------------------------------------------------------------------ creation
class TestPlanPublished:
    async def test_a_task_per_item_with_code_section_and_deadline(self, published: Published) -> None:
        t1, t2, t3, t4 = (published.tasks[k] for k in ("t1", "t2", "t3", "t4"))
        assert [t["kind"] for t in (t1, t2, t3, t4)] == ["key_task", "focus_area", "key_project", "key_task"]
        assert (t1["code"], t1["title"], t1["section"]) == (
            "(1)",
            "健全应急指挥机制",
            [{"number": "(二)", "title": "重点任务"}],
        )
        assert t1["deadline"] == "2023-12-31"  # a year alone: its last day
        assert t2["deadline"] == "2022-06-30"  # the text says more: 6月底
        assert t3["deadline"] == "2025-12-31"
        assert t4["deadline"] is None  # the plan gave none
        assert {t["status"] for t in (t1, t2, t3, t4)} == {"not_started"}
        assert all(t["origin"] == "plan" and t["current"] and t["version"] == 1 for t in (t1, t2, t3, t4))

    async def test_lead_and_co_resolved_by_id_by_name_and_by_alias(self, published: Published) -> None:
        t1, t2, t3 = (published.tasks[k] for k in ("t1", "t2", "t3"))
        assert [d["department_id"] for d in t1["lead"]] == [str(dept_id("市应急管理局"))]
        assert t1["co"] == []
        assert [d["department_id"] for d in t2["lead"]] == [str(dept_id("市水利局"))]
        assert [d["department_id"] for d in t2["co"]] == [str(dept_id("市财政局"))]
        # 市发展改革委 is an alias of 市发展和改革委员会; the ledger keeps the plan's wording.
        assert [(d["name"], d["unit_name"]) for d in t3["co"]] == [("市发展和改革委员会", "市发展改革委")]

    async def test_groups_are_kept_for_a_person_never_guessed(self, published: Published) -> None:
        t1, t4 = published.tasks["t1"], published.tasks["t4"]
        groups = {g["name"]: g for g in t1["groups"]}
        assert groups[SAFETY_MEMBERS]["expanded"] is False
        assert groups[SAFETY_MEMBERS]["role"] == "co"
        assert groups[GROUP]["expanded"] is True  # by the cascade
        assert groups[GROUP]["expanded_by"] == "cascade"
        # A name no department has: an unresolved group on the lead side, no assignment.
        assert t4["lead"] == []
        assert [(g["name"], g["match"], g["expanded"]) for g in t4["groups"]] == [
            ("市应急文化中心", "none", False)
        ]

    async def test_redelivery_and_republication_change_nothing(self, env: Env, published: Published) -> None:
        before = await env.scalar("SELECT count(*) FROM task WHERE plan_id = :p", p=published.plan_id)
        plan = sample_plan(published.plan_id)
        event = catalogue.PLAN_PUBLISHED.build(plan, region_code=CITY)
        marker = uuid.uuid4()
        await env.publish(event)
        await env.redeliver(event)
        await env.publish(
            catalogue.PLAN_PUBLISHED.build(plan, region_code=CITY),  # a new event id for the same plan
            catalogue.PLAN_PUBLISHED.build(sample_plan(marker), region_code=CITY),
        )

        async def marker_arrived() -> bool:
            return bool(await env.scalar("SELECT count(*) FROM task_plan WHERE id = :id", id=marker))

        await env.wait_for(marker_arrived)  # published after the duplicates, so they were handled
        after = await env.scalar("SELECT count(*) FROM task WHERE plan_id = :p", p=published.plan_id)
        assert after == before == 4 + 2 * JINZHONG_COUNTIES


# ------------------------------------------------------------------------------------------- cascade
class TestCascade:
    async def test_one_subtask_per_county_owned_by_the_county(self, env: Env, published: Published) -> None:
        t1 = published.tasks["t1"]
        assert t1["subtask_count"] == JINZHONG_COUNTIES
        response = await env.client.get(f"/api/v1/tasks/{t1['id']}/subtasks", headers=env.token())
        children = response.json()["items"]
        codes = [child["region_code"] for child in children]
        assert len(codes) == len(set(codes)) == JINZHONG_COUNTIES
        assert {"140702", "140703", "140781"} <= set(codes)  # 榆次区, 太谷区, 介休市
        assert all(code.startswith("1407") and code != CITY for code in codes)
        assert {child["origin"] for child in children} == {"cascade"}
        assert {child["deadline"] for child in children} == {"2023-12-31"}
        yuci = next(child for child in children if child["region_code"] == YUCI)
        assert [d["department_id"] for d in yuci["lead"]] == [str(dept_id("榆次区人民政府"))]
        pingyao = next(child for child in children if child["region_code"] == "140728")
        assert pingyao["lead"] == []
        assert [(g["name"], g["role"], g["expanded"]) for g in pingyao["groups"]] == [
            ("平遥县人民政府", "lead", False)
        ]

    async def test_a_county_sees_its_own_subtask_only(self, env: Env, published: Published) -> None:
        t1 = published.tasks["t1"]
        county = env.token(region=YUCI, roles=("department_reporter",))
        assert (await env.client.get(f"/api/v1/tasks/{t1['id']}", headers=county)).status_code == 404
        counts = (await env.client.get(f"/api/v1/tasks/regions/{YUCI}/counts", headers=county)).json()
        # Its parts of t1 and t3 in this plan, plus those of any other plan the module's earlier
        # tests published (the marker copy): counted in the table, so the test runs alone too.
        own = await env.scalar("SELECT count(*) FROM task WHERE region_code = :r", r=YUCI)
        assert own >= 2
        assert counts["total"] == own
        other = (await env.client.get("/api/v1/tasks/regions/140728/counts", headers=county)).status_code
        assert other == 404

    async def test_parent_progress_is_the_mean_of_its_subtasks(self, env: Env, published: Published) -> None:
        t3 = published.tasks["t3"]
        # Reports (the colleague's feature) set a sub-task's own progress; set two directly here.
        async with env.engine.begin() as connection:
            await connection.execute(
                text("UPDATE task SET progress_percent = :p WHERE parent_id = :id AND region_code = :r"),
                [{"p": 100, "id": t3["id"], "r": "140702"}, {"p": 50, "id": t3["id"], "r": "140703"}],
            )
        body = (await env.client.get(f"/api/v1/tasks/{t3['id']}", headers=env.token())).json()
        assert body["progress_percent"] == 150 // JINZHONG_COUNTIES  # (100 + 50 + 0 × 9) / 11, floored
        async with env.engine.begin() as connection:
            await connection.execute(
                text("UPDATE task SET progress_percent = 0 WHERE parent_id = :id"), {"id": t3["id"]}
            )


# ------------------------------------------------------------------------------------- manual, edits
class TestEdits:
    async def test_create_manual_task(self, env: Env, published: Published) -> None:
        response = await env.client.post(
            "/api/v1/tasks",
            json={
                "plan_id": str(published.plan_id),
                "title": "编制应急物资储备目录",
                "deadline": "2024-09-30",
                "lead": [{"name": "市应急局"}],
                "co": [{"department_id": str(dept_id("市财政局"))}, {"name": "有关部门"}],
            },
            headers=env.token(),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["etag"] == '"1"'
        assert (body["origin"], body["kind"], body["deadline"]) == ("manual", "other", "2024-09-30")
        assert [d["department_id"] for d in body["lead"]] == [str(dept_id("市应急管理局"))]
        assert [d["department_id"] for d in body["co"]] == [str(dept_id("市财政局"))]
        assert [g["name"] for g in body["groups"]] == ["有关部门"]

    async def test_if_match_required_and_checked(self, env: Env, published: Published) -> None:
        task_id = published.tasks["t2"]["id"]
        url = f"/api/v1/tasks/{task_id}"
        current = await env.client.get(url, headers=env.token())
        tag = current.headers["etag"]
        missing = await env.client.patch(url, json={"title": "新标题"}, headers=env.token())
        assert missing.status_code == 428
        assert missing.headers["content-type"].startswith("application/problem+json")
        first = await env.client.patch(
            url, json={"title": "汛期水库安全度汛（修订）"}, headers=env.token() | {"If-Match": tag}
        )
        assert first.status_code == 200
        assert first.headers["etag"] != tag
        stale = await env.client.patch(
            url, json={"title": "另一人的修改"}, headers=env.token() | {"If-Match": tag}
        )
        assert stale.status_code == 412
        assert stale.json()["code"] == "precondition_failed"
        assert stale.headers["etag"] == first.headers["etag"]
        now = (await env.client.get(url, headers=env.token())).json()
        assert now["title"] == "汛期水库安全度汛（修订）"

    async def test_deadline_before_plan_start_refused(self, env: Env, published: Published) -> None:
        url = f"/api/v1/tasks/{published.tasks['t4']['id']}"
        response = await env.client.patch(
            url, json={"deadline": "2020-12-31"}, headers=env.token() | {"If-Match": "*"}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "deadline_before_plan_start"
        assert response.json()["errors"][0]["field"] == "body.deadline"
        assert (await env.client.get(url, headers=env.token())).json()["deadline"] is None
        created = await env.client.post(
            "/api/v1/tasks",
            json={"plan_id": str(published.plan_id), "title": "过早的任务", "deadline_text": "2020年底"},
            headers=env.token(),
        )
        assert created.status_code == 422

    async def test_cycle_in_parents_refused(self, env: Env, published: Published) -> None:
        t1, t4 = published.tasks["t1"]["id"], published.tasks["t4"]["id"]
        star = env.token() | {"If-Match": "*"}
        ok = await env.client.patch(f"/api/v1/tasks/{t4}", json={"parent_id": t1}, headers=star)
        assert ok.status_code == 200
        assert ok.json()["parent_id"] == t1
        cycle = await env.client.patch(f"/api/v1/tasks/{t1}", json={"parent_id": t4}, headers=star)
        assert cycle.status_code == 409
        assert cycle.json()["code"] == "task_parent_cycle"
        itself = await env.client.patch(f"/api/v1/tasks/{t1}", json={"parent_id": t1}, headers=star)
        assert itself.status_code == 409
        assert (await env.client.get(f"/api/v1/tasks/{t1}", headers=env.token())).json()["parent_id"] is None
        undone = await env.client.patch(f"/api/v1/tasks/{t4}", json={"parent_id": None}, headers=star)
        assert undone.json()["parent_id"] is None

    async def test_expand_a_group(self, env: Env, published: Published) -> None:
        t1 = published.tasks["t1"]
        group = next(g for g in t1["groups"] if g["name"] == SAFETY_MEMBERS)
        url = f"/api/v1/tasks/{t1['id']}/groups/{group['id']}/expansion"
        outside = await env.client.post(
            url,
            json={"department_ids": [str(dept_id("榆次区人民政府")), str(uuid.uuid4())]},
            headers=env.token(region=YUCI),
        )
        assert outside.status_code == 404  # the task is not in a county's jurisdiction
        unknown = await env.client.post(
            url, json={"department_ids": [str(uuid.uuid4())]}, headers=env.token()
        )
        assert unknown.status_code == 422
        ids = [str(dept_id("市财政局")), str(dept_id("市水利局"))]
        response = await env.client.post(url, json={"department_ids": ids}, headers=env.token())
        assert response.status_code == 200
        body = response.json()
        assert sorted(d["department_id"] for d in body["co"]) == sorted(ids)
        assert next(g for g in body["groups"] if g["name"] == SAFETY_MEMBERS)["expanded"] is True
        again = await env.client.post(url, json={"department_ids": ids}, headers=env.token())
        assert again.status_code == 409

    async def test_roles_and_jurisdiction(self, env: Env, published: Published) -> None:
        payload = {"plan_id": str(published.plan_id), "title": "无权创建"}
        reporter = env.token(roles=("department_reporter",))
        assert (await env.client.post("/api/v1/tasks", json=payload, headers=reporter)).status_code == 403
        elsewhere = env.token(region="141000")  # 临汾: another city
        task_id = published.tasks["t1"]["id"]
        assert (await env.client.get(f"/api/v1/tasks/{task_id}", headers=elsewhere)).status_code == 404
        ledger = await env.client.get(f"/api/v1/tasks/plans/{published.plan_id}/ledger", headers=elsewhere)
        assert ledger.status_code == 404
        assert (await env.client.post("/api/v1/tasks", json=payload, headers=elsewhere)).status_code == 422


# -------------------------------------------------------------------------------------------- ledger
class TestLedger:
    async def test_json_rows_in_plan_order(self, env: Env, published: Published) -> None:
        body = (
            await env.client.get(f"/api/v1/tasks/plans/{published.plan_id}/ledger", headers=env.token())
        ).json()
        rows = body["rows"][:4]
        assert [row["number"] for row in rows] == [1, 2, 3, 4]
        assert rows[0]["lead"] == ["市应急管理局"]
        assert GROUP in rows[0]["co"]
        assert rows[1]["lead"] == ["市水利局"]
        assert rows[1]["co"] == ["市财政局"]
        assert rows[2]["lead"] == ["各县〈市、区〉政府"]
        assert rows[2]["subtask_count"] == JINZHONG_COUNTIES
        assert rows[3]["lead"] == ["市应急文化中心"]
        assert {row["status_label"] for row in rows} == {"未开始"}

    async def test_xlsx_by_accept_and_by_query(self, env: Env, published: Published) -> None:
        url = f"/api/v1/tasks/plans/{published.plan_id}/ledger"
        xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        by_accept = await env.client.get(url, headers=env.token() | {"Accept": xlsx})
        by_query = await env.client.get(url, params={"format": "xlsx"}, headers=env.token())
        for response in (by_accept, by_query):
            assert response.status_code == 200
            assert response.headers["content-type"] == xlsx
        sheet = load_workbook(io.BytesIO(by_query.content)).active
        assert sheet is not None
        assert [c.value for c in sheet[2]] == [
            "序号",
            "任务",
            "牵头单位",
            "配合单位",
            "完成时限",
            "进展",
            "状态",
        ]
        first = [c.value for c in sheet[3]]
        assert first[0] == 1
        assert str(first[1]).startswith("健全应急指挥机制")
        assert first[2] == "市应急管理局"
        assert first[4] == "2023 年"
        assert first[5] == "0%"
        assert first[6] == "未开始"
        second = [c.value for c in sheet[4]]
        assert second[4] == "2022年6月底"

    async def test_import_creates_rows_not_yet_in_the_plan(self, env: Env, published: Published) -> None:
        content = _sheet(
            [
                (1, "健全应急指挥机制", "市应急管理局", "", "2023年", "", ""),  # already in the plan
                (
                    2,
                    "建设应急物资储备库\n市级储备库一座",
                    "市应急局",
                    "市财政局、市发改委",
                    "2024年6月底",
                    "20%，已选址",
                    "进行中",
                ),
                (3, "修订防汛预案", "市水利局", "各县（市、区）人民政府", date(2023, 5, 31), "", ""),
            ]
        )
        response = await _upload(env, published.plan_id, content)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["created"] == 2
        assert body["skipped"] == ["健全应急指挥机制"]
        store = (await env.client.get(f"/api/v1/tasks/{body['task_ids'][0]}", headers=env.token())).json()
        assert (store["title"], store["description"]) == ("建设应急物资储备库", "市级储备库一座")
        assert store["deadline"] == "2024-06-30"
        assert (store["status"], store["progress_percent"], store["progress_note"]) == (
            "in_progress",
            20,
            "已选址",
        )
        assert [d["department_id"] for d in store["lead"]] == [str(dept_id("市应急管理局"))]
        assert sorted(d["department_id"] for d in store["co"]) == sorted(
            [str(dept_id("市财政局")), str(dept_id("市发展和改革委员会"))]
        )
        flood = (await env.client.get(f"/api/v1/tasks/{body['task_ids'][1]}", headers=env.token())).json()
        assert flood["deadline"] == "2023-05-31"
        assert flood["subtask_count"] == JINZHONG_COUNTIES

    async def test_import_with_bad_rows_changes_nothing(self, env: Env, published: Published) -> None:
        before = await env.scalar("SELECT count(*) FROM task")
        content = _sheet(
            [
                (1, "好的一行", "市应急局", "", "2024年", "", ""),
                (2, "", "市应急局", "", "2024年", "", ""),
                (3, "没有牵头单位", "", "", "2024年", "", ""),
                (4, "完成时限过早", "市应急局", "", "2019年", "", ""),
                (5, "直接销号", "市应急局", "", "2024年", "150%", "已销号"),
            ]
        )
        response = await _upload(env, published.plan_id, content)
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "ledger_invalid"
        found = {(e["line"], e["field"], e["code"]) for e in body["errors"]}
        assert found == {
            (4, "任务", "required"),
            (5, "牵头单位", "required"),
            (6, "完成时限", "deadline_before_plan_start"),
            (7, "进展", "percent_out_of_range"),
            (7, "状态", "status_not_importable"),
        }
        assert await env.scalar("SELECT count(*) FROM task") == before
        garbage = await _upload(env, published.plan_id, b"not a workbook")
        assert garbage.status_code == 400
        assert garbage.json()["code"] == "ledger_unreadable"


def _sheet(rows: list[tuple[object, ...]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["某某方案任务分工台账"])
    sheet.append(["序号", "任务", "牵头单位", "配合单位", "完成时限", "进展", "状态"])
    for row in rows:
        sheet.append(list(row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def _upload(env: Env, plan_id: uuid.UUID, content: bytes) -> httpx.Response:
    files = {
        "file": ("台账.xlsx", content, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    }
    return await env.client.post(f"/api/v1/tasks/plans/{plan_id}/ledger", files=files, headers=env.token())


# ------------------------------------------------------------------------------- workload and counts
class TestWorkloadAndCounts:
    async def test_department_workload_across_plans(self, env: Env, published: Published) -> None:
        finance = dept_id("市财政局")
        body = (
            await env.client.get(f"/api/v1/tasks/departments/{finance}/workload", headers=env.token())
        ).json()
        # Count by hand from what the tests above did, across the two published plans (the sample and
        # the marker copy): co on t2 in each (2), on t1 after the group expansion (1), on the manual
        # task (1) and on the imported store task (1); it leads nothing.
        expected_co = await env.scalar(
            "SELECT count(*) FROM assignment a JOIN task t ON t.id = a.task_id "
            "WHERE a.department_id = :d AND a.role = 'co' AND t.current",
            d=finance,
        )
        assert expected_co == 5
        assert body["tasks"]["co"] == 5
        assert body["tasks"]["lead"] == 0
        assert body["tasks"]["by_status"]["in_progress"] == 1  # the imported store task
        assert body["tasks"]["by_status"]["not_started"] == 4
        # Every one of its deadlines (2022–2024) has passed: all five are overdue, red.
        assert (body["tasks"]["overdue"], body["tasks"]["by_light"]["red"]) == (5, 5)
        listed = (
            await env.client.get(
                f"/api/v1/tasks/departments/{finance}/tasks", params={"limit": 2}, headers=env.token()
            )
        ).json()
        assert len(listed["items"]) == 2
        rest = (
            await env.client.get(
                f"/api/v1/tasks/departments/{finance}/tasks",
                params={"limit": 10, "cursor": listed["next_cursor"]},
                headers=env.token(),
            )
        ).json()
        assert len(rest["items"]) == 3
        deadlines = [item["deadline"] for item in listed["items"] + rest["items"]]
        assert deadlines[0] == "2022-06-30"  # soonest first
        elsewhere = await env.client.get(
            f"/api/v1/tasks/departments/{finance}/workload", headers=env.token(region="141000")
        )
        assert elsewhere.status_code == 404

    async def test_counts_by_plan_and_region(self, env: Env, published: Published) -> None:
        plan = (
            await env.client.get(f"/api/v1/tasks/plans/{published.plan_id}/counts", headers=env.token())
        ).json()
        tasks = await env.scalar(
            "SELECT count(*) FROM task WHERE plan_id = :p AND current", p=published.plan_id
        )
        assert plan["total"] == tasks
        assert sum(plan["by_status"].values()) == plan["total"]
        # t1, t3 and the imported flood task each with 11 county parts, t2, the manual and the imported
        # store task; every deadline (2022 to 2025) has passed (the clock is past 2025) except t4's,
        # which has none.
        assert plan["total"] == 3 * (1 + JINZHONG_COUNTIES) + 4
        assert plan["overdue"] == plan["total"] - 1
        # 亮灯 by the work feature's rule: overdue is red; t4 without a deadline is green.
        assert plan["by_light"] == {"green": 1, "yellow": 0, "red": plan["total"] - 1}
        region = (await env.client.get(f"/api/v1/tasks/regions/{CITY}/counts", headers=env.token())).json()
        assert region["total"] >= plan["total"]


# ------------------------------------------------------------------------------------------ versions
class TestSupersede:
    async def test_old_tasks_kept_and_linked_with_their_status(self, env: Env) -> None:
        v1 = uuid.uuid4()
        await _publish_plan(env, sample_plan(v1))
        async with env.engine.begin() as connection:
            await connection.execute(
                text(
                    "UPDATE task SET status = 'in_progress', progress_percent = 40 WHERE plan_id = :p AND plan_item_id = :i"
                ),
                {"p": v1, "i": ITEM["t2"]},
            )
        v2 = uuid.uuid4()
        await _publish_plan(env, sample_plan(v2, version=2, supersedes=v1, lineage=v1))
        await env.publish(
            catalogue.PLAN_SUPERSEDED.build(
                payloads.PlanSuperseded(
                    plan_id=v1,
                    lineage_id=v1,
                    version=1,
                    region_code=CITY,
                    superseded_by=v2,
                    superseded_by_version=2,
                    superseded_at=datetime.now(UTC),
                ),
                region_code=CITY,
            )
        )
        async with create_sessionmaker(env.engine)() as session:
            old = {
                t.plan_item_id: t
                for t in (
                    await session.execute(select(Task).where(Task.plan_id == v1, Task.parent_id.is_(None)))
                ).scalars()
            }
            new = {
                t.plan_item_id: t
                for t in (
                    await session.execute(select(Task).where(Task.plan_id == v2, Task.parent_id.is_(None)))
                ).scalars()
            }
            old_current = (
                await session.execute(select(func.count()).where(Task.plan_id == v1, Task.current.is_(True)))
            ).scalar_one()
        assert old_current == 0
        assert len(new) == 3
        for key in ("t1", "t2", "t3"):
            assert old[ITEM[key]].successor_id == new[ITEM[key]].id
        assert old[ITEM["t4"]].successor_id is None  # dropped by v2: kept, not current, no successor
        assert (new[ITEM["t2"]].status, new[ITEM["t2"]].progress_percent) == ("in_progress", 40)
        ledger = (await env.client.get(f"/api/v1/tasks/plans/{v1}/ledger", headers=env.token())).json()
        assert ledger["current"] is False
        assert len(ledger["rows"]) == 4  # the history stays readable
