"""Round lifecycle on the real PostgreSQL (and NATS, which the app's lifespan connects to): plans
arriving from plan.published, scoring schemes, rounds from draft to published, what is refused and
that a refusal changes nothing, frozen scores after approval, reports and the public read.

Expected scores are the hand-worked ones of tests/unit/test_domain_scoring.py (曲沃县 81.00, 襄汾县
73.50, 翼城县 39.50)."""

from __future__ import annotations

import asyncio
import copy
import io
import json
import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docx
import httpx
import openpyxl
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.events import catalogue, payloads
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import ScratchDatabase as Database
from emplan_tools.testing import bearer, migrated_database
from evaluation.app import create_app
from evaluation.database import messaging
from evaluation.plans.handlers import on_plan_published, on_plan_superseded
from evaluation.rounds.models import EvaluationRound, ScoringSchemeRecord
from evaluation.settings import Settings

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
SAMPLE = SERVICE_ROOT / "tests" / "data" / "city_midterm_snapshot.json"
CITY = "141000"


@pytest.fixture(scope="module")
def database(infra) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    with migrated_database(
        infra.database_url, SERVICE_ROOT / "migrations", label="eval", database="evaluation"
    ) as database:
        yield database


@pytest.fixture(scope="module")
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@dataclass
class Api:
    client: httpx.AsyncClient
    private_key: str
    app: Any

    def token(self, *, region: str = "000000", roles: tuple[str, ...] = ("system_admin",)) -> dict[str, str]:
        return bearer(self.private_key, sub=f"test-{uuid.uuid4().hex[:6]}", region=region, roles=roles)

    @property
    def admin(self) -> dict[str, str]:
        return self.token()

    @property
    def planner(self) -> dict[str, str]:
        return self.token(region=CITY, roles=("bureau_planner",))


@pytest.fixture(scope="module")
async def api(database: Database, infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    keys = ensure_signing_keys(tmp_path_factory.mktemp("keys"))
    settings = Settings(
        DATABASE_URL=database.server_url,
        EMPLAN_DATABASE_PREFIX=database.prefix,
        NATS_URL=infra.nats_url,
        EMPLAN_JWT_PUBLIC_KEY_FILE=keys.public_key_file,
        EMPLAN_LOG_FORMAT="text",
        EMPLAN_LOG_LEVEL="WARNING",
    )
    assert settings.database_url == database.url
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://evaluation") as client:
            yield Api(client, keys.private_key_file.read_text(), app)


def plan_event(plan_id: uuid.UUID, *, region: str = CITY, start: int = 2021, end: int = 2025) -> Any:
    return catalogue.PLAN_PUBLISHED.build(
        payloads.PlanPublished(
            plan_id=plan_id,
            lineage_id=uuid.uuid4(),
            version=1,
            supersedes=None,
            region_code=region,
            region_name="临汾市",
            kind="plan",
            title="临汾市“十四五”应急管理体系规划",
            period=payloads.PlanPeriod(start=start, end=end),
            issuing_body=None,
            doc_number=None,
            issued_on=None,
            parent_plans=[],
            published_at=datetime(2022, 3, 1, tzinfo=UTC),
            published_by="planner",
            document_sha256=None,
            goals=[],
            indicators=[],
            tasks=[],
        ),
        subject=f"plan/{plan_id}",
        region_code=region,
    )


async def publish_plan(sessionmaker: async_sessionmaker[AsyncSession], **kwargs: Any) -> uuid.UUID:
    """A plan as the consumer records it from plan.published (the handler, in its own transaction)."""
    plan_id = uuid.uuid4()
    async with sessionmaker() as session, session.begin():
        await on_plan_published(session, plan_event(plan_id, **kwargs))
    return plan_id


def snapshot_for(plan_id: uuid.UUID, reference_date: str = "2023-06-30") -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text())
    data["plan"]["plan_id"] = str(plan_id)
    data["reference_date"] = reference_date
    return data


async def _count(engine: AsyncEngine, model: Any) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(model))).scalar_one())


async def _published_events(engine: AsyncEngine) -> list[dict[str, Any]]:
    table = messaging.outbox_event
    async with engine.connect() as connection:
        rows = (await connection.execute(select(table.c.envelope).order_by(table.c.position))).scalars().all()
    return [e for e in rows if e["type"] == catalogue.EVALUATION_PUBLISHED.type]


async def new_round(api: Api, plan_id: uuid.UUID, **extra: Any) -> dict[str, Any]:
    body = {"plan_id": str(plan_id), "kind": "mid_term", "reference_date": "2023-06-30", **extra}
    response = await api.client.post("/api/v1/evaluations/rounds", json=body, headers=api.planner)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def to_approved(api: Api, round_id: str, snapshot: dict[str, Any]) -> None:
    path = f"/api/v1/evaluations/rounds/{round_id}"
    assert (await api.client.post(f"{path}/snapshot", json=snapshot, headers=api.admin)).status_code == 200
    assert (await api.client.post(f"{path}/submit", headers=api.planner)).status_code == 200
    response = await api.client.post(f"{path}/approve", headers=api.planner)
    assert response.status_code == 200, response.text


