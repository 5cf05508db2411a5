"""Plans on the real PostgreSQL (and NATS, which the app's lifespan connects to): import with every
kind of bad input, drafts changed with If-Match, publication with its events in the outbox, versions,
jurisdiction, and the alignment report on a parent/child pair written for this test."""

from __future__ import annotations

import asyncio
import codecs
import io
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.events.payloads import PlanPublished, PlanSuperseded
from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import bearer, drop_database
from plan_registry.app import create_app
from plan_registry.database import messaging
from plan_registry.directory import service as directory
from plan_registry.plans.models import Plan, PlanDocument
from plan_registry.settings import Settings

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
MAX_DOCUMENT = 64 * 1024  # this module's own limit, so the over-limit case needs only 64 KB

# A city plan and a county plan that implements it, written for these tests (real region names, so
# the directory resolves them). Expected alignment, worked out by hand:
#   生产安全事故死亡人数          下降10% under 下降15%  → weaker
#   亿元GDP… (alias of 亿元地区生产总值…) 下降35% under 下降30% → stronger
#   煤矿百万吨死亡率              ＜0.03 under ＜0.04    → stronger
#   道路交通万车死亡率            下降10% under ＜1.5    → incomparable (different types)
#   森林火灾受害率                no parent target        → unmatched
#   灾害事故信息发布公众覆盖率    the county leaves it out → omitted
CITY = "\n".join(
    [
        "忻州市“十四五”安全生产和防灾减灾规划",
        "忻政发〔2021〕8号",
        "",
        "为贯彻落实《山西省“十四五”应急管理体系和本质安全能力建设规划》，制定本规划。",
        "一、主要目标",
        "（一）核心指标",
        "“十四五”核心指标",
        "序号\t指标内容\t2020年现状值\t2025年目标值\t指标性质\t责任单位",
        "1\t生产安全事故死亡人数\t80\t下降15%\t约束性\t市应急局",
        "2\t亿元地区生产总值生产安全事故死亡率\t0.06\t下降30%\t约束性\t市应急局",
        "3\t煤矿百万吨死亡率\t0.05\t＜0.04\t约束性\t市应急局",
        "4\t道路交通万车死亡率\t1.8\t＜1.5\t预期性\t市公安局",
        "5\t灾害事故信息发布公众覆盖率\t85%\t达到90%\t预期性\t市应急局",
        "二、重点任务",
        "1.完善指挥体制。2023年底前建立市级应急指挥部。（市应急局牵头，市司法局配合）",
        "2.建设物资储备库。2024年建成市级储备库。（市应急管理局牵头，市规划自然资源局、市财政局配合）",
        "",
        "忻州市人民政府",
        "2021年12月20日",
    ]
)
COUNTY = "\n".join(
    [
        "定襄县“十四五”应急管理规划",
        "定政发〔2022〕3号",
        "",
        "为贯彻落实《忻州市“十四五”安全生产和防灾减灾规划》，结合我县实际，制定本规划。",
        "一、主要目标",
        "（一）核心指标",
        "“十四五”核心指标",
        "序号\t指标内容\t2020年现状值\t2025年目标值\t指标性质\t责任单位",
        "1\t生产安全事故死亡人数\t10\t下降10%\t约束性\t县应急局",
        "2\t亿元GDP生产安全事故死亡率\t0.05\t下降35%\t约束性\t县应急局",
        "3\t煤矿百万吨死亡率\t0.05\t＜0.03\t约束性\t县应急局",
        "4\t道路交通万车死亡率\t2\t下降10%\t预期性\t县公安局",
        "5\t森林火灾受害率\t0.5‰\t＜0.9‰\t约束性\t县林业局",
        "二、重点任务",
        "1.健全应急队伍。2023年底前组建县级综合应急救援队伍。（县应急局牵头，县消防救援大队、县星际旅行局配合）",
    ]
)
TEMPLATE = "\n".join(  # a template plan: one target left as xx%
    [
        "定襄县“十四五”综合防灾减灾规划",
        "一、主要目标",
        "“十四五”核心指标",
        "序号\t指标内容\t2020年现状值\t2025年目标值\t指标性质\t责任单位",
        "1\t乡镇应急管理机构规范化建设达标率\t—\txx%\t预期性\t县应急局",
        "二、重点任务",
        "1.完善指挥体制。2023年底前完成。（县应急局牵头）",
    ]
)


@dataclass(frozen=True)
class Database:
    url: str
    server_url: str
    prefix: str
    keys_dir: Path


