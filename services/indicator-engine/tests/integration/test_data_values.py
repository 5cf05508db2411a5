"""Definitions and data values on the real PostgreSQL (and NATS, which the app's lifespan connects
to): the shipped catalogue written at startup, definitions added by administrators, values entered,
corrected, approved bottom-up and deleted with their history and events, bulk loads in JSON, CSV (GBK)
and .xlsx with their per-row reports.

Regions: 忻州市 140900 with its counties 忻府区 140902, 定襄县 140921, 五台县 140922; 太原市 140100 is
outside a 忻州 account's jurisdiction.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import ScratchDatabase as Database
from emplan_tools.testing import bearer, migrated_database
from indicator_engine.app import create_app
from indicator_engine.data.models import DataValue, DataValueHistory
from indicator_engine.database import messaging
from indicator_engine.definitions.models import IndicatorDefinitionRow
from indicator_engine.definitions.service import sync_builtin_catalogue
from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.settings import Settings

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
CITY, XINFU, DINGXIANG, WUTAI = "140900", "140902", "140921", "140922"
TAIYUAN = "140100"
VALUES = "/api/v1/indicators/values"


@pytest.fixture(scope="module")
def database(infra) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    with migrated_database(
        infra.database_url, SERVICE_ROOT / "migrations", label="iedata", database="indicator_engine"
    ) as database:
        yield database


@pytest.fixture(scope="module")
async def engine(database: Database) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database.url, pool_size=2)
    yield engine
    await engine.dispose()


@dataclass
class Api:
    client: httpx.AsyncClient
    private_key: str

    def token(self, *, region: str = "000000", roles: tuple[str, ...] = ("system_admin",)) -> dict[str, str]:
        return bearer(self.private_key, sub=f"test-{'-'.join(roles)}-{region}", region=region, roles=roles)

    def admin(self) -> dict[str, str]:
        return self.token()

    def city(self) -> dict[str, str]:
        return self.token(region=CITY, roles=("bureau_planner",))

    def county(self, code: str = XINFU) -> dict[str, str]:
        return self.token(region=code, roles=("department_reporter",))


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
        async with httpx.AsyncClient(transport=transport, base_url="http://indicator-engine") as client:
            yield Api(client, keys.private_key_file.read_text())


async def _events(engine: AsyncEngine, event_type: str) -> list[dict[str, Any]]:
    table = messaging.outbox_event
    async with engine.connect() as connection:
        rows = (await connection.execute(select(table.c.envelope).order_by(table.c.position))).scalars().all()
    return [envelope for envelope in rows if envelope["type"] == event_type]


async def _count(engine: AsyncEngine, where: str = "true") -> int:
    async with engine.connect() as connection:
        return int(
            (await connection.execute(text(f"SELECT count(*) FROM data_value WHERE {where}"))).scalar_one()
        )


async def _enter(api: Api, headers: dict[str, str], **fields: Any) -> httpx.Response:
    return await api.client.post(VALUES, json=fields, headers=headers)


# ------------------------------------------------------------------------------------------ definitions


class TestCatalogue:
    async def test_shipped_catalogue_is_in_the_database_at_startup(self, api: Api) -> None:
        response = await api.client.get(
            "/api/v1/indicators/definitions", params={"limit": 500}, headers=api.county()
        )
        assert response.status_code == 200
        codes = {item["code"] for item in response.json()["items"]}
        assert codes == set(CATALOGUE.definitions)
        rate = await api.client.get("/api/v1/indicators/definitions/imt_death_rate", headers=api.county())
        body = rate.json()
        assert (body["numerator"], body["denominator"], body["factor"]) == (
            "imt_deaths",
            "imt_employees",
            "100000",
        )
        assert body["region_aggregation"] == "ratio_of_sums"
        assert body["builtin"] is True

    async def test_lookup_by_alias_full_width_and_spaces(self, api: Api) -> None:
        for name in ("单位地区生产总值生产安全事故死亡率", "亿元ＧＤＰ 生产安全事故死亡率"):
            response = await api.client.get(
                "/api/v1/indicators/definitions/lookup", params={"name": name}, headers=api.county()
            )
            assert response.status_code == 200
            assert response.json()["match"]["code"] == "ps_death_rate_gdp"
        unknown = await api.client.get(
            "/api/v1/indicators/definitions/lookup",
            params={"name": "每百万人口因自然灾害死亡率"},
            headers=api.county(),
        )
        # Without 年均 it names a different period: not bound by guesswork.
        assert unknown.json()["match"] is None

    async def test_sync_is_idempotent_and_restores_shipped_rows_only(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:
            await session.execute(
                text("UPDATE indicator_definition SET name = '被改动' WHERE code = 'coal_death_rate'")
            )
            await session.commit()
        async with sessionmaker() as session:
            await sync_builtin_catalogue(session)
            await sync_builtin_catalogue(session)
            await session.commit()
            name = (
                await session.execute(
                    select(IndicatorDefinitionRow.name).where(
                        IndicatorDefinitionRow.code == "coal_death_rate"
                    )
                )
            ).scalar_one()
            count = (
                await session.execute(select(func.count()).select_from(IndicatorDefinitionRow))
            ).scalar_one()
        assert name == "煤矿百万吨死亡率"
        assert count >= len(CATALOGUE.definitions)


class TestAddedDefinitions:
    async def test_admin_adds_an_element_and_a_rate(self, api: Api) -> None:
        element = await api.client.post(
            "/api/v1/indicators/elements",
            json={"code": "drowning_deaths", "name": "溺水死亡人数", "unit": "人", "kind": "count"},
            headers=api.admin(),
        )
        assert element.status_code == 201, element.text
        created = await api.client.post(
            "/api/v1/indicators/definitions",
            json={
                "code": "drowning_death_rate",
                "name": "十万人口溺水死亡率",
                "aliases": ["10万人口溺水死亡率"],
                "numerator": "drowning_deaths",
                "denominator": "resident_population",
                "factor": "100000",
                "unit": "人/10万人",
                "direction": "lower_is_better",
                "region_aggregation": "ratio_of_sums",
                "places": 2,
            },
            headers=api.admin(),
        )
        assert created.status_code == 201, created.text
        assert created.json()["builtin"] is False
        found = await api.client.get(
            "/api/v1/indicators/definitions/lookup",
            params={"name": "10万人口溺水死亡率"},
            headers=api.county(),
        )
        assert found.json()["match"]["code"] == "drowning_death_rate"

    async def test_rename_then_delete_what_was_added(self, api: Api) -> None:
        patched = await api.client.patch(
            "/api/v1/indicators/definitions/drowning_death_rate",
            json={"aliases": ["十万人溺水死亡率"]},
            headers=api.admin(),
        )
        assert patched.status_code == 200
        assert (patched.json()["aliases"], patched.json()["version"]) == (["十万人溺水死亡率"], 2)
        in_use = await api.client.delete("/api/v1/indicators/elements/drowning_deaths", headers=api.admin())
        assert in_use.status_code == 409
        assert in_use.json()["code"] == "element_in_use"
        gone = await api.client.delete(
            "/api/v1/indicators/definitions/drowning_death_rate", headers=api.admin()
        )
        assert gone.status_code == 204
        freed = await api.client.delete("/api/v1/indicators/elements/drowning_deaths", headers=api.admin())
        assert freed.status_code == 204
        lookup = await api.client.get(
            "/api/v1/indicators/definitions/lookup", params={"name": "十万人溺水死亡率"}, headers=api.county()
        )
        assert lookup.json()["match"] is None

    async def test_a_rate_cannot_be_averaged(self, api: Api) -> None:
        response = await api.client.post(
            "/api/v1/indicators/definitions",
            json={
                "code": "bad_rate",
                "name": "平均死亡率",
                "numerator": "ps_deaths",
                "denominator": "gdp",
                "unit": "人/亿元",
                "direction": "lower_is_better",
                "region_aggregation": "weighted_mean",
                "region_weight": "resident_population",
            },
            headers=api.admin(),
        )
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "invalid_definition"

    async def test_a_name_already_taken_is_refused(self, api: Api) -> None:
        response = await api.client.post(
            "/api/v1/indicators/definitions",
            json={
                "code": "ps_deaths_copy",
                "name": "安全生产事故死亡人数",  # an alias of ps_deaths
                "numerator": "ps_deaths",
                "unit": "人",
                "direction": "lower_is_better",
                "region_aggregation": "sum",
            },
            headers=api.admin(),
        )
        assert response.status_code == 409
        assert response.json()["code"] == "name_taken"

    async def test_only_system_admins_add(self, api: Api) -> None:
        response = await api.client.post(
            "/api/v1/indicators/elements",
            json={"code": "x_count", "name": "某计数", "unit": "人", "kind": "count"},
            headers=api.city(),
        )
        assert response.status_code == 403

    async def test_shipped_definitions_cannot_be_deleted(self, api: Api) -> None:
        response = await api.client.delete("/api/v1/indicators/definitions/ps_deaths", headers=api.admin())
        assert response.status_code == 409


# ------------------------------------------------------------------------------------------------ values


class TestEntry:
    async def test_enter_correct_and_history(self, api: Api, engine: AsyncEngine) -> None:
        first = await _enter(
            api,
            api.county(),
            element_code="gdp",
            region_code=XINFU,
            year=2021,
            value="１２３．４５",
            source="统计年鉴",
        )
        assert first.status_code == 201, first.text
        body = first.json()
        assert (body["value"], body["state"], body["version"], body["month"]) == ("123.45", "draft", 1, None)
        again = await _enter(
            api,
            api.county(),
            element_code="gdp",
            region_code=XINFU,
            year=2021,
            value="123.45",
            source="统计年鉴",
        )
        assert again.status_code == 200
        assert again.json()["version"] == 1  # the same figure: no new version
        fixed = await _enter(
            api,
            api.county(),
            element_code="gdp",
            region_code=XINFU,
            year=2021,
            value="130",
            source="统计年鉴",
        )
        assert fixed.status_code == 200
        assert (fixed.json()["value"], fixed.json()["version"]) == ("130", 2)
        history = await api.client.get(f"{VALUES}/{body['id']}/history", headers=api.county())
        versions = history.json()["versions"]
        assert [(v["version"], v["value"], v["superseded_by_action"]) for v in versions] == [
            (1, "123.45", "corrected"),
            (2, "130", None),
        ]
        actions = [
            e["data"]["action"]
            for e in await _events(engine, "emplan.indicator.value.changed")
            if e["data"]["value_id"] == body["id"]
        ]
        assert actions == ["created", "corrected"]

    async def test_units_are_converted_exactly(self, api: Api) -> None:
        response = await _enter(
            api,
            api.county(),
            element_code="resident_population",
            region_code=XINFU,
            year=2021,
            value="56.78",
            unit="万人",
        )
        assert response.status_code == 201
        assert response.json()["value"] == "567800.00"

    @pytest.mark.parametrize(
        ("fields", "code"),
        [
            ({"value": "1,234"}, "thousands_separator"),
            ({"value": "NaN"}, "not_finite"),
            ({"value": "-Infinity"}, "not_finite"),
            ({"value": "-3"}, "negative"),
            ({"value": "2.5"}, "not_integral"),
            ({"value": "十二"}, "not_a_number"),
            ({"year": 1999}, "year_out_of_range"),
            ({"element_code": "no_such_element"}, "unknown_element"),
            ({"region_code": "149999"}, "unknown_region"),
            ({"region_code": "14090"}, "invalid_region_code"),
            ({"month": 13}, "invalid_month"),
        ],
    )
    async def test_bad_values_are_refused_with_the_field(
        self, api: Api, fields: dict[str, Any], code: str
    ) -> None:
        data = {"element_code": "fire_deaths", "region_code": DINGXIANG, "year": 2021, "value": "3"} | fields
        response = await api.client.post(VALUES, json=data, headers=api.county(DINGXIANG))
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "invalid_value"
        assert code in [item["code"] for item in problem["errors"]]

    async def test_outside_the_jurisdiction(self, api: Api) -> None:
        created = await _enter(
            api, api.admin(), element_code="fire_deaths", region_code=TAIYUAN, year=2021, value="4"
        )
        assert created.status_code == 201
        write = await _enter(
            api, api.city(), element_code="fire_deaths", region_code=TAIYUAN, year=2022, value="4"
        )
        assert write.status_code == 403
        read = await api.client.get(f"{VALUES}/{created.json()['id']}", headers=api.city())
        assert read.status_code == 404
        listed = await api.client.get(VALUES, params={"element_code": "fire_deaths"}, headers=api.city())
        assert TAIYUAN not in {item["region_code"] for item in listed.json()["items"]}

    async def test_deaths_without_accidents(self, api: Api) -> None:
        accidents = await _enter(
            api, api.county(WUTAI), element_code="ps_accidents", region_code=WUTAI, year=2021, value="0"
        )
        assert accidents.status_code == 201
        deaths = await _enter(
            api, api.county(WUTAI), element_code="ps_deaths", region_code=WUTAI, year=2021, value="2"
        )
        assert deaths.status_code == 422
        assert deaths.json()["code"] == "deaths_without_accidents"
        none_dead = await _enter(
            api, api.county(WUTAI), element_code="ps_deaths", region_code=WUTAI, year=2021, value="0"
        )
        assert none_dead.status_code == 201

    async def test_a_jump_over_three_times_last_year_is_flagged_not_refused(self, api: Api) -> None:
        await _enter(
            api, api.county(WUTAI), element_code="fire_deaths", region_code=WUTAI, year=2020, value="2"
        )
        exactly = await _enter(
            api, api.county(WUTAI), element_code="fire_deaths", region_code=WUTAI, year=2021, value="6"
        )
        assert exactly.json()["review_flag"] is None  # 6 is 3 × 2: not more than three times
        over = await _enter(
            api, api.county(WUTAI), element_code="fire_deaths", region_code=WUTAI, year=2022, value="19"
        )
        assert over.status_code == 201
        assert over.json()["review_flag"] == "jump"  # 19 > 3 × 6


class TestApproval:
    async def test_bottom_up(self, api: Api, engine: AsyncEngine) -> None:
        ids = {}
        for region, value in ((XINFU, "3"), (DINGXIANG, "1"), (WUTAI, "2"), (CITY, "6")):
            response = await _enter(
                api, api.city(), element_code="ps_deaths", region_code=region, year=2019, value=value
            )
            assert response.status_code == 201, response.text
            ids[region] = response.json()["id"]
            submitted = await api.client.post(f"{VALUES}/{ids[region]}/submit", headers=api.city())
            assert submitted.json()["state"] == "submitted"
        too_early = await api.client.post(f"{VALUES}/{ids[CITY]}/approve", headers=api.city())
        assert too_early.status_code == 409
        assert too_early.json()["code"] == "children_not_approved"
        assert set(too_early.json()["detail"].split("：")[1].split("、")) == {XINFU, DINGXIANG, WUTAI}
        for county in (XINFU, DINGXIANG):
            assert (
                await api.client.post(f"{VALUES}/{ids[county]}/approve", headers=api.city())
            ).status_code == 200
        still = await api.client.post(f"{VALUES}/{ids[CITY]}/approve", headers=api.city())
        assert still.status_code == 409
        assert WUTAI in still.json()["detail"]
        assert (
            await api.client.post(f"{VALUES}/{ids[WUTAI]}/approve", headers=api.city())
        ).status_code == 200
        city = await api.client.post(f"{VALUES}/{ids[CITY]}/approve", headers=api.city())
        assert city.status_code == 200
        assert city.json()["state"] == "approved"
        # Top-down to undo: a county cannot be unapproved under an approved city.
        undo = await api.client.post(f"{VALUES}/{ids[XINFU]}/unapprove", headers=api.city())
        assert undo.status_code == 409
        assert undo.json()["code"] == "parent_approved"
        locked = await _enter(
            api, api.city(), element_code="ps_deaths", region_code=CITY, year=2019, value="7"
        )
        assert locked.status_code == 409
        assert (
            await api.client.post(f"{VALUES}/{ids[CITY]}/unapprove", headers=api.city())
        ).status_code == 200
        assert (
            await api.client.post(f"{VALUES}/{ids[XINFU]}/unapprove", headers=api.city())
        ).status_code == 200
        approved_events = [
            e
            for e in await _events(engine, "emplan.indicator.value.changed")
            if e["data"]["action"] == "approved"
        ]
        assert {e["data"]["region_code"] for e in approved_events} >= {XINFU, DINGXIANG, WUTAI, CITY}

    async def test_a_reporter_cannot_approve(self, api: Api) -> None:
        response = await _enter(
            api, api.county(), element_code="fire_deaths", region_code=XINFU, year=2019, value="1"
        )
        await api.client.post(f"{VALUES}/{response.json()['id']}/submit", headers=api.county())
        refused = await api.client.post(f"{VALUES}/{response.json()['id']}/approve", headers=api.county())
        assert refused.status_code == 403


class TestDeletion:
    async def test_deletion_keeps_history_and_is_an_event(self, api: Api, engine: AsyncEngine) -> None:
        created = await _enter(
            api, api.county(), element_code="nd_deaths", region_code=XINFU, year=2020, value="5"
        )
        value_id = created.json()["id"]
        deleted = await api.client.delete(f"{VALUES}/{value_id}", headers=api.county())
        assert deleted.status_code == 204
        assert (await api.client.get(f"{VALUES}/{value_id}", headers=api.county())).status_code == 404
        history = (await api.client.get(f"{VALUES}/{value_id}/history", headers=api.county())).json()
        assert history["deleted"] is True
        assert [(v["value"], v["superseded_by_action"]) for v in history["versions"]] == [("5", "deleted")]
        events = [
            e
            for e in await _events(engine, "emplan.indicator.value.changed")
            if e["data"]["value_id"] == value_id
        ]
        assert [e["data"]["action"] for e in events] == ["created", "deleted"]
        assert events[-1]["data"]["value"] == "5"
        assert events[-1]["regioncode"] == XINFU

    async def test_an_approved_value_is_not_deleted(self, api: Api) -> None:
        created = await _enter(
            api, api.city(), element_code="nd_deaths", region_code=DINGXIANG, year=2020, value="1"
        )
        value_id = created.json()["id"]
        await api.client.post(f"{VALUES}/{value_id}/submit", headers=api.city())
        await api.client.post(f"{VALUES}/{value_id}/approve", headers=api.city())
        response = await api.client.delete(f"{VALUES}/{value_id}", headers=api.city())
        assert response.status_code == 409
        assert (await api.client.get(f"{VALUES}/{value_id}", headers=api.city())).status_code == 200


# -------------------------------------------------------------------------------------------------- bulk


def _csv(rows: list[str], encoding: str = "utf-8") -> bytes:
    return ("\n".join(rows) + "\n").encode(encoding)


async def _upload(
    api: Api, content: bytes, name: str, headers: dict[str, str], **params: Any
) -> httpx.Response:
    return await api.client.post(
        f"{VALUES}/upload", files={"file": (name, content)}, params=params, headers=headers
    )


class TestBulk:
    GBK_ROWS: ClassVar[list[str]] = [
        "数据元素,行政区划代码,年份,数值,来源",
        f"coal_mine_deaths,{XINFU},2018,1,煤监局",  # line 2: fine
        f"coal_mine_deaths,{DINGXIANG},2018,-1,煤监局",  # line 3: negative
        f'coal_mine_deaths,{WUTAI},2018,"1,200",煤监局',  # line 4: thousands separator
        f"coal_mine_deaths,{TAIYUAN},2018,2,煤监局",  # line 5: outside 忻州
        f"coal_mine_deaths,{XINFU},2018,3,煤监局",  # line 6: duplicate of line 2
        f"coal_mine_deaths,{CITY},２０１８,４,煤监局",  # line 7: full-width digits, fine
        f"raw_coal_output,{CITY},2018,12.5,统计局",  # line 8: fine (万吨)
    ]

    async def test_gbk_csv_all_or_nothing(self, api: Api, engine: AsyncEngine) -> None:
        before = await _count(engine)
        response = await _upload(api, _csv(self.GBK_ROWS, "gbk"), "煤矿.csv", api.city())
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["code"] == "bulk_rejected"
        by_line = {(item["line"], item["code"]) for item in problem["errors"]}
        assert by_line == {
            (3, "negative"),
            (4, "thousands_separator"),
            (5, "outside_jurisdiction"),
            (2, "duplicate"),
            (6, "duplicate"),
        }
        assert all(item["detail"] for item in problem["errors"])
        assert await _count(engine) == before

    async def test_gbk_csv_partial(self, api: Api, engine: AsyncEngine) -> None:
        response = await _upload(api, _csv(self.GBK_ROWS, "gbk"), "煤矿.csv", api.city(), partial="true")
        assert response.status_code == 200, response.text
        report = response.json()
        assert (report["rows_total"], report["rows_inserted"], report["rows_rejected"]) == (7, 2, 5)
        assert report["format"] == "csv"
        assert await _count(engine, "element_code = 'coal_mine_deaths' AND year = 2018") == 1  # line 7 only
        loaded = [
            e
            for e in await _events(engine, "emplan.indicator.values.loaded")
            if e["data"]["batch_id"] == report["batch_id"]
        ]
        assert len(loaded) == 1
        assert loaded[0]["data"]["element_codes"] == ["coal_mine_deaths", "raw_coal_output"]
        # Lines 2 and 6 passed the row checks but not the duplicate rule: 忻府区 was not loaded.
        assert (loaded[0]["data"]["region_codes"], loaded[0]["data"]["years"]) == ([CITY], [2018])

    async def test_xlsx_upload_and_correction_by_bulk(self, api: Api, engine: AsyncEngine) -> None:
        workbook = Workbook()
        sheet = workbook.active
        assert sheet is not None
        sheet.append(["element_code", "region_code", "year", "month", "value", "unit"])
        sheet.append(["motor_vehicles", XINFU, 2021, None, 12.5, "万辆"])
        sheet.append(["motor_vehicles", DINGXIANG, 2021, None, 83000, "辆"])
        sheet.append(["road_traffic_deaths", int(XINFU), 2021, 6, 3, None])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = await _upload(api, buffer.getvalue(), "车辆.xlsx", api.city())
        assert response.status_code == 200, response.text
        assert (response.json()["format"], response.json()["rows_inserted"]) == ("xlsx", 3)
        [loaded] = [
            e["data"]
            for e in await _events(engine, "emplan.indicator.values.loaded")
            if e["data"]["batch_id"] == response.json()["batch_id"]
        ]
        assert (loaded["element_codes"], loaded["region_codes"], loaded["years"]) == (
            ["motor_vehicles", "road_traffic_deaths"],
            sorted([XINFU, DINGXIANG]),
            [2021],
        )
        listed = await api.client.get(
            VALUES, params={"element_code": "motor_vehicles", "year": 2021}, headers=api.city()
        )
        values = {item["region_code"]: item["value"] for item in listed.json()["items"]}
        assert values == {XINFU: "12.5", DINGXIANG: "8.3000"}
        monthly = await api.client.get(
            VALUES, params={"element_code": "road_traffic_deaths"}, headers=api.city()
        )
        assert [item["month"] for item in monthly.json()["items"]] == [6]

        again = await api.client.post(
            f"{VALUES}/bulk",
            json={
                "values": [
                    {"element_code": "motor_vehicles", "region_code": XINFU, "year": 2021, "value": "13"},
                    {
                        "element_code": "motor_vehicles",
                        "region_code": DINGXIANG,
                        "year": 2021,
                        "value": "8.3",
                    },
                ]
            },
            headers=api.city(),
        )
        report = again.json()
        assert (report["rows_inserted"], report["rows_updated"], report["rows_unchanged"]) == (0, 1, 1)
        async with engine.connect() as connection:
            kept = (
                await connection.execute(
                    select(DataValueHistory.value, DataValueHistory.superseded_by_action).where(
                        DataValueHistory.element_code == "motor_vehicles",
                        DataValueHistory.region_code == XINFU,
                    )
                )
            ).all()
            current = (
                await connection.execute(
                    select(DataValue.value, DataValue.version).where(
                        DataValue.element_code == "motor_vehicles", DataValue.region_code == XINFU
                    )
                )
            ).one()
        assert [(str(v), a) for v, a in kept] == [("12.5", "corrected")]
        assert (str(current.value), current.version) == ("13", 2)

    async def test_jump_against_the_previous_year_in_the_same_upload(
        self, api: Api, engine: AsyncEngine
    ) -> None:
        rows = [
            "element_code,region_code,year,value",
            f"nd_affected,{XINFU},2020,10",
            f"nd_affected,{XINFU},2021,31",  # more than 3 × 10
            f"nd_affected,{XINFU},2022,93",  # 3 × 31 = 93: not more
        ]
        response = await _upload(api, _csv(rows), "受灾.csv", api.city())
        assert response.status_code == 200, response.text
        assert response.json()["rows_flagged"] == 1
        [loaded] = [
            e["data"]
            for e in await _events(engine, "emplan.indicator.values.loaded")
            if e["data"]["batch_id"] == response.json()["batch_id"]
        ]
        assert (loaded["element_codes"], loaded["region_codes"], loaded["years"]) == (
            ["nd_affected"],
            [XINFU],
            [2020, 2021, 2022],
        )
        flagged = await api.client.get(
            VALUES, params={"element_code": "nd_affected", "flagged": "true"}, headers=api.city()
        )
        assert [item["year"] for item in flagged.json()["items"]] == [2021]
        # Against the stored value when the upload lacks last year: 280 > 3 × 93.
        later = await _upload(
            api,
            _csv(["element_code,region_code,year,value", f"nd_affected,{XINFU},2023,280"]),
            "受灾.csv",
            api.city(),
        )
        assert later.json()["rows_flagged"] == 1

    async def test_malformed_xlsx(self, api: Api) -> None:
        response = await _upload(api, b"PK\x03\x04 this is not a zip archive", "坏.xlsx", api.city())
        assert response.status_code == 400
        assert response.json()["code"] == "malformed_xlsx"

    async def test_bulk_cannot_overwrite_an_approved_value_and_checks_deaths_across_rows(
        self, api: Api
    ) -> None:
        rows = {
            "values": [
                {
                    "element_code": "ps_deaths",
                    "region_code": XINFU,
                    "year": 2019,
                    "value": "4",
                },  # approved above? no: unapproved
                {"element_code": "ps_accidents", "region_code": DINGXIANG, "year": 2023, "value": "0"},
                {"element_code": "ps_deaths", "region_code": DINGXIANG, "year": 2023, "value": "1"},
                {
                    "element_code": "nd_deaths",
                    "region_code": DINGXIANG,
                    "year": 2020,
                    "value": "2",
                },  # approved
            ]
        }
        response = await api.client.post(f"{VALUES}/bulk", json=rows, headers=api.city())
        assert response.status_code == 422
        codes = {(item["line"], item["code"]) for item in response.json()["errors"]}
        assert codes == {
            (2, "deaths_without_accidents"),
            (3, "deaths_without_accidents"),
            (4, "value_approved"),
        }