def totals(scores: dict[str, Any], kind: str = "regions") -> list[tuple[str, int, str]]:
    return [(s["name"], s["rank"], s["total"]) for s in scores[kind]]


# ------------------------------------------------------------------------------------------------ plans


class TestPlanReplica:
    async def test_publication_is_idempotent_and_supersession_marks_it(
        self, sessionmaker: async_sessionmaker[AsyncSession], api: Api
    ) -> None:
        plan_id = uuid.uuid4()
        event = plan_event(plan_id)
        for _ in range(2):  # a redelivery rewrites the same row
            async with sessionmaker() as session, session.begin():
                await on_plan_published(session, event)
        superseded = catalogue.PLAN_SUPERSEDED.build(
            payloads.PlanSuperseded(
                plan_id=plan_id,
                lineage_id=uuid.uuid4(),
                version=1,
                region_code=CITY,
                superseded_by=uuid.uuid4(),
                superseded_by_version=2,
                superseded_at=datetime(2024, 1, 1, tzinfo=UTC),
            )
        )
        async with sessionmaker() as session, session.begin():
            await on_plan_superseded(session, superseded)
        response = await api.client.post(
            "/api/v1/evaluations/rounds",
            json={"plan_id": str(plan_id), "kind": "annual", "reference_date": "2023-12-31"},
            headers=api.planner,
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "plan_not_published"
        assert "已被新版本替代" in response.json()["detail"]


# ---------------------------------------------------------------------------------------------- schemes


class TestSchemes:
    async def test_default_scheme_is_documented(self, api: Api) -> None:
        response = await api.client.get("/api/v1/evaluations/schemes/default", headers=api.planner)
        assert response.status_code == 200
        rules = response.json()["rules"]
        assert (rules["indicator_weight"], rules["task_weight"]) == ("60", "40")
        assert rules["missed_binding"] == {
            "mode": "deduction",
            "points": "10",
            "statuses": ["lagging", "seriously_lagging"],
        }

    async def test_weights_that_do_not_add_up_are_refused_and_nothing_stored(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        plan_id = await publish_plan(sessionmaker)
        before = await _count(engine, ScoringSchemeRecord)
        response = await api.client.post(
            "/api/v1/evaluations/schemes",
            json={"plan_id": str(plan_id), "rules": {"indicator_weight": "70", "task_weight": "40"}},
            headers=api.planner,
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        [error] = response.json()["errors"]
        assert error["field"] == "body.rules"
        assert error["detail"] == "指标权重（70）与任务权重（40）之和应为 100，当前为 110"
        assert await _count(engine, ScoringSchemeRecord) == before

    async def test_versions_per_plan(self, api: Api, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        plan_id = await publish_plan(sessionmaker)
        versions = []
        for weight in ("50", "70"):
            response = await api.client.post(
                "/api/v1/evaluations/schemes",
                json={
                    "plan_id": str(plan_id),
                    "rules": {
                        "name": f"指标{weight}分方案",
                        "indicator_weight": weight,
                        "task_weight": str(100 - int(weight)),
                    },
                },
                headers=api.planner,
            )
            assert response.status_code == 201, response.text
            versions.append(response.json()["version"])
        assert versions == [1, 2]
        listed = await api.client.get(f"/api/v1/evaluations/schemes?plan_id={plan_id}", headers=api.planner)
        assert sorted(s["rules"]["name"] for s in listed.json()["items"]) == ["指标50分方案", "指标70分方案"]
        other_city = api.token(region="140100", roles=("viewer",))
        assert (
            await api.client.get(f"/api/v1/evaluations/schemes?plan_id={plan_id}", headers=other_city)
        ).json()["items"] == []


# ----------------------------------------------------------------------------------------------- rounds


class TestRoundCreation:
    async def test_unknown_plan_outside_period_and_jurisdiction(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        plan_id = await publish_plan(sessionmaker)
        before = await _count(engine, EvaluationRound)
        unknown = await api.client.post(
            "/api/v1/evaluations/rounds",
            json={"plan_id": str(uuid.uuid4()), "kind": "annual", "reference_date": "2023-12-31"},
            headers=api.planner,
        )
        assert (unknown.status_code, unknown.json()["code"]) == (422, "plan_not_published")
        outside = await api.client.post(
            "/api/v1/evaluations/rounds",
            json={"plan_id": str(plan_id), "kind": "final", "reference_date": "2026-06-30"},
            headers=api.planner,
        )
        assert (outside.status_code, outside.json()["code"]) == (422, "reference_date_outside_period")
        assert outside.json()["detail"] == "评估基准日 2026-06-30 不在规划期 2021—2025 年内"
        assert outside.json()["errors"][0]["field"] == "body.reference_date"
        other_city = api.token(region="140100", roles=("bureau_planner",))
        foreign = await api.client.post(
            "/api/v1/evaluations/rounds",
            json={"plan_id": str(plan_id), "kind": "annual", "reference_date": "2023-12-31"},
            headers=other_city,
        )
        assert foreign.status_code == 422
        viewer = await api.client.post(
            "/api/v1/evaluations/rounds",
            json={"plan_id": str(plan_id), "kind": "annual", "reference_date": "2023-12-31"},
            headers=api.token(region=CITY, roles=("viewer",)),
        )
        assert viewer.status_code == 403
        assert await _count(engine, EvaluationRound) == before

    async def test_round_of_another_region_is_not_found(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        created = await new_round(api, await publish_plan(sessionmaker))
        response = await api.client.get(
            f"/api/v1/evaluations/rounds/{created['id']}",
            headers=api.token(region="140100", roles=("viewer",)),
        )
        assert response.status_code == 404
        county = await api.client.get(
            f"/api/v1/evaluations/rounds/{created['id']}",
            headers=api.token(region="141021", roles=("viewer",)),
        )
        assert county.status_code == 404  # a county cannot see its city's rounds
        assert created["title"] == "临汾市“十四五”应急管理体系规划中期评估报告"


class TestLifecycle:
    async def test_mid_term_round_from_draft_to_published(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession], engine: AsyncEngine
    ) -> None:
        plan_id = await publish_plan(sessionmaker)
        created = await new_round(api, plan_id)
        path = f"/api/v1/evaluations/rounds/{created['id']}"
        assert created["status"] == "draft"

        # Started with a snapshot from the read model, which has no data for this plan: submitting it,
        # publishing a draft: refused, nothing changes.
        assert (created["has_snapshot"], created["snapshot_origin"]) == (True, "read_model")
        empty = await api.client.post(f"{path}/submit", headers=api.planner)
        assert (empty.status_code, empty.json()["code"]) == (409, "snapshot_empty")
        early = await api.client.post(f"{path}/publish", headers=api.planner)
        assert (early.status_code, early.json()["code"]) == (409, "round_not_approved")
        assert early.json()["detail"] == "只有已审定的评估轮次才能发布（当前状态：草稿）"

        # The snapshot: system admins only, and it must be this round's.
        snapshot = snapshot_for(plan_id)
        denied = await api.client.post(f"{path}/snapshot", json=snapshot, headers=api.planner)
        assert denied.status_code == 403
        wrong_date = await api.client.post(
            f"{path}/snapshot", json=snapshot_for(plan_id, "2023-12-31"), headers=api.admin
        )
        assert (wrong_date.status_code, wrong_date.json()["code"]) == (422, "snapshot_mismatch")
        stored = await api.client.post(f"{path}/snapshot", json=snapshot, headers=api.admin)
        assert stored.status_code == 200, stored.text
        assert (stored.json()["targets"], stored.json()["tasks"]) == (20, 20)
        assert stored.json()["sources"] == {"EMPLAN_INDICATOR": 128, "EMPLAN_TASK": 342}

        # Draft scores (live) are the hand-worked ones.
        scores = (await api.client.get(f"{path}/scores", headers=api.planner)).json()
        assert scores["frozen"] is False
        assert totals(scores) == [("曲沃县", 1, "81.00"), ("襄汾县", 2, "73.50"), ("翼城县", 3, "39.50")]
        assert totals(scores, "departments") == [
            ("市应急管理局", 1, "69.00"),
            ("市交通运输局", 2, "68.50"),
            ("市水利局", 2, "68.50"),
            ("市住房和城乡建设局", 4, "48.00"),
        ]

        # Bonus awards and a measure, with If-Match.
        current = await api.client.get(path, headers=api.planner)
        no_tag = await api.client.patch(path, json={"title": "x"}, headers=api.planner)
        assert no_tag.status_code == 428
        stale = await api.client.patch(
            path, json={"title": "x"}, headers={**api.planner, "If-Match": '"999"'}
        )
        assert stale.status_code == 412
        bad_bonus = await api.client.patch(
            path,
            json={"bonus_awards": [{"subject_kind": "region", "subject_key": "141021", "item_code": "gold"}]},
            headers={**api.planner, "If-Match": current.headers["etag"]},
        )
        assert (bad_bonus.status_code, bad_bonus.json()["code"]) == (422, "unknown_bonus_item")
        patched = await api.client.patch(
            path,
            json={
                "bonus_awards": [
                    {"subject_kind": "region", "subject_key": "141023", "item_code": "innovation"}
                ]
            },
            headers={**api.planner, "If-Match": current.headers["etag"]},
        )
        assert patched.status_code == 200, patched.text
        measure = await api.client.post(
            f"{path}/measures",
            json={
                "problem": "翼城县生产安全事故死亡人数不降反升",
                "measure": "开展道路运输专项整治",
                "department": "翼城县应急管理局",
            },
            headers=api.planner,
        )
        assert measure.status_code == 201

        # Review, approval: the scores freeze (襄汾县 73.50 + 1 innovation = 74.50).
        assert (await api.client.post(f"{path}/submit", headers=api.planner)).json()[
            "status"
        ] == "under_review"
        locked_review = await api.client.post(f"{path}/snapshot", json=snapshot, headers=api.admin)
        assert (locked_review.status_code, locked_review.json()["code"]) == (409, "round_under_review")
        evaluator_approves = await api.client.post(
            f"{path}/approve", headers=api.token(region=CITY, roles=("evaluator",))
        )
        assert evaluator_approves.status_code == 403
        approved = await api.client.post(f"{path}/approve", headers=api.planner)
        assert approved.json()["status"] == "approved"
        frozen = (await api.client.get(f"{path}/scores", headers=api.planner)).json()
        assert frozen["frozen"] is True
        assert totals(frozen) == [("曲沃县", 1, "81.00"), ("襄汾县", 2, "74.50"), ("翼城县", 3, "39.50")]

        # Editing an approved round: refused, nothing changed.
        version = approved.json()["version"]
        for response in (
            await api.client.patch(
                path, json={"title": "改"}, headers={**api.planner, "If-Match": f'"{version}"'}
            ),
            await api.client.post(f"{path}/snapshot", json=snapshot, headers=api.admin),
            await api.client.post(
                f"{path}/measures", json={"problem": "p", "measure": "m"}, headers=api.planner
            ),
        ):
            assert (response.status_code, response.json()["code"]) == (409, "round_locked")
            assert response.headers["content-type"] == "application/problem+json"
        after = (await api.client.get(path, headers=api.planner)).json()
        assert (after["version"], after["title"]) == (version, created["title"])

        # Published: the event carries the frozen ranking.
        assert not [e for e in await _published_events(engine) if e["data"]["round_id"] == created["id"]]
        published = await api.client.post(f"{path}/publish", headers=api.planner)
        assert published.json()["status"] == "published"
        [event] = [e for e in await _published_events(engine) if e["data"]["round_id"] == created["id"]]
        assert [(r["name"], r["rank"], r["total"]) for r in event["data"]["regions"]] == [
            ("曲沃县", 1, "81.00"),
            ("襄汾县", 2, "74.50"),
            ("翼城县", 3, "39.50"),
        ]
        assert (
            event["data"]["report_path"] == f"/api/v1/evaluations/public/rounds/{created['id']}/report.html"
        )
        assert event["data"]["sources"] == {"EMPLAN_INDICATOR": 128, "EMPLAN_TASK": 342}
        again = await api.client.post(f"{path}/publish", headers=api.planner)
        assert (again.status_code, again.json()["code"]) == (409, "round_not_approved")

    async def test_correction_after_approval_shows_in_the_next_round(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        """Round 1 (2023-06-30) approved with the sample. Then 襄汾县's I3 is corrected from seriously
        lagging to met (+10 points: 73.50 → 83.50). Round 1 still says 73.50; round 2 (2023-12-31)
        says 83.50, puts 襄汾县 first and reports it improved by +10.00 (rank 2 → 1)."""
        plan_id = await publish_plan(sessionmaker)
        first = await new_round(api, plan_id, kind="annual")
        await to_approved(api, first["id"], snapshot_for(plan_id))
        corrected = snapshot_for(plan_id, "2023-12-31")
        for target in corrected["targets"]:
            if (target["region_code"], target["target_id"]) == ("141023", "I3"):
                target.update(current_value="0.80", status="met")
        corrected["sources"]["EMPLAN_INDICATOR"] = 131
        second = await new_round(api, plan_id, kind="annual", reference_date="2023-12-31")
        snapshot_path = f"/api/v1/evaluations/rounds/{second['id']}/snapshot"
        assert (await api.client.post(snapshot_path, json=corrected, headers=api.admin)).status_code == 200
        old = (
            await api.client.get(f"/api/v1/evaluations/rounds/{first['id']}/scores", headers=api.planner)
        ).json()
        new = (
            await api.client.get(f"/api/v1/evaluations/rounds/{second['id']}/scores", headers=api.planner)
        ).json()
        assert totals(old) == [("曲沃县", 1, "81.00"), ("襄汾县", 2, "73.50"), ("翼城县", 3, "39.50")]
        assert totals(new) == [("襄汾县", 1, "83.50"), ("曲沃县", 2, "81.00"), ("翼城县", 3, "39.50")]
        assert new["previous_round_id"] == first["id"]
        change = next(c for c in new["subject_changes"] if c["key"] == "141023")
        assert (change["change"], change["delta"], change["previous_rank"], change["current_rank"]) == (
            "improved",
            "10.00",
            2,
            1,
        )
        target = next(
            t for t in new["target_changes"] if (t["region_code"], t["target_id"]) == ("141023", "I3")
        )
        assert (target["previous_status"], target["current_status"], target["change"]) == (
            "seriously_lagging",
            "met",
            "improved",
        )


class TestDraftChanges:
    async def test_new_reference_date_takes_the_snapshot_again(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        plan_id = await publish_plan(sessionmaker)
        created = await new_round(api, plan_id)
        path = f"/api/v1/evaluations/rounds/{created['id']}"
        stored = await api.client.post(f"{path}/snapshot", json=snapshot_for(plan_id), headers=api.admin)
        assert stored.status_code == 200
        etag = (await api.client.get(path, headers=api.planner)).headers["etag"]
        outside = await api.client.patch(
            path, json={"reference_date": "2020-12-31"}, headers={**api.planner, "If-Match": etag}
        )
        assert (outside.status_code, outside.json()["code"]) == (422, "reference_date_outside_period")
        kept = (await api.client.get(path, headers=api.planner)).json()
        assert (kept["has_snapshot"], kept["snapshot_origin"], kept["calculation_rules_version"]) == (
            True,
            "posted",
            "indicator-2026.1",
        )
        moved = await api.client.patch(
            path, json={"reference_date": "2023-12-31"}, headers={**api.planner, "If-Match": etag}
        )
        assert moved.status_code == 200
        # The posted figures were as of the old date: the round takes its snapshot from the read model
        # again (empty for this plan), so it cannot be submitted.
        assert (moved.json()["reference_date"], moved.json()["snapshot_origin"]) == (
            "2023-12-31",
            "read_model",
        )
        submit = await api.client.post(f"{path}/submit", headers=api.planner)
        assert (submit.status_code, submit.json()["code"]) == (409, "snapshot_empty")


class TestReports:
    async def test_downloads_and_public_read(
        self, api: Api, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        plan_id = await publish_plan(sessionmaker)
        created = await new_round(api, plan_id)
        path = f"/api/v1/evaluations/rounds/{created['id']}"
        public = f"/api/v1/evaluations/public/rounds/{created['id']}"
        await to_approved(api, created["id"], snapshot_for(plan_id))

        html = await api.client.get(f"{path}/report.html", headers=api.planner)
        assert html.headers["content-type"].startswith("text/html")
        assert "<svg" in html.text
        assert "81.00" in html.text
        word = await api.client.get(f"{path}/report.docx", headers=api.planner)
        assert "filename*=UTF-8''" in word.headers["content-disposition"]
        document = docx.Document(io.BytesIO(word.content))
        assert document.tables[0].rows[1].cells[1].text == "生产安全事故死亡人数"
        sheet = await api.client.get(f"{path}/report.xlsx", headers=api.planner)
        workbook = openpyxl.load_workbook(io.BytesIO(sheet.content))
        assert workbook["地区排名"]["B2"].value == "曲沃县"

        # Approved but not published: not public.
        for suffix in ("", "/report.html", "/report.docx", "/report.xlsx"):
            hidden = await api.client.get(public + suffix)
            assert (hidden.status_code, hidden.json()["code"]) == (404, "report_not_found")
        assert created["id"] not in [
            r["id"] for r in (await api.client.get("/api/v1/evaluations/public/rounds")).json()["items"]
        ]
        assert (await api.client.post(f"{path}/publish", headers=api.planner)).status_code == 200
        shown = await api.client.get(public + "/report.html")
        assert shown.status_code == 200
        assert shown.text == html.text.replace("已审定", "已发布")
        assert shown.headers["cache-control"] == "public, max-age=300"
        assert (await api.client.get(public + "/report.html")).text == shown.text  # kept, same bytes
        public_xlsx = await api.client.get(public + "/report.xlsx")
        assert "filename*=UTF-8''" in public_xlsx.headers["content-disposition"]
        listed = (await api.client.get(f"/api/v1/evaluations/public/rounds?plan_id={plan_id}")).json()[
            "items"
        ]
        assert [r["id"] for r in listed] == [created["id"]]
        assert listed[0]["report_html"] == public + "/report.html"
        assert copy.deepcopy(listed[0])["kind"] == "mid_term"


# ------------------------------------------------------------------------------------------ read model
# Events on the real broker, applied by the running `evaluation-read-model` consumer; the figures are
# chosen by hand, and what a snapshot must hold is worked out from them below.

COUNTY = "141021"  # 曲沃县
OTHER_COUNTY = "141022"  # 翼城县


def judged(
    target_id: uuid.UUID,
    plan_id: uuid.UUID,
    item_id: uuid.UUID,
    *,
    version: int,
    region: str = CITY,
    code: str = "ps_deaths",
    name: str = "生产安全事故死亡人数",
    status: str = "on_track",
    year: int | None = 2022,
    value: str | None = "37",
    required: str | None = "37.6",
) -> Any:
    return catalogue.INDICATOR_TARGET_JUDGED.build(
        payloads.IndicatorTargetJudged(
            target_id=target_id,
            plan_id=plan_id,
            item_id=item_id,
            region_code=region,
            indicator_code=code,
            indicator_name=name,
            nature="binding" if code == "ps_deaths" else "expected",
            unit="人" if code == "ps_deaths" else "人/亿元",
            target_type="decrease_pct",
            target_text_value="15",
            strict=False,
            baseline_year=2020,
            target_year=2025,
            status=status,  # type: ignore[arg-type]
            year=year,
            value=value,
            baseline="40" if code == "ps_deaths" else "0.03",
            required_value=required,
            target_value="34" if code == "ps_deaths" else "0.0255",
            judgement_version=version,
            judged_at=datetime(2026, 11, 23, 9, version, tzinfo=UTC),
            rules_version="indicator-2026.1",
        ),
        subject=f"target/{target_id}",
        region_code=region,
    )


def task_state(
    task_id: uuid.UUID,
    plan_id: uuid.UUID,
    *,
    version: int,
    code: str,
    status: str,
    deadline: str | None,
    progress: int = 0,
    region: str = CITY,
    region_name: str = "临汾市",
    lead: tuple[str, ...] = ("市应急管理局",),
    co: tuple[str, ...] = (),
    returned: int = 0,
    report: tuple[str, str] | None = None,
    current: bool = True,
) -> Any:
    return catalogue.TASK_STATE_CHANGED.build(
        payloads.TaskStateChanged(
            task_id=task_id,
            plan_id=plan_id,
            parent_id=None,
            region_code=region,
            region_name=region_name,
            kind="key_task",
            code=code,
            title=f"任务{code}",
            deadline=deadline,  # type: ignore[arg-type]
            status=status,  # type: ignore[arg-type]
            progress_percent=progress,
            lead_departments=list(lead),
            co_departments=list(co),
            returned_count=returned,
            last_report=payloads.TaskStateReport(reported_on=report[0], summary=report[1], percent=progress)  # type: ignore[arg-type]
            if report
            else None,
            current=current,
            plan_start="2021-01-01",  # type: ignore[arg-type]
            yellow_within_days=None,
            behind_tolerance_pct=None,
            version=version,
            cause="status",
            changed_at=datetime(2026, 11, 23, 9, version, tzinfo=UTC),
        ),
        subject=f"task/{task_id}",
        region_code=region,
    )


def plan_with_indicators(
    plan_id: uuid.UUID, region: str, region_name: str, items: dict[str, uuid.UUID], lead: str
) -> Any:
    event = plan_event(plan_id, region=region)
    data = event.data | {
        "region_name": region_name,
        "indicators": [
            {
                "id": str(item_id),
                "name": name,
                "target_text": "下降15%",
                "target": {"type": "decrease_pct", "value": "15", "unit": "%", "strict": False},
                "nature": "binding",
                "group": "core",
                "baseline_text": None,
                "responsible": {
                    "lead": [{"name": lead, "department_id": None, "match": "none"}],
                    "co": [],
                },
                "source_lines": [1],
            }
            for name, item_id in items.items()
        ],
    }
    return catalogue.PLAN_PUBLISHED.build(
        payloads.PlanPublished.model_validate(data), subject=f"plan/{plan_id}", region_code=region
    )


async def on_broker(api: Api, *events: Any) -> int:
    """Publish as the producers' relays do; the stream sequence of the last one."""
    js = api.app.state.broker.js
    sequence = 0
    for event in events:
        ack = await js.publish(
            event.nats_subject,
            json.dumps(event.model_dump(mode="json", exclude_none=True)).encode(),
            headers={"Nats-Msg-Id": str(event.id)},
        )
        sequence = ack.seq
    return sequence


async def applied_up_to(engine: AsyncEngine, sequence: int) -> None:
    from evaluation.readmodel.models import StreamPosition

    for _ in range(400):
        async with engine.connect() as connection:
            position = (
                await connection.execute(
                    select(StreamPosition.sequence).where(StreamPosition.stream == "EMPLAN_EVENTS")
                )
            ).scalar()
        if position is not None and position >= sequence:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the read model never reached sequence {sequence}")


async def plans_applied(engine: AsyncEngine, expected: dict[uuid.UUID, str]) -> None:
    """Waits for the `evaluation-plans` consumer (another durable than the read model's)."""
    from evaluation.plans.models import PlanRecord

    for _ in range(400):
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(PlanRecord.id, PlanRecord.status).where(PlanRecord.id.in_(list(expected)))
            )
            if dict(rows.all()) == expected:
                return
        await asyncio.sleep(0.05)
    raise AssertionError("the plans never arrived")


async def read_model_rows(engine: AsyncEngine, plan_ids: list[uuid.UUID]) -> dict[str, list[tuple[Any, ...]]]:
    """Every read-model row of these plans, and the positions.

    Limited to this test's plans because the broker is shared by the whole test session: the durable
    consumer `evaluation-read-model` lives on the server, so an evaluation app of an earlier test
    module (its own database) may have taken the stream's first events; a rebuild replays them all."""
    from evaluation.readmodel.models import StreamPosition
    from evaluation.readmodel.repository import READ_MODEL_TABLES

    rows: dict[str, list[tuple[Any, ...]]] = {}
    async with engine.connect() as connection:
        for model in READ_MODEL_TABLES:
            columns = [c for c in model.__table__.columns if c.name not in ("recorded_at", "updated_at")]
            statement = select(*columns).order_by(*columns)
            if model is not StreamPosition:
                statement = statement.where(model.__table__.c.plan_id.in_(plan_ids))
            rows[model.__tablename__] = [tuple(row) for row in await connection.execute(statement)]
    return rows


async def stored_round(engine: AsyncEngine, round_id: str) -> EvaluationRound:
    async with create_sessionmaker(engine)() as session:
        found = await session.get(EvaluationRound, uuid.UUID(round_id))
        assert found is not None
        return found


class TestReadModel:
    async def test_rounds_take_their_snapshot_from_events_and_the_model_rebuilds_the_same(
        self,
        api: Api,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        database: Database,
        infra: Any,
    ) -> None:
        from evaluation.plans.models import PlanRecord
        from evaluation.readmodel.snapshot import take_snapshot

        city_plan, county_plan, old_county_plan = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        deaths, rate, county_deaths = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        t_city, t_rate, t_county, t_old = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        k1, k2, k3, k4 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        superseded = catalogue.PLAN_SUPERSEDED.build(
            payloads.PlanSuperseded(
                plan_id=old_county_plan,
                lineage_id=uuid.uuid4(),
                version=1,
                region_code=OTHER_COUNTY,
                superseded_by=uuid.uuid4(),
                superseded_by_version=2,
                superseded_at=datetime(2023, 1, 1, tzinfo=UTC),
            )
        )
        last = await on_broker(
            api,
            plan_with_indicators(
                city_plan,
                CITY,
                "临汾市",
                {"生产安全事故死亡人数": deaths, "亿元地区生产总值生产安全事故死亡率": rate},
                "市应急管理局",
            ),
            plan_with_indicators(
                county_plan, COUNTY, "曲沃县", {"生产安全事故死亡人数": county_deaths}, "县应急局"
            ),
            plan_with_indicators(
                old_county_plan, OTHER_COUNTY, "翼城县", {"生产安全事故死亡人数": uuid.uuid4()}, "x"
            ),
            superseded,
            # The city's deaths: judged twice, the second time on track with 37 (40 → 34, 37.6 due).
            judged(t_city, city_plan, deaths, version=1, status="lagging", value="38"),
            judged(t_city, city_plan, deaths, version=2),
            # The city's rate: no data at first, then 0.025 against 0.0266…67 due (6 places: 0.026667).
            judged(
                t_rate,
                city_plan,
                rate,
                version=1,
                code="gdp_rate",
                name="亿元地区生产总值生产安全事故死亡率",
                status="no_data",
                year=None,
                value=None,
                required=None,
            ),
            judged(
                t_rate,
                city_plan,
                rate,
                version=2,
                code="gdp_rate",
                name="亿元地区生产总值生产安全事故死亡率",
                status="met",
                value="0.025",
                required="0.02666666666666666666666666666666667",
            ),
            # 曲沃县's own plan: met in 2022; a 2024 judgement is after a 2023 reference date.
            judged(
                t_county,
                county_plan,
                county_deaths,
                version=1,
                region=COUNTY,
                status="met",
                value="10",
                required="11.28",
            ),
            judged(
                t_county,
                county_plan,
                county_deaths,
                version=2,
                region=COUNTY,
                status="met",
                year=2024,
                value="9",
                required="10.56",
            ),
            # A superseded plan's target is not the region's any more.
            judged(t_old, old_county_plan, uuid.uuid4(), version=1, region=OTHER_COUNTY),
            # (1): not started, then in progress at 50 % with a report; deadline passed by 2023-06-30.
            task_state(k1, city_plan, version=1, code="(1)", status="not_started", deadline="2023-03-31"),
            task_state(
                k1,
                city_plan,
                version=2,
                code="(1)",
                status="in_progress",
                deadline="2023-03-31",
                progress=50,
                co=("市交通运输局",),
                report=("2023-01-10", "完成方案编制"),
            ),
            # (1) in 曲沃县: 20 % of a task due 2025-12-31. On 2023-06-30, 910 of 1825 days have passed:
            # 100 × 910 − 20 × 1825 = 54 500 > 10 × 1825 = 18 250: behind time, yellow.
            task_state(
                k2,
                city_plan,
                version=1,
                code="(1)",
                status="in_progress",
                deadline="2025-12-31",
                progress=20,
                region=COUNTY,
                region_name="曲沃县",
                lead=("曲沃县人民政府",),
            ),
            # (2): closed after one return: green whatever the date.
            task_state(
                k3,
                city_plan,
                version=3,
                code="(2)",
                status="closed",
                deadline="2022-12-31",
                returned=1,
                lead=(),
            ),
            # A task of a superseded version of the plan is not counted.
            task_state(
                k4, city_plan, version=1, code="(3)", status="not_started", deadline=None, current=False
            ),
        )
        await applied_up_to(engine, last)
        await plans_applied(engine, {city_plan: "published", old_county_plan: "superseded"})
        first = await new_round(api, city_plan)
        assert (first["snapshot_origin"], first["snapshot_sources"]) == (
            "read_model",
            {"EMPLAN_EVENTS": last},
        )
        assert first["calculation_rules_version"] == "snapshot-2026.1+indicator-2026.1"
        snapshot = (await stored_round(engine, first["id"])).snapshot
        assert snapshot is not None
        targets = [
            (
                t["region_code"],
                t["target_id"],
                t["status"],
                t["current_value"],
                t["required_value"],
                t["baseline_value"],
                t["lead_department"],
                t["nature"],
                t["unit"],
            )
            for t in snapshot["targets"]
        ]
        assert targets == [
            (
                CITY,
                "gdp_rate",
                "met",
                "0.025",
                "0.026667",
                "0.03",
                "市应急管理局",
                "expected",
                "人/亿元",
            ),
            (
                CITY,
                "ps_deaths",
                "on_track",
                "37",
                "37.6",
                "40",
                "市应急管理局",
                "binding",
                "人",
            ),
            (COUNTY, "ps_deaths", "met", "10", "11.28", "40", "县应急局", "binding", "人"),
        ]
        assert {t["region_name"] for t in snapshot["targets"]} == {"临汾市", "曲沃县"}
        tasks = [
            (
                t["region_code"],
                t["code"],
                t["status"],
                t["light"],
                t["overdue"],
                t["lead_department"],
                t["co_departments"],
                t["returned_count"],
                t["last_report"],
            )
            for t in snapshot["tasks"]
        ]
        assert tasks == [
            (
                CITY,
                "(1)",
                "in_progress",
                "red",
                True,
                "市应急管理局",
                ["市交通运输局"],
                0,
                {"reported_on": "2023-01-10", "summary": "完成方案编制"},
            ),
            (CITY, "(2)", "closed", "green", False, "未明确牵头单位", [], 1, None),
            (COUNTY, "(1)", "in_progress", "yellow", False, "曲沃县人民政府", [], 0, None),
        ]

        # Approved; then the city's 2022 deaths are corrected to 36 (version 3).
        path = f"/api/v1/evaluations/rounds/{first['id']}"
        assert (await api.client.post(f"{path}/submit", headers=api.planner)).status_code == 200
        approved = await api.client.post(f"{path}/approve", headers=api.planner)
        assert approved.json()["scoring_rules_version"] == "scoring-2026.1"
        corrected = await on_broker(api, judged(t_city, city_plan, deaths, version=3, value="36"))
        await applied_up_to(engine, corrected)
        assert (await stored_round(engine, first["id"])).snapshot == snapshot
        second = await new_round(api, city_plan, reference_date="2023-12-31")
        assert second["snapshot_sources"] == {"EMPLAN_EVENTS": corrected}
        later = (await stored_round(engine, second["id"])).snapshot
        assert later is not None
        assert [t["current_value"] for t in later["targets"] if t["target_id"] == "ps_deaths"] == [
            "36",
            "10",
        ]

        # Reproducible: the first round's positions give its snapshot again, the correction left out.
        async with sessionmaker() as session:
            plan = await session.get(PlanRecord, city_plan)
            assert plan is not None
            again = await take_snapshot(
                session, plan, datetime(2023, 6, 30).date(), sources=first["snapshot_sources"]
            )
        assert again.model_dump(mode="json") == snapshot

        # Rebuilt from the stream into an emptied model by the command line (the live consumer
        # running beside it): the same rows, the same next snapshot.
        mine = [city_plan, county_plan, old_county_plan]
        live = await read_model_rows(engine, mine)
        # 3 + 2 + 2 + 1 judgements, 2 + 1 + 1 + 1 task states, 2 + 1 + 1 indicator items.
        tables = ("rm_target_judgement", "rm_task_state", "rm_plan_indicator")
        assert [len(live[table]) for table in tables] == [8, 5, 4]
        env = os.environ | {
            "DATABASE_URL": database.server_url,
            "EMPLAN_DATABASE_PREFIX": database.prefix,
            "NATS_URL": infra.nats_url,
            "EMPLAN_LOG_LEVEL": "WARNING",
        }
        command = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evaluation",
            "rebuild-read-model",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await command.communicate()
        assert command.returncode == 0, err.decode()[-2000:]
        assert out.decode().startswith("read model rebuilt: ")
        assert await read_model_rows(engine, mine) == live
        third = await new_round(api, city_plan, reference_date="2023-12-31")
        assert (await stored_round(engine, third["id"])).snapshot == later

    async def test_a_figure_the_snapshot_cannot_hold_refuses_the_round_and_changes_nothing(
        self, api: Api, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        from evaluation.readmodel.handlers import on_target_judged

        plan_id = await publish_plan(sessionmaker)
        huge = "1234567890123456.5"  # 16 integer digits: more than a snapshot value holds (14)
        async with sessionmaker() as session, session.begin():
            await on_target_judged(
                session, judged(uuid.uuid4(), plan_id, uuid.uuid4(), version=1, value=huge)
            )
        before = await _count(engine, EvaluationRound)
        body = {"plan_id": str(plan_id), "kind": "annual", "reference_date": "2023-06-30"}
        refused = await api.client.post("/api/v1/evaluations/rounds", json=body, headers=api.planner)
        assert (refused.status_code, refused.json()["code"]) == (409, "snapshot_invalid")
        assert refused.json()["detail"] == (
            "读取模型中的数据无法形成快照：临汾市的指标“生产安全事故死亡人数”的 current_value 无法存入快照"
            "（Decimal input should have no more than 14 digits before the decimal point）"
        )
        assert await _count(engine, EvaluationRound) == before
