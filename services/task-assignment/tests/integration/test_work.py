"""Work on a task on the real PostgreSQL (and NATS, which the app's lifespan connects to): reports
and evidence, the status workflow with If-Match, the light in SQL against the rule in Python, the
overdue scan's once-only notices, and reminders once per department and period."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Date, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.events import CloudEvent, catalogue, payloads
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import ScratchDatabase as Database
from emplan_tools.testing import bearer, migrated_database
from task_assignment.app import create_app
from task_assignment.database import messaging
from task_assignment.departments.models import Department
from task_assignment.settings import Settings
from task_assignment.tasks.models import Assignment, PlanRef, Task
from task_assignment.work.light import LightRules, compute_light, light_case
from task_assignment.work.models import DepartmentReminder, EvidenceBlob, TaskEvidence, TaskReport
from task_assignment.work.overdue import scan_overdue
from task_assignment.work.periods import PeriodKind
from task_assignment.work.reminders import scan_reminders
from task_assignment.work.workflow import TaskStatus

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
CITY = "149800"  # a region code of our own: nothing else in the database lies under 1498
OTHER_CITY = "149700"
EVIDENCE_LIMIT = 2048


@pytest.fixture(scope="module")
def database(infra) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    with migrated_database(
        infra.database_url, SERVICE_ROOT / "migrations", label="work", database="task_assignment"
    ) as database:
        yield database


@pytest.fixture(scope="module")
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.url, pool_size=4)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@dataclass
class Api:
    client: httpx.AsyncClient
    private_key: str

    def token(
        self,
        *,
        region: str = CITY,
        roles: tuple[str, ...] = ("department_reporter",),
        dept: uuid.UUID | None = None,
        name: str = "张三",
    ) -> dict[str, str]:
        extra = {"dept": str(dept)} if dept is not None else {}
        return bearer(
            self.private_key,
            sub=f"user-{uuid.uuid4().hex[:6]}",
            region=region,
            roles=roles,
            name=name,
            **extra,
        )

    def bureau(self, region: str = CITY) -> dict[str, str]:
        return self.token(region=region, roles=("bureau_planner",), name="规划科李四")

    def admin(self) -> dict[str, str]:
        return self.token(region="000000", roles=("system_admin",), name="管理员")


@pytest.fixture(scope="module")
async def api(
    database: Database,
    infra,
    tmp_path_factory: pytest.TempPathFactory,  # type: ignore[no-untyped-def]
) -> AsyncIterator[Api]:
    keys = ensure_signing_keys(tmp_path_factory.mktemp("keys"))
    settings = Settings(
        DATABASE_URL=database.server_url,
        EMPLAN_DATABASE_PREFIX=database.prefix,
        NATS_URL=infra.nats_url,
        EMPLAN_JWT_PUBLIC_KEY_FILE=keys.public_key_file,
        EMPLAN_LOG_FORMAT="text",
        EMPLAN_LOG_LEVEL="WARNING",
        evidence_max_bytes=EVIDENCE_LIMIT,
        scans_enabled=False,  # the tests run the scans themselves, on chosen days
    )
    assert settings.database_url == database.url
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://task-assignment") as client:
            yield Api(client, keys.private_key_file.read_text())


# ---------------------------------------------------------------------------------------------- data


@dataclass(frozen=True)
class World:
    plan_id: uuid.UUID
    lead: uuid.UUID  # 市住建局
    co: uuid.UUID  # 市水利局
    stranger: uuid.UUID  # 市交通局: same city, assigned to nothing


async def _department(session: AsyncSession, name: str, region: str = CITY) -> uuid.UUID:
    department = Department(
        id=uuid.uuid4(), region_code=region, name=name, aliases=[], active=True, version=1
    )
    session.add(department)
    return department.id


async def _plan(session: AsyncSession, region: str = CITY, start: int = 2021, end: int = 2025) -> uuid.UUID:
    plan = PlanRef(
        id=uuid.uuid4(),
        lineage_id=uuid.uuid4(),
        version=1,
        region_code=region,
        region_name="测试市",
        kind="implementation_plan",
        title="测试市应急管理体系建设实施方案",
        period_start=start,
        period_end=end,
        published_at=datetime.now(UTC),
    )
    session.add(plan)
    return plan.id


@pytest.fixture(scope="module")
async def world(sessionmaker: async_sessionmaker[AsyncSession]) -> World:
    async with sessionmaker() as session, session.begin():
        world = World(
            plan_id=await _plan(session),
            lead=await _department(session, "市住建局"),
            co=await _department(session, "市水利局"),
            stranger=await _department(session, "市交通局"),
        )
    return world


async def new_task(
    sessionmaker: async_sessionmaker[AsyncSession],
    plan_id: uuid.UUID,
    *,
    lead: uuid.UUID | None = None,
    co: uuid.UUID | None = None,
    deadline: date | None = date(2030, 12, 31),
    status: TaskStatus = TaskStatus.not_started,
    progress: int = 0,
    region: str = CITY,
    current: bool = True,
    parent_id: uuid.UUID | None = None,
) -> uuid.UUID:
    task_id = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        session.add(
            Task(
                id=task_id,
                plan_id=plan_id,
                region_code=region,
                kind="key_task",
                position=1,
                code=f"({task_id.hex[:4]})",
                title=f"测试任务{task_id.hex[:6]}",
                deadline=deadline,
                status=status.value,
                progress_percent=progress,
                current=current,
                parent_id=parent_id,
                origin="cascade" if parent_id else "manual",
                created_by="test",
            )
        )
        await session.flush()
        for position, (department, role) in enumerate(((lead, "lead"), (co, "co"))):
            if department is not None:
                session.add(
                    Assignment(
                        task_id=task_id,
                        department_id=department,
                        role=role,
                        unit_name="单位",
                        position=position,
                    )
                )
    return task_id


async def task_row(sessionmaker: async_sessionmaker[AsyncSession], task_id: uuid.UUID) -> Task:
    async with sessionmaker() as session:
        task = await session.get(Task, task_id)
        assert task is not None
        return task


async def events(engine: AsyncEngine, event_type: str, subject: str | None = None) -> list[dict[str, Any]]:
    table = messaging.outbox_event
    statement = select(table.c.envelope).where(table.c.envelope["type"].astext == event_type)
    if subject is not None:
        statement = statement.where(table.c.envelope["subject"].astext == subject)
    async with engine.connect() as connection:
        return list((await connection.execute(statement.order_by(table.c.position))).scalars())


async def count(sessionmaker: async_sessionmaker[AsyncSession], model: Any, *conditions: Any) -> int:
    async with sessionmaker() as session:
        return int(
            (await session.execute(select(func.count()).select_from(model).where(*conditions))).scalar_one()
        )


REPORT = {"period": "2026-Q4", "percent": 40, "narrative": "完成排查120处，整改86处。"}


# ------------------------------------------------------------------------------------------- reports


class TestReports:
    async def test_lead_report_starts_the_task_and_is_its_progress(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead, co=world.co)
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports",
            json=REPORT | {"milestone": "完成隐患排查", "links": [{"url": "https://example.org/notice/1"}]},
            headers=api.token(dept=world.lead, name="住建局王五"),
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["capacity"] == "lead"
        assert body["department_id"] == str(world.lead)
        assert body["submitted_by_name"] == "住建局王五"
        assert body["status"] == "in_progress"
        assert [e["url"] for e in body["evidence"]] == ["https://example.org/notice/1"]
        task = await task_row(sessionmaker, task_id)
        assert (task.status, task.progress_percent, task.progress_note, task.version) == (
            "in_progress",
            40,
            "完成隐患排查",
            2,
        )
        changed = await events(engine, "emplan.task.status.changed", f"task/{task_id}")
        assert len(changed) == 1
        assert changed[0]["data"]["from_status"] == "not_started"
        assert changed[0]["data"]["to_status"] == "in_progress"
        assert changed[0]["data"]["action"] == "report"
        assert changed[0]["data"]["version"] == 2

        # a second report changes the figure but not the status: no further event
        again = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports",
            json=REPORT | {"percent": 55},
            headers=api.token(dept=world.lead),
        )
        assert again.status_code == 201
        assert (await task_row(sessionmaker, task_id)).progress_percent == 55
        assert len(await events(engine, "emplan.task.status.changed", f"task/{task_id}")) == 1

    async def test_co_operating_unit_reports_its_part_only(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead, co=world.co)
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports",
            json=REPORT | {"percent": 90},
            headers=api.token(dept=world.co),
        )
        assert response.status_code == 201
        assert response.json()["capacity"] == "co"
        task = await task_row(sessionmaker, task_id)
        # work has begun (status), but the task's figure is the lead's, and the lead has said nothing
        assert (task.status, task.progress_percent) == ("in_progress", 0)
        progress = (await api.client.get(f"/api/v1/tasks/{task_id}/progress", headers=api.bureau())).json()
        assert [(u["capacity"], u["latest_report"]["percent"]) for u in progress["units"]] == [("co", 90)]

    async def test_bureau_reports_on_behalf(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports", json=REPORT | {"percent": 30}, headers=api.bureau()
        )
        assert response.status_code == 201
        assert response.json()["capacity"] == "bureau"
        assert response.json()["department_id"] is None
        assert (await task_row(sessionmaker, task_id)).progress_percent == 30

    async def test_parent_progress_is_its_subtasks(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        parent = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        await new_task(
            sessionmaker, world.plan_id, lead=world.co, progress=20, parent_id=parent, region="149801"
        )
        await new_task(
            sessionmaker, world.plan_id, lead=world.co, progress=61, parent_id=parent, region="149802"
        )
        view = (await api.client.get(f"/api/v1/tasks/{parent}/progress", headers=api.bureau())).json()
        assert view["progress_percent"] == 40  # floor of (20 + 61) / 2

    async def test_unassigned_department_is_refused(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports", json=REPORT, headers=api.token(dept=world.stranger)
        )
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "task_not_assigned"
        # a planner of another city sees nothing at all
        elsewhere = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports", json=REPORT, headers=api.bureau(OTHER_CITY)
        )
        assert elsewhere.status_code == 404
        assert elsewhere.json()["code"] == "task_not_found"
        # a viewer cannot report even with a department claim
        viewer = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports",
            json=REPORT,
            headers=api.token(dept=world.lead, roles=("viewer",)),
        )
        assert viewer.status_code == 403
        assert await count(sessionmaker, TaskReport, TaskReport.task_id == task_id) == 0

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            (REPORT | {"percent": 101}, "body.percent"),
            (REPORT | {"percent": -1}, "body.percent"),
            (REPORT | {"period": "2026-Q5"}, "body.period"),
            ({"period": "2026-Q4", "narrative": "只有文字"}, "body"),
            (REPORT | {"links": [{"url": "ftp://example.org/x"}]}, "body.links.0.url"),
        ],
    )
    async def test_bad_input_changes_nothing(
        self,
        api: Api,
        world: World,
        sessionmaker: async_sessionmaker[AsyncSession],
        body: dict[str, Any],
        field: str,
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports", json=body, headers=api.token(dept=world.lead)
        )
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "validation_failed"
        assert any(item["field"] == field for item in problem["errors"]), problem
        task = await task_row(sessionmaker, task_id)
        assert (task.status, task.version) == ("not_started", 1)
        assert await count(sessionmaker, TaskReport, TaskReport.task_id == task_id) == 0

    async def test_report_on_closed_task_is_refused(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead, status=TaskStatus.closed)
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports", json=REPORT, headers=api.token(dept=world.lead)
        )
        assert response.status_code == 409
        assert response.json()["code"] == "task_closed"
        assert await count(sessionmaker, TaskReport, TaskReport.task_id == task_id) == 0

    async def test_reports_are_listed_newest_first_in_pages(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        for percent in (10, 20, 30):
            await api.client.post(
                f"/api/v1/tasks/{task_id}/reports",
                json=REPORT | {"percent": percent},
                headers=api.token(dept=world.lead),
            )
        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
            page = (
                await api.client.get(f"/api/v1/tasks/{task_id}/reports", params=params, headers=api.bureau())
            ).json()
            seen += [item["percent"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [30, 20, 10]
        bad = await api.client.get(
            f"/api/v1/tasks/{task_id}/reports", params={"cursor": "bm90LWEtbGlzdA"}, headers=api.bureau()
        )
        assert bad.status_code == 400


# ------------------------------------------------------------------------------------------ evidence

PDF = b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"


class TestEvidence:
    async def _report(self, api: Api, task_id: uuid.UUID, dept: uuid.UUID) -> str:
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports", json=REPORT, headers=api.token(dept=dept)
        )
        assert response.status_code == 201
        return str(response.json()["id"])

    async def test_file_stored_with_checksum_and_downloaded_intact(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        report_id = await self._report(api, task_id, world.lead)
        url = f"/api/v1/tasks/{task_id}/reports/{report_id}/evidence"
        response = await api.client.post(
            url,
            files={"file": ("C:\\扫描件\\验收报告.pdf", PDF, "application/pdf")},
            headers=api.token(dept=world.lead),
        )
        assert response.status_code == 201, response.text
        evidence = response.json()
        assert evidence["sha256"] == hashlib.sha256(PDF).hexdigest()
        assert evidence["filename"] == "验收报告.pdf"
        assert evidence["size_bytes"] == len(PDF)
        download = await api.client.get(f"{url}/{evidence['id']}", headers=api.bureau())
        assert download.status_code == 200
        assert download.content == PDF
        assert download.headers["content-type"] == "application/pdf"
        assert download.headers["repr-digest"].startswith("sha-256=:")
        # the same file again (another report) is stored once
        other_report = await self._report(api, task_id, world.lead)
        again = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports/{other_report}/evidence",
            files={"file": ("copy.pdf", PDF, "application/pdf")},
            headers=api.token(dept=world.lead),
        )
        assert again.status_code == 201
        assert await count(sessionmaker, EvidenceBlob, EvidenceBlob.sha256 == evidence["sha256"]) == 1

    @pytest.mark.parametrize(
        ("filename", "content", "status", "code"),
        [
            ("big.pdf", b"%PDF-" + b"x" * EVIDENCE_LIMIT, 413, "evidence_too_large"),
            ("tool.exe", b"MZ\x90\x00", 415, "evidence_type_forbidden"),
            ("fake.pdf", b"MZ\x90\x00", 415, "evidence_type_forbidden"),
            ("", PDF + b"unnamed", 415, "evidence_type_forbidden"),
        ],
    )
    async def test_refused_files_leave_nothing(
        self,
        api: Api,
        world: World,
        sessionmaker: async_sessionmaker[AsyncSession],
        filename: str,
        content: bytes,
        status: int,
        code: str,
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        report_id = await self._report(api, task_id, world.lead)
        response = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports/{report_id}/evidence",
            files={"file": (filename or "x", content, "application/octet-stream")}
            if filename
            else {"file": ("", content)},
            headers=api.token(dept=world.lead),
        )
        if filename == "":
            # an unnamed part is not a file to FastAPI: a validation error, still nothing stored
            assert response.status_code in (415, 422), response.text
        else:
            assert response.status_code == status, response.text
            assert response.json()["code"] == code
            assert response.json()["errors"][0]["field"] == "body.file"
        assert await count(sessionmaker, TaskEvidence, TaskEvidence.report_id == uuid.UUID(report_id)) == 0
        assert (
            await count(
                sessionmaker, EvidenceBlob, EvidenceBlob.sha256 == hashlib.sha256(content).hexdigest()
            )
            == 0
        )

    async def test_only_the_reporting_unit_adds_evidence(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead, co=world.co)
        report_id = await self._report(api, task_id, world.lead)
        url = f"/api/v1/tasks/{task_id}/reports/{report_id}/evidence"
        files = {"file": ("a.pdf", PDF, "application/pdf")}
        co = await api.client.post(url, files=files, headers=api.token(dept=world.co))
        assert co.status_code == 403
        assert co.json()["code"] == "report_not_own"
        stranger = await api.client.post(url, files=files, headers=api.token(dept=world.stranger))
        assert stranger.status_code == 403
        assert stranger.json()["code"] == "task_not_assigned"
        assert (await api.client.post(url, files=files, headers=api.bureau())).status_code == 201


# --------------------------------------------------------------------------------------- transitions


async def transition(
    api: Api, task_id: uuid.UUID, action: str, headers: dict[str, str], if_match: str | None, **extra: Any
) -> httpx.Response:
    if if_match is not None:
        headers = headers | {"If-Match": if_match}
    return await api.client.post(
        f"/api/v1/tasks/{task_id}/transitions", json={"action": action, **extra}, headers=headers
    )


class TestTransitions:
    async def test_report_claim_close(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead, co=world.co)
        lead = api.token(dept=world.lead)
        await api.client.post(
            f"/api/v1/tasks/{task_id}/reports", json=REPORT | {"percent": 100}, headers=lead
        )
        progress = await api.client.get(f"/api/v1/tasks/{task_id}/progress", headers=lead)
        etag = progress.headers["etag"]
        assert etag == '"2"'

        co_claim = await transition(api, task_id, "claim_completion", api.token(dept=world.co), etag)
        assert co_claim.status_code == 403
        assert co_claim.json()["code"] == "action_not_permitted"

        claimed = await transition(api, task_id, "claim_completion", lead, etag)
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["status"] == "completed"
        assert claimed.headers["etag"] == '"3"'

        lead_close = await transition(api, task_id, "close", lead, '"3"')
        assert lead_close.status_code == 403

        closed = await transition(api, task_id, "close", api.bureau(), '"3"')
        assert closed.status_code == 200
        body = closed.json()
        assert (body["status"], body["version"], body["light"], body["overdue"]) == (
            "closed",
            4,
            "green",
            False,
        )
        assert [(h["from_status"], h["to_status"], h["capacity"]) for h in body["history"]] == [
            ("not_started", "in_progress", "lead"),
            ("in_progress", "completed", "lead"),
            ("completed", "closed", "bureau"),
        ]
        published = await events(engine, "emplan.task.status.changed", f"task/{task_id}")
        assert [(e["data"]["action"], e["data"]["to_status"], e["data"]["version"]) for e in published] == [
            ("report", "in_progress", 2),
            ("claim_completion", "completed", 3),
            ("close", "closed", 4),
        ]
        again = await transition(api, task_id, "close", api.bureau(), '"4"')
        assert again.status_code == 409
        assert again.json()["code"] == "task_closed"

    async def test_return_with_reason_then_report_resumes(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        task_id = await new_task(
            sessionmaker, world.plan_id, lead=world.lead, status=TaskStatus.completed, progress=100
        )
        no_reason = await transition(api, task_id, "return", api.bureau(), '"1"')
        assert no_reason.status_code == 422
        assert no_reason.json()["code"] == "reason_required"
        assert (await task_row(sessionmaker, task_id)).status == "completed"

        returned = await transition(api, task_id, "return", api.bureau(), '"1"', reason="缺少竣工验收材料")
        assert returned.status_code == 200
        assert returned.json()["status"] == "returned"
        assert returned.json()["history"][-1]["reason"] == "缺少竣工验收材料"
        event = (await events(engine, "emplan.task.status.changed", f"task/{task_id}"))[-1]
        assert (event["data"]["action"], event["data"]["reason"]) == ("return", "缺少竣工验收材料")

        resumed = await api.client.post(
            f"/api/v1/tasks/{task_id}/reports",
            json=REPORT | {"percent": 100},
            headers=api.token(dept=world.lead),
        )
        assert resumed.json()["status"] == "in_progress"

        # The whole state after each change, as the evaluation's read model keeps it.
        states = [e["data"] for e in await events(engine, "emplan.task.state.changed", f"task/{task_id}")]
        assert [
            (s["cause"], s["status"], s["version"], s["returned_count"], s["progress_percent"])
            for s in states
        ] == [("status", "returned", 2, 1, 100), ("report", "in_progress", 3, 1, 100)]
        last = states[-1]
        assert (last["lead_departments"], last["co_departments"], last["region_name"]) == (
            ["市住建局"],
            [],
            "测试市",
        )
        assert (last["deadline"], last["plan_start"], last["current"]) == ("2030-12-31", "2021-01-01", True)
        assert last["last_report"]["summary"] == REPORT["narrative"]
        assert last["last_report"]["percent"] == 100
        assert (last["yellow_within_days"], last["behind_tolerance_pct"]) == (None, None)
        assert states[0]["last_report"] is None

    async def test_a_subtask_report_publishes_its_parent_too(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        parent = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        child = await new_task(
            sessionmaker, world.plan_id, lead=world.co, progress=10, parent_id=parent, region="149803"
        )
        await new_task(
            sessionmaker, world.plan_id, lead=world.co, progress=30, parent_id=parent, region="149804"
        )
        reported = await api.client.post(
            f"/api/v1/tasks/{child}/reports", json=REPORT | {"percent": 50}, headers=api.bureau()
        )
        assert reported.status_code == 201, reported.text
        (child_state,) = [
            e["data"] for e in await events(engine, "emplan.task.state.changed", f"task/{child}")
        ]
        (parent_state,) = [
            e["data"] for e in await events(engine, "emplan.task.state.changed", f"task/{parent}")
        ]
        assert (child_state["progress_percent"], child_state["parent_id"]) == (50, str(parent))
        # The parent's progress is its sub-tasks' mean: floor((50 + 30) / 2) = 40; it is not started.
        assert (parent_state["progress_percent"], parent_state["status"], parent_state["cause"]) == (
            40,
            "not_started",
            "report",
        )

    async def test_if_match_missing_or_stale(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead, status=TaskStatus.in_progress)
        lead = api.token(dept=world.lead)
        missing = await transition(api, task_id, "claim_completion", lead, None)
        assert missing.status_code == 428
        assert missing.json()["code"] == "precondition_required"
        # someone else changed the task meanwhile (an editor, another report)
        async with sessionmaker() as session, session.begin():
            await session.execute(update(Task).where(Task.id == task_id).values(version=Task.version + 1))
        stale = await transition(api, task_id, "claim_completion", lead, '"1"')
        assert stale.status_code == 412
        assert stale.json()["code"] == "precondition_failed"
        assert stale.headers["etag"] == '"2"'
        task = await task_row(sessionmaker, task_id)
        assert (task.status, task.version) == ("in_progress", 2)
        assert await events(engine, "emplan.task.status.changed", f"task/{task_id}") == []
        # a weak tag of the current version, or *, is honoured
        assert (await transition(api, task_id, "claim_completion", lead, 'W/"2"')).status_code == 200

    async def test_wrong_status_and_unknown_action(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        task_id = await new_task(sessionmaker, world.plan_id, lead=world.lead)
        early = await transition(api, task_id, "claim_completion", api.token(dept=world.lead), "*")
        assert early.status_code == 409
        assert early.json()["code"] == "transition_not_allowed"
        unknown = await transition(api, task_id, "delete", api.bureau(), "*")
        assert unknown.status_code == 422
        outsider = await transition(api, task_id, "start", api.token(dept=world.stranger), "*")
        assert outsider.status_code == 403
        started = await transition(api, task_id, "start", api.token(dept=world.lead), "*")
        assert started.json()["status"] == "in_progress"


# --------------------------------------------------------------------------------------------- light


class TestLight:
    async def test_sql_light_matches_the_rule(
        self, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        """The SQL CASE used for lists and counts gives the Python rule's answer on every boundary."""
        start = date(2021, 1, 1)
        deadline = date(2025, 12, 31)  # 1825 days after the start
        days = [
            date(2021, 1, 1),
            date(2021, 6, 30),
            date(2023, 7, 2),
            date(2025, 12, 1),
            date(2025, 11, 30),
            deadline,
            date(2026, 1, 1),
        ]
        cases = [
            (status, progress, tolerance, yellow, today, task_deadline)
            for status in TaskStatus
            for progress in (0, 37, 50, 100)
            for tolerance in (0, 10)
            for yellow in (0, 30)
            for today in days
            for task_deadline in (deadline, None)
        ]
        async with sessionmaker() as session:
            for status, progress, tolerance, yellow, today, task_deadline in cases:
                expression = light_case(
                    status=literal(status.value),
                    deadline=literal(task_deadline, Date()),
                    start=literal(start),
                    progress_pct=literal(progress),
                    yellow_within_days=literal(yellow),
                    behind_tolerance_pct=literal(tolerance),
                    today=today,
                )
                in_sql = (await session.execute(select(expression))).scalar_one()
                in_python = compute_light(
                    status=status,
                    deadline=task_deadline,
                    today=today,
                    start=start,
                    progress_pct=progress,
                    rules=LightRules(yellow, tolerance),
                )
                assert in_sql == in_python.value, (status, progress, tolerance, yellow, today, task_deadline)
        assert len(cases) == 5 * 4 * 2 * 2 * 7 * 2

    async def test_progress_light_and_rules_per_plan(
        self, api: Api, world: World, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        async with sessionmaker() as session, session.begin():
            plan_id = await _plan(session, start=2021, end=2030)
        late = await new_task(sessionmaker, plan_id, lead=world.lead, deadline=date(2025, 12, 31))
        far = await new_task(sessionmaker, plan_id, lead=world.lead, deadline=date(2099, 12, 31), progress=0)
        late_view = (await api.client.get(f"/api/v1/tasks/{late}/progress", headers=api.bureau())).json()
        as_of = date.fromisoformat(late_view["as_of"])
        assert as_of >= date(2026, 1, 1)
        assert (late_view["light"], late_view["overdue"]) == ("red", True)
        # 2021-01-01 → 2099-12-31 is 28,854 days; by now about 7 % of it has elapsed: green at the
        # default tolerance of 10 points, yellow once the plan tolerates no lag at all
        far_view = (await api.client.get(f"/api/v1/tasks/{far}/progress", headers=api.bureau())).json()
        assert far_view["light"] == "green"
        assert far_view["light_rules"] == {
            "plan_id": str(plan_id),
            "yellow_within_days": 30,
            "behind_tolerance_pct": 10,
            "default": True,
        }
        refused = await api.client.put(
            f"/api/v1/tasks/plans/{plan_id}/light-rules",
            json={"yellow_within_days": 30, "behind_tolerance_pct": 0},
            headers=api.token(dept=world.lead),
        )
        assert refused.status_code == 403
        outside = await api.client.put(
            f"/api/v1/tasks/plans/{plan_id}/light-rules",
            json={"yellow_within_days": 30, "behind_tolerance_pct": 0},
            headers=api.bureau(OTHER_CITY),
        )
        assert outside.status_code == 404
        bad = await api.client.put(
            f"/api/v1/tasks/plans/{plan_id}/light-rules",
            json={"yellow_within_days": 30, "behind_tolerance_pct": 101},
            headers=api.bureau(),
        )
        assert bad.status_code == 422
        strict = await api.client.put(
            f"/api/v1/tasks/plans/{plan_id}/light-rules",
            json={"yellow_within_days": 30, "behind_tolerance_pct": 0},
            headers=api.bureau(),
        )
        assert strict.status_code == 200
        assert strict.json()["default"] is False
        far_view = (await api.client.get(f"/api/v1/tasks/{far}/progress", headers=api.bureau())).json()
        assert far_view["light"] == "yellow"
        assert far_view["light_rules"]["behind_tolerance_pct"] == 0
        rules = await api.client.get(
            f"/api/v1/tasks/plans/{plan_id}/light-rules", headers=api.token(dept=world.co)
        )
        assert rules.json()["behind_tolerance_pct"] == 0
        assert as_of - date(2021, 1, 1) < timedelta(days=int(0.1 * 28_854))


# ------------------------------------------------------------------------------------------- overdue


class TestOverdue:
    async def test_once_per_task_and_deadline(
        self, world: World, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        async with sessionmaker() as session, session.begin():
            plan_id = await _plan(session)
        scan_day = date(2031, 1, 1)  # a day after every deadline below but 2031-01-01
        owed = await new_task(
            sessionmaker, plan_id, lead=world.lead, co=world.co, deadline=date(2030, 12, 31)
        )
        returned = await new_task(
            sessionmaker, plan_id, lead=world.lead, deadline=date(2030, 6, 30), status=TaskStatus.returned
        )
        on_time = await new_task(sessionmaker, plan_id, lead=world.lead, deadline=scan_day)  # due today
        claimed = await new_task(
            sessionmaker, plan_id, lead=world.lead, deadline=date(2030, 1, 1), status=TaskStatus.completed
        )
        superseded = await new_task(
            sessionmaker, plan_id, lead=world.lead, deadline=date(2030, 1, 1), current=False
        )
        no_deadline = await new_task(sessionmaker, plan_id, lead=world.lead, deadline=None)
        ours = {owed, returned, on_time, claimed, superseded, no_deadline}

        async def notified() -> dict[str, list[dict[str, Any]]]:
            found: dict[str, list[dict[str, Any]]] = {}
            for envelope in await events(engine, "emplan.task.overdue"):
                if uuid.UUID(envelope["data"]["task_id"]) in ours:
                    found.setdefault(envelope["data"]["task_id"], []).append(envelope)
            return found

        async def scan(day: date) -> None:
            async with sessionmaker() as session, session.begin():
                await scan_overdue(session, day)

        # two scans at once (two replicas), then one more: each task once
        await asyncio.gather(scan(scan_day), scan(scan_day))
        await scan(scan_day)
        found = await notified()
        assert set(found) == {str(owed), str(returned)}
        assert all(len(envelopes) == 1 for envelopes in found.values())
        payload = found[str(owed)][0]["data"]
        assert payload["deadline"] == "2030-12-31"
        assert payload["lead_department_ids"] == [str(world.lead)]
        assert payload["co_department_ids"] == [str(world.co)]
        assert payload["detected_on"] == "2031-01-01"
        assert found[str(owed)][0]["regioncode"] == CITY
        # the envelope the scan writes in SQL is exactly what the catalogue's consumers parse
        for envelopes in found.values():
            event = CloudEvent.model_validate(envelopes[0])
            parsed = catalogue.TASK_OVERDUE.parse(event)
            assert set(event.data) == set(payloads.TaskOverdue.model_fields)
            assert (event.type, event.source, event.subject) == (
                "emplan.task.overdue",
                "/emplan/task-assignment",
                f"task/{parsed.task_id}",
            )
            assert event.dataschema == "urn:emplan:event:emplan.task.overdue:v1"
            assert event.time.tzinfo is not None
        async with engine.connect() as connection:
            ids = (
                await connection.execute(
                    select(
                        messaging.outbox_event.c.event_id, messaging.outbox_event.c.envelope["id"].astext
                    ).where(messaging.outbox_event.c.subject == "emplan.task.overdue")
                )
            ).all()
        assert all(str(row[0]) == row[1] for row in ids)  # Nats-Msg-Id = the envelope's id

        # the bureau extends the deadline: a new deadline may be missed again, and is notified again
        async with sessionmaker() as session, session.begin():
            await session.execute(update(Task).where(Task.id == owed).values(deadline=date(2031, 3, 31)))
        await scan(date(2031, 4, 1))
        await scan(date(2031, 4, 2))
        found = await notified()
        assert [e["data"]["deadline"] for e in found[str(owed)]] == ["2030-12-31", "2031-03-31"]
        assert len(found[str(returned)]) == 1
        # the task due on 2031-01-01 was in time that day, and overdue from the next
        assert set(found) == {str(owed), str(returned), str(on_time)}

    async def test_scan_endpoint_is_for_admins(self, api: Api) -> None:
        refused = await api.client.post("/api/v1/tasks/overdue-scan", json={}, headers=api.bureau())
        assert refused.status_code == 403
        ran = await api.client.post(
            "/api/v1/tasks/overdue-scan", json={"as_of": "2020-01-01"}, headers=api.admin()
        )
        assert ran.status_code == 200
        assert ran.json()["as_of"] == "2020-01-01"
        assert ran.json()["notified"] == 0  # nothing in this database was due before 2020
        for bad in (0, "0796-04-06", "2026-13-01"):  # a number is not a day; years outside plans
            refused = await api.client.post(
                "/api/v1/tasks/overdue-scan", json={"as_of": bad}, headers=api.admin()
            )
            assert refused.status_code == 422, bad
            assert refused.json()["errors"][0]["field"] == "body.as_of"
            refused = await api.client.post(
                "/api/v1/tasks/reminders-scan", json={"as_of": bad}, headers=api.admin()
            )
            assert refused.status_code == 422, bad


# ----------------------------------------------------------------------------------------- reminders


class TestReminders:
    async def test_one_summary_per_department_and_period(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        async with sessionmaker() as session, session.begin():
            plan_id = await _plan(session, region="149600")
            a = await _department(session, "市消防救援支队", region="149600")
            b = await _department(session, "市气象局", region="149600")
            quiet = await _department(session, "市档案局", region="149600")
        # the scan day is 2040-12-20: Q4 ends on 12-31, the window opens 15 days before (12-16)
        overdue_silent = await new_task(
            sessionmaker, plan_id, lead=a, deadline=date(2040, 12, 1), region="149600"
        )
        due_reported = await new_task(
            sessionmaker, plan_id, lead=a, co=b, deadline=date(2041, 1, 15), region="149600"
        )
        later = await new_task(sessionmaker, plan_id, co=a, deadline=date(2045, 1, 1), region="149600")
        await new_task(
            sessionmaker,
            plan_id,
            lead=quiet,
            deadline=date(2040, 1, 1),
            status=TaskStatus.closed,
            region="149600",
        )
        async with sessionmaker() as session, session.begin():
            # department a reported on due_reported during 2040-Q4 (China time), b reported in Q3
            for department, at in (
                (a, datetime(2040, 11, 3, 9, tzinfo=UTC)),
                (b, datetime(2040, 9, 30, 16, 30, tzinfo=UTC)),
            ):
                session.add(
                    TaskReport(
                        task_id=due_reported,
                        department_id=department,
                        capacity="lead" if department == a else "co",
                        period="2040-Q4",
                        percent=50,
                        submitted_by="test",
                        submitted_at=at,
                    )
                )
        # b's report at 2040-09-30 16:30 UTC is 2040-10-01 00:30 in China: inside Q4

        async def scan(day: date) -> bool:
            async with sessionmaker() as session, session.begin():
                result = await scan_reminders(
                    session,
                    day,
                    kind=PeriodKind.quarter,
                    days_before_end=15,
                    due_within_days=30,
                    timezone="Asia/Shanghai",
                )
                return result.window_open

        ours = {str(a), str(b), str(quiet)}

        async def sent() -> list[dict[str, Any]]:
            return [
                e["data"]
                for e in await events(engine, "emplan.task.reminder.due")
                if e["data"]["department_id"] in ours
            ]

        assert not await scan(date(2040, 12, 15))  # the window is not open yet
        assert await sent() == []
        # two scans in the window, one of them concurrent with a third: one reminder each
        await asyncio.gather(scan(date(2040, 12, 20)), scan(date(2040, 12, 20)))
        assert await scan(date(2040, 12, 21))
        reminders = {data["department_id"]: data for data in await sent()}
        assert len(await sent()) == 2
        assert set(reminders) == {str(a), str(b)}  # a: overdue, due, unreported; b: due; quiet: nothing
        for_a = reminders[str(a)]
        assert for_a["period"] == "2040-Q4"
        assert (for_a["period_start"], for_a["period_end"]) == ("2040-10-01", "2040-12-31")
        assert [t["task_id"] for t in for_a["overdue"]] == [str(overdue_silent)]
        assert [t["task_id"] for t in for_a["due"]] == [str(due_reported)]  # 2041-01-15 ≤ 12-20 + 30
        assert [t["task_id"] for t in for_a["not_reported"]] == [str(overdue_silent), str(later)]
        assert [t["role"] for t in for_a["not_reported"]] == ["lead", "co"]
        assert (for_a["due_count"], for_a["overdue_count"], for_a["not_reported_count"]) == (1, 1, 2)
        for_b = reminders[str(b)]
        assert [t["task_id"] for t in for_b["due"]] == [str(due_reported)]
        assert for_b["not_reported"] == []  # its report fell on 10-01 China time
        assert await count(sessionmaker, DepartmentReminder, DepartmentReminder.department_id == quiet) == 0
        # next quarter's window is a new period: a gets its reminder again
        assert await scan(date(2041, 3, 20))
        assert sorted(data["period"] for data in await sent() if data["department_id"] == str(a)) == [
            "2040-Q4",
            "2041-Q1",
        ]

    async def test_scan_endpoint(self, api: Api) -> None:
        outside = await api.client.post(
            "/api/v1/tasks/reminders-scan", json={"as_of": "2040-11-01"}, headers=api.admin()
        )
        assert outside.status_code == 200
        assert outside.json() == {
            "as_of": "2040-11-01",
            "period": "2040-Q4",
            "window_open": False,
            "notified": 0,
        }
        refused = await api.client.post("/api/v1/tasks/reminders-scan", json={}, headers=api.bureau())
        assert refused.status_code == 403