async def _prepare(url: str) -> None:
    engine = create_engine(url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await directory.load_regions(session)
            await directory.seed_departments(session, "140900")
            await directory.seed_departments(session, "140921")
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def database(infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    prefix = f"emplan_plans{uuid.uuid4().hex[:8]}_"
    name = prefix + "plan_registry"
    url = with_database(infra.database_url, name)
    migrate(url, SERVICE_ROOT / "migrations", lock_name=f"test-{name}")
    try:
        asyncio.run(_prepare(url))
        yield Database(url, infra.database_url, prefix, tmp_path_factory.mktemp("keys"))
    finally:
        asyncio.run(drop_database(infra.database_url, name))


@pytest.fixture(scope="module")
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.url, pool_size=2)
    yield engine
    await engine.dispose()


@dataclass
class Api:
    client: httpx.AsyncClient
    private_key: str

    def token(
        self, *, region: str = "140900", roles: tuple[str, ...] = ("bureau_planner",)
    ) -> dict[str, str]:
        return bearer(self.private_key, sub=f"planner-{region}", region=region, roles=roles)

    async def import_text(
        self, text: str, *, region: str = "140900", dry_run: bool = False, **form: str
    ) -> httpx.Response:
        return await self.client.post(
            "/api/v1/plans/imports",
            params={"dry_run": str(dry_run).lower()},
            data={"text": text, **form},
            headers=self.token(region=region),
        )

    async def upload(
        self, name: str, data: bytes, *, region: str = "140900", dry_run: bool = False
    ) -> httpx.Response:
        return await self.client.post(
            "/api/v1/plans/imports",
            params={"dry_run": str(dry_run).lower()},
            files={"file": (name, data, "application/octet-stream")},
            headers=self.token(region=region),
        )


@pytest.fixture(scope="module")
async def api(database: Database, infra) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    keys = ensure_signing_keys(database.keys_dir)
    settings = Settings(
        DATABASE_URL=database.server_url,
        EMPLAN_DATABASE_PREFIX=database.prefix,
        NATS_URL=infra.nats_url,
        EMPLAN_JWT_PUBLIC_KEY_FILE=keys.public_key_file,
        EMPLAN_LOG_FORMAT="text",
        EMPLAN_LOG_LEVEL="WARNING",
        max_document_bytes=MAX_DOCUMENT,
    )
    assert settings.database_url == database.url
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plan-registry") as client:
            yield Api(client, keys.private_key_file.read_text())


async def _counts(engine: AsyncEngine) -> tuple[int, int]:
    async with engine.connect() as connection:
        plans = (await connection.execute(select(func.count()).select_from(Plan))).scalar_one()
        documents = (await connection.execute(select(func.count()).select_from(PlanDocument))).scalar_one()
    return plans, documents


async def _events(engine: AsyncEngine, event_type: str, subject: str) -> list[dict[str, Any]]:
    table = messaging.outbox_event
    async with engine.connect() as connection:
        rows = (await connection.execute(select(table.c.envelope).order_by(table.c.position))).scalars().all()
    return [e for e in rows if e["type"] == event_type and e.get("subject") == subject]


def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


def _docx(lines: list[str], table: list[list[str]]) -> bytes:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    grid = document.add_table(rows=len(table), cols=len(table[0]))
    for r, row in enumerate(table):
        for c, cell in enumerate(row):
            grid.cell(r, c).text = cell
    document.add_paragraph("二、重点任务")
    document.add_paragraph("1.完善指挥体制。2023年底前完成。（市应急局牵头，市财政局配合）")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------------------------------ import


class TestImport:
    async def test_dry_run_returns_the_plan_and_saves_nothing(self, api: Api, engine: AsyncEngine) -> None:
        before = await _counts(engine)
        body = _ok(await api.import_text(CITY, dry_run=True))
        assert await _counts(engine) == before
        assert body["plan_id"] is None
        assert body["dry_run"] is True
        assert body["status"] is None
        assert body["title"] == "忻州市“十四五”安全生产和防灾减灾规划"
        assert body["kind"] == "plan"
        assert body["region"] == {"name": "忻州市", "code": "140900", "level": "city"}
        assert body["period"] == {"start": 2021, "end": 2025}
        assert (body["doc_number"], body["issued_on"]) == ("忻政发〔2021〕8号", "2021-12-20")
        assert body["parent_plans"] == ["山西省“十四五”应急管理体系和本质安全能力建设规划"]
        coal = body["indicators"][2]
        assert coal["name"] == "煤矿百万吨死亡率"
        assert coal["target_text"] == "＜0.04"
        assert coal["target"] == {"type": "max", "value": "0.04", "unit": None, "strict": True}
        assert (coal["nature"], coal["group"], coal["source_lines"]) == ("binding", "core", [11])
        assert coal["responsible"] == {"lead": ["市应急局"], "co": []}
        second = body["tasks"][1]
        assert (second["kind"], second["code"], second["deadline_year"]) == ("key_task", "2.", 2024)
        assert second["lead"] == ["市应急管理局"]
        assert second["co"] == ["市规划自然资源局", "市财政局"]
        assert second["source_lines"] == [16]
        # Unit names resolve through the city's seeded directory, aliases and normalisation included.
        units = {u["name"]: (u["department_name"], u["match"]) for u in body["units"]}
        assert units["市应急局"] == ("市应急管理局", "alias")
        assert units["市应急管理局"] == ("市应急管理局", "exact")
        assert units["市规划自然资源局"][0] is not None
        assert body["warnings"] == []
        assert body["document"]["line_count"] == len(CITY.split("\n"))

    async def test_unknown_units_are_warned_with_their_line_never_invented(self, api: Api) -> None:
        body = _ok(await api.import_text(COUNTY, region="140921", dry_run=True))
        assert body["region"]["code"] == "140921"
        unresolved = [w for w in body["warnings"] if w["code"] == "unresolved_unit"]
        assert [(w["text"], w["line"]) for w in unresolved] == [("县星际旅行局", 15)]
        units = {u["name"]: u for u in body["units"]}
        assert units["县星际旅行局"]["department_id"] is None
        assert units["县星际旅行局"]["match"] == "none"
        assert units["县应急局"]["department_name"] == "县应急管理局"

    async def test_saved_draft_and_its_document(self, api: Api, engine: AsyncEngine) -> None:
        before = await _counts(engine)
        body = _ok(await api.import_text(CITY), 201)
        assert body["status"] == "draft"
        assert await _counts(engine) == (before[0] + 1, before[1] + 1)
        plan = _ok(await api.client.get(f"/api/v1/plans/{body['plan_id']}", headers=api.token()))
        assert plan["version"] == 1
        assert plan["status"] == "draft"
        assert [i["id"] for i in plan["indicators"]] == [i["id"] for i in body["indicators"]]
        assert plan["document"]["sha256"] == body["document"]["sha256"]
        assert plan["parent_plans"] == [
            {"title": "山西省“十四五”应急管理体系和本质安全能力建设规划", "plan_id": None}
        ]

    async def test_gbk_file_is_decoded(self, api: Api) -> None:
        body = _ok(await api.upload("plan.txt", CITY.encode("gbk"), dry_run=True))
        assert body["title"] == "忻州市“十四五”安全生产和防灾减灾规划"
        assert len(body["indicators"]) == 5

    async def test_docx_keeps_its_table(self, api: Api) -> None:
        table = [
            ["序号", "指标内容", "2025年目标值", "指标性质", "责任单位"],
            ["1", "生产安全事故死亡人数", "下降15%", "约束性", "市应急局"],
            ["2", "煤矿百万吨死亡率", "＜0.04", "约束性", "市应急局、市能源局"],
        ]
        lines = ["忻州市“十四五”应急管理规划", "一、主要目标", "“十四五”核心指标"]
        body = _ok(await api.upload("plan.docx", _docx(lines, table), dry_run=True))
        assert [(i["name"], i["target"]["value"], i["nature"]) for i in body["indicators"]] == [
            ("生产安全事故死亡人数", "15", "binding"),
            ("煤矿百万吨死亡率", "0.04", "binding"),
        ]
        assert body["indicators"][1]["responsible"]["lead"] == ["市应急局", "市能源局"]
        assert body["document"]["filename"] == "plan.docx"

    async def test_placeholder_is_a_warning_never_a_number(self, api: Api) -> None:
        body = _ok(await api.import_text(TEMPLATE, region="140921", dry_run=True))
        (indicator,) = body["indicators"]
        assert indicator["target"] == {"type": "placeholder", "value": None, "unit": "%", "strict": False}
        assert ("placeholder_target", 5) in {(w["code"], w["line"]) for w in body["warnings"]}


class TestBadInput:
    @pytest.mark.parametrize(
        ("name", "data", "status", "code"),
        [
            ("empty.txt", b"", 422, "empty_document"),
            ("blank.txt", b" \n\t\n", 422, "empty_document"),
            ("binary.txt", bytes(range(256)) * 8, 422, "binary_document"),
            ("image.txt", b"\x89PNG\r\n\x1a\n" + bytes(100), 422, "binary_document"),
            ("fake.docx", "一、总则\n这不是 Word 文档".encode(), 422, "not_a_docx"),
            ("broken.docx", b"PK\x03\x04" + bytes(200), 422, "not_a_docx"),
            ("prose.txt", "这是一段没有任何章节编号的普通文字。\n第二行也是。".encode(), 422, "no_structure"),
            ("large.txt", ("一、总则\n" + "安全" * MAX_DOCUMENT).encode(), 413, "document_too_large"),
        ],
    )
    async def test_refused_and_nothing_saved(
        self, api: Api, engine: AsyncEngine, name: str, data: bytes, status: int, code: str
    ) -> None:
        before = await _counts(engine)
        _problem(await api.upload(name, data), status, code)
        assert await _counts(engine) == before

    async def test_a_zip_that_is_not_a_word_document(self, api: Api) -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("hello.txt", "not a document")
        _problem(await api.upload("archive.docx", buffer.getvalue()), 422, "not_a_docx")

    async def test_utf16_with_bom(self, api: Api) -> None:
        body = _ok(await api.upload("plan.txt", codecs.BOM_UTF16_LE + CITY.encode("utf-16-le"), dry_run=True))
        assert len(body["tasks"]) == 2

    async def test_file_and_text_together_or_neither(self, api: Api) -> None:
        headers = api.token()
        both = await api.client.post(
            "/api/v1/plans/imports", data={"text": CITY}, files={"file": ("a.txt", b"x")}, headers=headers
        )
        _problem(both, 422, "document_missing")
        _problem(
            await api.client.post("/api/v1/plans/imports", headers=headers, data={}), 422, "document_missing"
        )

    async def test_region_outside_the_jurisdiction(self, api: Api, engine: AsyncEngine) -> None:
        before = await _counts(engine)
        # A 运城 planner importing 忻州's plan: the name matches no region they may see.
        dry = _ok(await api.import_text(CITY, region="140800", dry_run=True))
        assert dry["region"]["code"] is None
        assert "region_unresolved" in {w["code"] for w in dry["warnings"]}
        _problem(await api.import_text(CITY, region="140800"), 422, "region_required")
        _problem(await api.import_text(CITY, region="140800", region_code="140900"), 422, "unknown_region")
        assert await _counts(engine) == before

    async def test_reader_may_not_import(self, api: Api) -> None:
        response = await api.client.post(
            "/api/v1/plans/imports", data={"text": CITY}, headers=api.token(roles=("viewer",))
        )
        _problem(response, 403, "role_required")


# ---------------------------------------------------------------------------------- lifecycle, events


async def _draft(api: Api, text: str, region: str) -> dict[str, Any]:
    created = _ok(await api.import_text(text, region=region), 201)
    response = await api.client.get(f"/api/v1/plans/{created['plan_id']}", headers=api.token(region=region))
    plan: dict[str, Any] = _ok(response)
    plan["etag"] = response.headers["etag"]
    return plan


class TestLifecycle:
    async def test_update_needs_if_match_and_only_drafts_change(self, api: Api) -> None:
        plan = await _draft(api, CITY, "140900")
        url, headers = f"/api/v1/plans/{plan['id']}", api.token()
        _problem(
            await api.client.patch(url, json={"title": "新标题"}, headers=headers),
            428,
            "precondition_required",
        )
        stale = await api.client.patch(url, json={"title": "新标题"}, headers=headers | {"If-Match": '"99"'})
        _problem(stale, 412, "precondition_failed")
        indicators = plan["indicators"][:2]
        indicators[1] = indicators[1] | {
            "target": {"type": "decrease_pct", "value": "33", "unit": "%", "strict": False}
        }
        changed = await api.client.patch(
            url,
            json={"doc_number": "忻政发〔2021〕9号", "indicators": [_input(i) for i in indicators]},
            headers=headers | {"If-Match": plan["etag"]},
        )
        body = _ok(changed)
        assert body["doc_number"] == "忻政发〔2021〕9号"
        assert [i["id"] for i in body["indicators"]] == [i["id"] for i in indicators]
        assert body["indicators"][1]["target"]["value"] == "33"
        assert body["indicator_count"] == 2
        assert changed.headers["etag"] != plan["etag"]
        bad = await api.client.patch(
            url, json={"period": {"start": 2025, "end": 2021}}, headers=headers | {"If-Match": "*"}
        )
        _problem(bad, 422, "validation_failed")

    async def test_delete_a_draft(self, api: Api, engine: AsyncEngine) -> None:
        before = await _counts(engine)
        plan = await _draft(api, CITY, "140900")
        url = f"/api/v1/plans/{plan['id']}"
        assert (await api.client.delete(url, headers=api.token())).status_code == 204
        assert await _counts(engine) == before
        _problem(await api.client.get(url, headers=api.token()), 404, "plan_not_found")

    async def test_publish_emits_the_full_payload_then_versions_supersede(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        plan = await _draft(api, CITY, "140900")
        url, headers = f"/api/v1/plans/{plan['id']}", api.token()
        published = _ok(await api.client.post(f"{url}/publish", headers=headers))
        assert published["status"] == "published"
        (event,) = await _events(engine, "emplan.plan.published", f"plan/{plan['id']}")
        assert event["regioncode"] == "140900"
        payload = PlanPublished.model_validate(event["data"])
        assert (payload.version, payload.supersedes, payload.title) == (1, None, plan["title"])
        assert (payload.period.start, payload.period.end) == (2021, 2025)
        assert payload.doc_number == "忻政发〔2021〕8号"
        assert [i.name for i in payload.indicators] == [i["name"] for i in plan["indicators"]]
        assert payload.indicators[0].target.value == "15"
        assert payload.indicators[0].nature == "binding"
        lead = payload.indicators[0].responsible.lead[0] if payload.indicators[0].responsible else None
        assert lead is not None
        assert (lead.name, lead.match) == ("市应急局", "alias")
        assert lead.department_id is not None
        assert [t.title for t in payload.tasks] == ["完善指挥体制", "建设物资储备库"]
        assert payload.tasks[1].deadline_year == 2024
        assert payload.document_sha256 == plan["document"]["sha256"]
        # Published: changed only through a new version.
        _problem(
            await api.client.patch(url, json={"title": "改"}, headers=headers | {"If-Match": "*"}),
            409,
            "plan_not_draft",
        )
        _problem(await api.client.delete(url, headers=headers), 409, "plan_not_draft")
        _problem(await api.client.post(f"{url}/publish", headers=headers), 409, "plan_not_draft")
        draft = _ok(await api.client.post(f"{url}/versions", headers=headers), 201)
        assert (draft["version"], draft["status"], draft["derived_from_id"]) == (2, "draft", plan["id"])
        assert [i["id"] for i in draft["indicators"]] == [i["id"] for i in plan["indicators"]]
        _problem(await api.client.post(f"{url}/versions", headers=headers), 409, "draft_exists")
        renamed = await api.client.patch(
            f"/api/v1/plans/{draft['id']}",
            json={"doc_number": "忻政发〔2022〕1号"},
            headers=headers | {"If-Match": "*"},
        )
        _ok(renamed)
        second = _ok(await api.client.post(f"/api/v1/plans/{draft['id']}/publish", headers=headers))
        assert second["status"] == "published"
        old = _ok(await api.client.get(url, headers=headers))
        assert (old["status"], old["superseded_by_id"]) == ("superseded", draft["id"])
        assert old["doc_number"] == "忻政发〔2021〕8号"  # the old version stays readable, unchanged
        (superseded,) = await _events(engine, "emplan.plan.superseded", f"plan/{plan['id']}")
        retired = PlanSuperseded.model_validate(superseded["data"])
        assert (retired.version, retired.superseded_by, retired.superseded_by_version) == (
            1,
            uuid.UUID(draft["id"]),
            2,
        )
        (newer,) = await _events(engine, "emplan.plan.published", f"plan/{draft['id']}")
        assert newer["data"]["supersedes"] == plan["id"]
        assert newer["data"]["doc_number"] == "忻政发〔2022〕1号"
        versions = _ok(await api.client.get(f"{url}/versions", headers=headers))
        assert [(v["version"], v["status"]) for v in versions["items"]] == [
            (1, "superseded"),
            (2, "published"),
        ]
        _problem(await api.client.post(f"{url}/versions", headers=headers), 409, "plan_not_published")

    async def test_placeholders_block_publication(self, api: Api, engine: AsyncEngine) -> None:
        plan = await _draft(api, TEMPLATE, "140921")
        url = f"/api/v1/plans/{plan['id']}"
        problem = _problem(
            await api.client.post(f"{url}/publish", headers=api.token(region="140921")),
            422,
            "plan_incomplete",
        )
        assert {(e["code"], e["line"]) for e in problem["errors"]} == {("placeholder_target", 5)}
        assert _ok(await api.client.get(url, headers=api.token(region="140921")))["status"] == "draft"
        assert await _events(engine, "emplan.plan.published", f"plan/{plan['id']}") == []


def _input(indicator: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "id",
        "name",
        "target_text",
        "target",
        "nature",
        "group",
        "baseline_text",
        "responsible",
        "source_lines",
    )
    return {k: indicator[k] for k in keys}


class TestJurisdiction:
    async def test_list_and_get_stay_inside(self, api: Api) -> None:
        county = await _draft(api, COUNTY, "140921")
        city = await _draft(api, CITY, "140900")
        county_token = api.token(region="140921")
        seen = _ok(await api.client.get("/api/v1/plans", params={"limit": 500}, headers=county_token))
        assert county["id"] in {p["id"] for p in seen["items"]}
        assert all(p["region"]["code"] == "140921" for p in seen["items"])
        _problem(
            await api.client.get(f"/api/v1/plans/{city['id']}", headers=county_token), 404, "plan_not_found"
        )
        other = api.token(region="140800")
        _problem(await api.client.get(f"/api/v1/plans/{county['id']}", headers=other), 404, "plan_not_found")
        # The city sees its own and its counties' plans; region_code narrows to a subtree.
        subtree = _ok(
            await api.client.get(
                "/api/v1/plans", params={"region_code": "140921", "limit": 500}, headers=api.token()
            )
        )
        assert {p["region"]["code"] for p in subtree["items"]} == {"140921"}
        drafts = _ok(
            await api.client.get("/api/v1/plans", params={"status": "published"}, headers=county_token)
        )
        assert all(p["status"] == "published" for p in drafts["items"])

    async def test_pages_do_not_repeat(self, api: Api) -> None:
        for _ in range(3):
            await _draft(api, CITY, "140900")
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2, "region_code": "140900"}
            if cursor:
                params["cursor"] = cursor
            page = _ok(await api.client.get("/api/v1/plans", params=params, headers=api.token()))
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) >= 3
        _problem(
            await api.client.get("/api/v1/plans", params={"cursor": "bm9wZQ"}, headers=api.token()),
            400,
            "invalid_cursor",
        )


class TestAlignment:
    async def test_county_against_its_city(self, api: Api) -> None:
        city = await _draft(api, CITY.replace("安全生产和防灾减灾规划", "对齐测试规划"), "140900")
        _ok(await api.client.post(f"/api/v1/plans/{city['id']}/publish", headers=api.token()))
        county = await _draft(api, COUNTY.replace("安全生产和防灾减灾规划", "对齐测试规划"), "140921")
        token = api.token(region="140921")
        report = _ok(await api.client.get(f"/api/v1/plans/{county['id']}/alignment", headers=token))
        (parent,) = report["parents"]
        assert (parent["plan_id"], parent["region_code"]) == (city["id"], "140900")
        verdicts = {p["indicator"]["name"]: (p["verdict"], p["needs_review"]) for p in report["pairs"]}
        assert verdicts == {
            "生产安全事故死亡人数": ("weaker", False),
            "亿元GDP生产安全事故死亡率": ("stronger", False),
            "煤矿百万吨死亡率": ("stronger", False),
            "道路交通万车死亡率": ("incomparable", True),
        }
        assert [i["name"] for i in report["unmatched"]] == ["森林火灾受害率"]
        assert [(o["parent_plan_id"], o["indicator"]["name"]) for o in report["omitted"]] == [
            (city["id"], "灾害事故信息发布公众覆盖率")
        ]
        plan = _ok(await api.client.get(f"/api/v1/plans/{county['id']}", headers=token))
        assert plan["parent_plans"][0]["plan_id"] == city["id"]

    async def test_no_parent_in_the_registry(self, api: Api) -> None:
        county = await _draft(api, COUNTY.replace("忻州市“十四五”", "某某市“十四五”"), "140921")
        report = _ok(
            await api.client.get(
                f"/api/v1/plans/{county['id']}/alignment", headers=api.token(region="140921")
            )
        )
        assert [p["plan_id"] for p in report["parents"]] == [None]
        assert report["pairs"] == []
        assert len(report["unmatched"]) == 5
