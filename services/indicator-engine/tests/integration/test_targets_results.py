"""Targets, results and status on the real PostgreSQL and NATS: plan.published consumed (duplicates
included) and bound, manual binding and baseline rules through the API, results from approved or
submitted data, status.changed and warning.raised published exactly once per real change.

Data (鹰潭市 360600 and its three counties 月湖区 360602, 余江区 360603, 贵溪市 360681), approved:
  production-safety deaths by county (sum for the city):
    2016: 10 + 10 + 20 = 40   2017: 12 + 12 + 20 = 44   2018: 10 + 8 + 20 = 38   2019: 10 + 8 + 20 = 38
    2020:  5 +  5 + 10 = 20   2021: 10 +  8 + 20 = 38   2022: 10 + 7 + 20 = 37
  GDP (亿元) by county: 2020: 900 + 300 + 800 = 2000; 2021: 貴溪 missing; 2022: 1000 + 400 + 600 = 2000.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared.db import create_engine
from emplan_shared.events import CloudEvent, catalogue
from emplan_shared.events.payloads import PlanPeriod, PlanPublished, PlanSuperseded
from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import bearer, drop_database
from indicator_engine.app import create_app
from indicator_engine.data.models import DataValue
from indicator_engine.database import messaging
from indicator_engine.definitions.models import DataElementRow
from indicator_engine.domain.catalogue import CATALOGUE
from indicator_engine.results import service as results_service
from indicator_engine.results.models import TargetStatus
from indicator_engine.settings import Settings

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
CITY, YUEHU, YUJIANG, GUIXI = "360600", "360602", "360603", "360681"
D = Decimal

DEATHS = {
    2016: (10, 10, 20),
    2017: (12, 12, 20),
    2018: (10, 8, 20),
    2019: (10, 8, 20),
    2020: (5, 5, 10),
    2021: (10, 8, 20),
    2022: (10, 7, 20),
}
GDP = {2020: (900, 300, 800), 2021: (1000, 400, None), 2022: (1000, 400, 600)}


@dataclass
class Service:
    app: FastAPI
    client: httpx.AsyncClient
    engine: AsyncEngine
    private_key: str

    def headers(
        self, *, region: str = "000000", roles: tuple[str, ...] = ("system_admin",)
    ) -> dict[str, str]:
        return bearer(self.private_key, sub=f"test-{uuid.uuid4().hex[:6]}", region=region, roles=roles)


@pytest.fixture(scope="module")
async def service(infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:  # type: ignore[no-untyped-def]
    prefix = f"emplan_res{uuid.uuid4().hex[:8]}_"
    name = prefix + "indicator_engine"
    url = with_database(infra.database_url, name)
    await asyncio.to_thread(migrate, url, SERVICE_ROOT / "migrations", lock_name=f"test-{name}")
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
    engine = create_engine(settings.async_database_url, pool_size=2)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://indicator-engine") as client:
                svc = Service(app, client, engine, keys.private_key_file.read_text())
                await _seed(svc)
                yield svc
    finally:
        await engine.dispose()
        await drop_database(infra.database_url, name)


async def _seed(svc: Service) -> None:
    async with svc.engine.begin() as connection:
        await connection.execute(
            insert(DataElementRow)
            .values(
                [
                    {
                        "code": e.code,
                        "name": e.name,
                        "unit": e.unit,
                        "kind": e.kind,
                        "description": e.description,
                        "input_units": [{"unit": u, "multiplier": str(m)} for u, m in e.input_units],
                        "builtin": True,
                        "version": 1,
                        "created_by": "test",
                    }
                    for e in CATALOGUE.elements.values()
                ]
            )
            .on_conflict_do_nothing()
        )
    rows: list[tuple[str, str, int, int]] = []
    for year, counts in DEATHS.items():
        rows += [
            (county, "ps_deaths", year, n) for county, n in zip((YUEHU, YUJIANG, GUIXI), counts, strict=True)
        ]
    for year, amounts in GDP.items():
        rows += [
            (county, "gdp", year, n)
            for county, n in zip((YUEHU, YUJIANG, GUIXI), amounts, strict=True)
            if n is not None
        ]
    await _put_values(svc, rows, state="approved")


async def _put_values(svc: Service, rows: list[tuple[str, str, int, int]], *, state: str) -> None:
    async with svc.engine.begin() as connection:
        for region, element, year, value in rows:
            await connection.execute(
                insert(DataValue)
                .values(
                    element_code=element,
                    region_code=region,
                    year=year,
                    month=0,
                    value=D(value),
                    state=state,
                    version=1,
                    entered_by="test",
                    updated_by="test",
                )
                .on_conflict_do_update(
                    index_elements=["element_code", "region_code", "year", "month"],
                    set_={"value": D(value), "state": state},
                )
            )


def _plan(
    *,
    plan_id: uuid.UUID,
    lineage: uuid.UUID,
    version: int,
    items: dict[str, uuid.UUID],
    supersedes: uuid.UUID | None = None,
) -> PlanPublished:
    def indicator(
        name: str, text: str, kind: str, value: str, unit: str | None, strict: bool, nature: str | None
    ) -> dict[str, Any]:
        return {
            "id": items[name],
            "name": name,
            "target_text": text,
            "target": {"type": kind, "value": value, "unit": unit, "strict": strict},
            "nature": nature,
            "group": "core",
            "baseline_text": None,
            "responsible": None,
            "source_lines": [10],
        }

    return PlanPublished.model_validate(
        {
            "plan_id": plan_id,
            "lineage_id": lineage,
            "version": version,
            "supersedes": supersedes,
            "region_code": CITY,
            "region_name": "鹰潭市",
            "kind": "plan",
            "title": "鹰潭市“十四五”应急管理体系规划（测试）",
            "period": PlanPeriod(start=2021, end=2025),
            "issuing_body": None,
            "doc_number": None,
            "issued_on": date(2022, 1, 1),
            "parent_plans": [],
            "published_at": datetime.now(UTC),
            "published_by": "tester",
            "document_sha256": None,
            "goals": [],
            "tasks": [],
            "indicators": [
                indicator("生产安全事故死亡人数", "下降15%", "decrease_pct", "15", "%", False, "binding"),
                indicator("亿元GDP生产安全事故死亡率", "0.02以内", "max", "0.02", None, False, "binding"),
                indicator("应急管理满意度", "达到90%", "min", "90", "%", False, "expected"),
            ],
        }
    )


async def _publish(svc: Service, event: CloudEvent, *copies: str) -> None:
    """Publish the event once per suffix, each copy with its own Nats-Msg-Id, so JetStream keeps them
    all and the consumer sees the same event id several times (a replay, a redelivery)."""
    js = svc.app.state.broker.js
    payload = orjson.dumps(event.model_dump(mode="json", exclude_none=True))
    for suffix in copies:
        await js.publish(event.type, payload, headers={"Nats-Msg-Id": f"{event.id}-{suffix}"})


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def _events(svc: Service, event_type: str, target_id: str) -> list[dict[str, Any]]:
    table = messaging.outbox_event
    async with svc.engine.connect() as connection:
        rows = (await connection.execute(select(table.c.envelope).order_by(table.c.position))).scalars().all()
    return [e for e in rows if e["type"] == event_type and e["data"]["target_id"] == target_id]


@dataclass
class Published:
    plan_id: uuid.UUID
    lineage: uuid.UUID
    items: dict[str, uuid.UUID]
    event: CloudEvent
    targets: dict[str, dict[str, Any]]


@pytest.fixture(scope="module")
async def published(service: Service) -> Published:
    plan_id, lineage = uuid.uuid4(), uuid.uuid4()
    items = {
        name: uuid.uuid4() for name in ("生产安全事故死亡人数", "亿元GDP生产安全事故死亡率", "应急管理满意度")
    }
    event = catalogue.PLAN_PUBLISHED.build(_plan(plan_id=plan_id, lineage=lineage, version=1, items=items))
    stats = service.app.state.consumers[0].consumer.stats
    duplicates_before = stats.duplicates
    await _publish(service, event, "a", "b")

    async def both_delivered() -> bool:
        return stats.duplicates >= duplicates_before + 1

    await _until(both_delivered)
    response = await service.client.get(
        "/api/v1/indicators/targets", params={"plan_id": str(plan_id)}, headers=service.headers()
    )
    assert response.status_code == 200, response.text
    targets = {item["name"]: item for item in response.json()["items"]}
    return Published(plan_id, lineage, items, event, targets)


class TestPlanPublished:
    async def test_duplicate_delivery_binds_each_target_once(
        self, service: Service, published: Published
    ) -> None:
        assert len(published.targets) == 3
        async with service.engine.connect() as connection:
            table = messaging.processed_event
            processed = (
                await connection.execute(select(func.count()).where(table.c.event_id == published.event.id))
            ).scalar_one()
        assert processed == 1

    async def test_bound_by_name_and_alias_unmatched_left_for_a_person(self, published: Published) -> None:
        deaths = published.targets["生产安全事故死亡人数"]
        rate = published.targets["亿元GDP生产安全事故死亡率"]
        other = published.targets["应急管理满意度"]
        assert (deaths["definition_code"], deaths["binding_method"]) == ("ps_deaths", "name")
        assert (rate["definition_code"], rate["binding_method"]) == ("ps_death_rate_gdp", "alias")
        assert (other["definition_code"], other["binding_method"]) == (None, "none")
        assert deaths["baseline"] == {"years": [2020], "start_year": 2020}
        assert (deaths["type"], deaths["value"], deaths["strict"], deaths["nature"]) == (
            "decrease_pct",
            "15",
            False,
            "binding",
        )
        assert deaths["target_year"] == 2025

    async def test_unbound_list_and_manual_binding(self, service: Service, published: Published) -> None:
        response = await service.client.get(
            "/api/v1/indicators/targets",
            params={"plan_id": str(published.plan_id), "binding": "unbound"},
            headers=service.headers(),
        )
        assert [item["name"] for item in response.json()["items"]] == ["应急管理满意度"]
        target_id = published.targets["应急管理满意度"]["id"]
        missing = await service.client.put(
            f"/api/v1/indicators/targets/{target_id}/binding",
            json={"definition_code": "no_such_indicator"},
            headers=service.headers(),
        )
        assert missing.status_code == 422
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert missing.json()["code"] == "definition_not_found"
        viewer = await service.client.put(
            f"/api/v1/indicators/targets/{target_id}/binding",
            json={"definition_code": "em_equipment_rate"},
            headers=service.headers(roles=("viewer",)),
        )
        assert viewer.status_code == 403
        bound = await service.client.put(
            f"/api/v1/indicators/targets/{target_id}/binding",
            json={"definition_code": "em_equipment_rate"},
            headers=service.headers(roles=("bureau_planner",), region=CITY),
        )
        assert bound.status_code == 200, bound.text
        assert (bound.json()["definition_code"], bound.json()["binding_method"]) == (
            "em_equipment_rate",
            "manual",
        )

    async def test_outside_the_jurisdiction_is_not_found(
        self, service: Service, published: Published
    ) -> None:
        target_id = published.targets["生产安全事故死亡人数"]["id"]
        response = await service.client.get(
            f"/api/v1/indicators/targets/{target_id}",
            headers=service.headers(region="140000", roles=("viewer",)),
        )
        assert response.status_code == 404


class TestResults:
    async def _get(self, service: Service, **params: Any) -> dict[str, Any]:
        response = await service.client.get(
            "/api/v1/indicators/results",
            params=params,
            headers=service.headers(region=CITY, roles=("viewer",)),
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def test_city_rate_from_summed_counties(self, service: Service) -> None:
        result = await self._get(service, indicator="ps_death_rate_gdp", region=CITY, year=2022)
        # 37 / 2000 = 0.0185, shown with 3 places: 0.019 (half up).
        assert (result["status"], result["value"], result["display_value"]) == ("ok", "0.0185", "0.019")
        assert (result["numerator"], result["denominator"]) == ("37", "2000")

    async def test_county_missing_a_year_is_named(self, service: Service) -> None:
        result = await self._get(service, indicator="ps_death_rate_gdp", region=CITY, year=2021)
        assert result["status"] == "incomplete"
        assert result["value"] is None
        assert result["missing"] == [{"region_code": GUIXI, "element_code": "gdp", "year": 2021}]

    async def test_breakdown_lists_each_county(self, service: Service) -> None:
        response = await service.client.get(
            "/api/v1/indicators/results/breakdown",
            params={"indicator": "ps_death_rate_gdp", "region": CITY, "year": 2022},
            headers=service.headers(region=CITY, roles=("viewer",)),
        )
        body = response.json()
        # 10/1000 = 0.01, 7/400 = 0.0175, 20/600 = 0.0333… (34 significant digits)
        assert [(c["region_code"], c["value"]) for c in body["children"]] == [
            (YUEHU, "0.01"),
            (YUJIANG, "0.0175"),
            (GUIXI, "0.03333333333333333333333333333333333"),
        ]
        assert body["region"]["value"] == "0.0185"

    async def test_submitted_values_count_only_when_asked(self, service: Service) -> None:
        await _put_values(
            service,
            [(YUEHU, "ps_deaths", 2023, 1), (YUJIANG, "ps_deaths", 2023, 2), (GUIXI, "ps_deaths", 2023, 3)],
            state="submitted",
        )
        approved = await self._get(service, indicator="ps_deaths", region=CITY, year=2023)
        everything = await self._get(service, indicator="ps_deaths", region=CITY, year=2023, include="all")
        assert approved["status"] == "incomplete"
        assert sorted(approved["missing_regions"]) == [YUEHU, YUJIANG, GUIXI]
        assert (everything["status"], everything["value"]) == ("ok", "6")

    async def test_bad_input_is_problem_json(self, service: Service) -> None:
        headers = service.headers()
        unknown = await service.client.get(
            "/api/v1/indicators/results",
            params={"indicator": "nope", "region": CITY, "year": 2022},
            headers=headers,
        )
        assert (unknown.status_code, unknown.json()["code"]) == (404, "indicator_not_found")
        reversed_years = await service.client.get(
            "/api/v1/indicators/results",
            params={"indicator": "ps_deaths", "region": CITY, "year": 2021, "from_year": 2022},
            headers=headers,
        )
        assert (reversed_years.status_code, reversed_years.json()["code"]) == (422, "invalid_year_range")
        outside = await service.client.get(
            "/api/v1/indicators/results",
            params={"indicator": "ps_deaths", "region": CITY, "year": 2022},
            headers=service.headers(region="140000", roles=("viewer",)),
        )
        assert outside.status_code == 404
        unknown_region = await service.client.get(
            "/api/v1/indicators/results",
            params={"indicator": "ps_deaths", "region": "990100", "year": 2022},
            headers=headers,
        )
        assert (unknown_region.status_code, unknown_region.json()["code"]) == (404, "region_not_found")


class TestStatus:
    async def test_status_changes_publish_once_each(self, service: Service, published: Published) -> None:
        target_id = published.targets["生产安全事故死亡人数"]["id"]
        changed, warned = catalogue.INDICATOR_STATUS_CHANGED.type, catalogue.INDICATOR_WARNING_RAISED.type

        # Judged at publication with the default baseline, 2020 (the epidemic dip, 20 deaths): target
        # 20 × 0.85 = 17; 2022 has 37, further away than the baseline: seriously lagging. The line
        # through (2020, 20), (2021, 38), (2022, 37) rises (slope 8.5): a projected miss → warning.
        events = await _events(service, changed, target_id)
        assert [(e["data"]["previous_status"], e["data"]["status"]) for e in events] == [
            ("no_data", "seriously_lagging")
        ]
        assert events[0]["data"]["value"] == "37"
        assert events[0]["data"]["target_value"] == "17"
        assert len(await _events(service, warned, target_id)) == 1

        # The 运城 rule: the 2016–2019 mean, 40; target 34; required in 2022 37.6; 37 is on track.
        headers = service.headers(roles=("bureau_planner",), region=CITY)
        body = {"years": [2016, 2017, 2018, 2019], "start_year": 2020}
        response = await service.client.put(
            f"/api/v1/indicators/targets/{target_id}/baseline", json=body, headers=headers
        )
        assert response.status_code == 200, response.text
        again = await service.client.put(
            f"/api/v1/indicators/targets/{target_id}/baseline", json=body, headers=headers
        )
        assert again.status_code == 200
        recompute = await service.client.post(
            "/api/v1/indicators/targets/recompute", json={}, headers=headers
        )
        assert recompute.json()["status_changes"] == 0

        events = await _events(service, changed, target_id)
        assert [(e["data"]["previous_status"], e["data"]["status"]) for e in events] == [
            ("no_data", "seriously_lagging"),
            ("seriously_lagging", "on_track"),
        ]
        assert [e["data"]["status_version"] for e in events] == [1, 2]
        assert len(await _events(service, warned, target_id)) == 1  # now projected to be met (97/3)

        progress = await service.client.get(
            f"/api/v1/indicators/targets/{target_id}/progress", headers=headers
        )
        body = progress.json()
        assert (body["status"], body["year"], body["value"]) == ("on_track", 2022, "37")
        assert (body["baseline"]["value"], body["target_value"], body["required_value"]) == (
            "40",
            "34",
            "37.6",
        )
        assert body["progress_ratio"] == "1.25"
        assert body["open_sdg"]["category"] == "on_track"
        assert body["projection"]["method"] == "linear_trend"
        assert body["projection"]["value"] == "32.33333333333333333333333333333333"
        assert (body["projection"]["outcome"], body["projection"]["warning"]) == ("met", False)

    async def test_data_written_recomputes_in_the_same_transaction(
        self, service: Service, published: Published
    ) -> None:
        target_id = published.targets["生产安全事故死亡人数"]["id"]
        changed, warned = catalogue.INDICATOR_STATUS_CHANGED.type, catalogue.INDICATOR_WARNING_RAISED.type
        before = len(await _events(service, changed, target_id))
        # 贵溪市 corrects 2022 to 28: the city has 10 + 7 + 28 = 45 > 40, moving away: seriously lagging;
        # the line through (2020, 40), (2021, 38), (2022, 45) rises: a projected miss, a new warning.
        async with service.app.state.sessionmaker() as session, session.begin():
            await session.execute(
                update(DataValue)
                .where(
                    DataValue.region_code == GUIXI,
                    DataValue.element_code == "ps_deaths",
                    DataValue.year == 2022,
                )
                .values(value=D(28))
            )
            report = await results_service.on_values_changed(session, [(GUIXI, "ps_deaths", 2022)])
        # Two targets read 2022's deaths. The rate target (≤ 0.02) was met, 37 / 2000 = 0.0185, and now
        # 45 / 2000 = 0.0225 is worse than its baseline 20 / 2000 = 0.01: seriously lagging. Its line
        # through (2020, 0.01), (2022, 0.0185) already missed 0.02 in 2025 (0.03125), so its warning
        # was raised at publication and is not raised again: one new warning, from the deaths target.
        assert (report.status_changes, report.warnings) == (2, 1)
        rate_id = published.targets["亿元GDP生产安全事故死亡率"]["id"]
        rate_events = await _events(service, changed, rate_id)
        assert [e["data"]["status"] for e in rate_events] == ["met", "seriously_lagging"]
        assert len(await _events(service, warned, rate_id)) == 1
        events = await _events(service, changed, target_id)
        assert len(events) == before + 1
        assert (events[-1]["data"]["status"], events[-1]["data"]["value"]) == ("seriously_lagging", "45")
        warnings = await _events(service, warned, target_id)
        assert len(warnings) == 2
        assert warnings[-1]["data"]["method"] == "linear_trend"
        # Line: x̄ = 2021, ȳ = 41, slope (−1·(40 − 41) + 1·(45 − 41)) / 2 = 2.5 → 41 + 2.5 × 4 = 51.
        assert warnings[-1]["data"]["projected_value"] == "51"
        # The same figures again: nothing changes, nothing is published.
        async with service.app.state.sessionmaker() as session, session.begin():
            again = await results_service.on_values_changed(session, [(GUIXI, "ps_deaths", 2022)])
        assert (again.status_changes, again.warnings) == (0, 0)

    async def test_every_change_of_the_figures_is_judged_once(
        self, service: Service, published: Published
    ) -> None:
        """`target.judged` follows the figures, not only the status: a correction that keeps the status
        still publishes the new value; the same figures again publish nothing."""
        target_id = published.targets["生产安全事故死亡人数"]["id"]
        changed, judged = catalogue.INDICATOR_STATUS_CHANGED.type, catalogue.INDICATOR_TARGET_JUDGED.type
        statuses_before = len(await _events(service, changed, target_id))
        # So far (the tests above): publication with baseline 2020 (20 deaths, target 17, 2022 due
        # 20 − 3 × 2/5 = 18.8), the 运城 baseline rule (40, 34, 37.6) and 贵溪市's correction (45).
        events = await _events(service, judged, target_id)
        figures = [
            (d["status"], d["year"], d["value"], d["baseline"], d["target_value"], d["required_value"])
            for d in (e["data"] for e in events)
        ]
        assert figures == [
            ("seriously_lagging", 2022, "37", "20", "17", "18.8"),
            ("on_track", 2022, "37", "40", "34", "37.6"),
            ("seriously_lagging", 2022, "45", "40", "34", "37.6"),
        ]
        assert [e["data"]["judgement_version"] for e in events] == [1, 2, 3]
        first = events[0]["data"]
        assert (first["indicator_code"], first["unit"], first["target_type"], first["target_text_value"]) == (
            "ps_deaths",
            "人",
            "decrease_pct",
            "15",
        )
        assert (first["baseline_year"], first["target_year"], first["rules_version"]) == (
            2020,
            2025,
            results_service.CALCULATION_RULES_VERSION,
        )
        # 46 instead of 45 in 贵溪市: 10 + 7 + 29 = 46, still seriously lagging: judged, status unchanged.
        for deaths in (29, 29):
            async with service.app.state.sessionmaker() as session, session.begin():
                await session.execute(
                    update(DataValue)
                    .where(
                        DataValue.region_code == GUIXI,
                        DataValue.element_code == "ps_deaths",
                        DataValue.year == 2022,
                    )
                    .values(value=D(deaths))
                )
                await results_service.on_values_changed(session, [(GUIXI, "ps_deaths", 2022)])
        events = await _events(service, judged, target_id)
        assert [(e["data"]["judgement_version"], e["data"]["value"]) for e in events[3:]] == [(4, "46")]
        assert events[3]["data"]["status"] == "seriously_lagging"
        assert len(await _events(service, changed, target_id)) == statuses_before


class TestDataEvents:
    async def test_values_entered_and_approved_through_the_api_rejudge_the_target(
        self, service: Service, published: Published
    ) -> None:
        target_id = published.targets["生产安全事故死亡人数"]["id"]
        changed = catalogue.INDICATOR_STATUS_CHANGED.type
        before = await _events(service, changed, target_id)
        assert before[-1]["data"]["status"] == "seriously_lagging"  # 2022 at 45, from the test above
        headers = service.headers(roles=("bureau_planner",), region=CITY)
        # 贵溪市's approved 2022 figure (28) is unapproved, corrected to 20 and approved again through the
        # data half's API. Unapproved, 2022 no longer counts: 2021 is judged, 38 against 38.8 due,
        # r = ((40 − 38) / 6) / 0.2 ≈ 1.67: on track. Approved again: 10 + 7 + 20 = 37 in 2022, still on
        # track. One status change in all, published by the consumer of the data half's events.
        async with service.engine.connect() as connection:
            value_id = (
                await connection.execute(
                    select(DataValue.id).where(
                        DataValue.region_code == GUIXI,
                        DataValue.element_code == "ps_deaths",
                        DataValue.year == 2022,
                    )
                )
            ).scalar_one()
        unapproved = await service.client.post(
            f"/api/v1/indicators/values/{value_id}/unapprove", headers=headers
        )
        assert unapproved.status_code == 200, unapproved.text
        entered = await service.client.post(
            "/api/v1/indicators/values",
            json={"element_code": "ps_deaths", "region_code": GUIXI, "year": 2022, "value": "20"},
            headers=headers,
        )
        assert entered.status_code in (200, 201), entered.text
        if entered.json()["state"] == "draft":
            submitted = await service.client.post(
                f"/api/v1/indicators/values/{value_id}/submit", headers=headers
            )
            assert submitted.status_code == 200, submitted.text
        approved = await service.client.post(f"/api/v1/indicators/values/{value_id}/approve", headers=headers)
        assert approved.status_code == 200, approved.text

        async def judged_2022_again() -> bool:
            progress = await service.client.get(
                f"/api/v1/indicators/targets/{target_id}/progress", headers=headers
            )
            stored = await _stored_status(service, target_id)
            return progress.json()["year"] == 2022 and stored == ("on_track", 2022)

        await _until(judged_2022_again)
        events = await _events(service, changed, target_id)
        assert len(events) == len(before) + 1
        assert (events[-1]["data"]["previous_status"], events[-1]["data"]["status"]) == (
            "seriously_lagging",
            "on_track",
        )


async def _stored_status(svc: Service, target_id: str) -> tuple[str, int | None]:
    async with svc.engine.connect() as connection:
        row = (
            await connection.execute(
                select(TargetStatus.status, TargetStatus.year).where(
                    TargetStatus.target_id == uuid.UUID(target_id)
                )
            )
        ).one()
    return row[0], row[1]


class TestSuperseded:
    async def test_new_version_supersedes_and_carries_the_baseline_rule(
        self, service: Service, published: Published
    ) -> None:
        new_plan = uuid.uuid4()
        event = catalogue.PLAN_PUBLISHED.build(
            _plan(
                plan_id=new_plan,
                lineage=published.lineage,
                version=2,
                items=published.items,
                supersedes=published.plan_id,
            )
        )
        superseded = catalogue.PLAN_SUPERSEDED.build(
            PlanSuperseded(
                plan_id=published.plan_id,
                lineage_id=published.lineage,
                version=1,
                region_code=CITY,
                superseded_by=new_plan,
                superseded_by_version=2,
                superseded_at=datetime.now(UTC),
            )
        )
        await _publish(service, superseded, "a")
        await _publish(service, event, "a")
        headers = service.headers()

        async def both_applied() -> bool:
            old = await service.client.get(
                "/api/v1/indicators/targets", params={"plan_id": str(published.plan_id)}, headers=headers
            )
            new = await service.client.get(
                "/api/v1/indicators/targets", params={"plan_id": str(new_plan)}, headers=headers
            )
            return len(new.json()["items"]) == 3 and all(
                t["state"] == "superseded" for t in old.json()["items"]
            )

        await _until(both_applied)
        new = await service.client.get(
            "/api/v1/indicators/targets", params={"plan_id": str(new_plan)}, headers=headers
        )
        targets = {t["name"]: t for t in new.json()["items"]}
        assert targets["生产安全事故死亡人数"]["baseline"] == {
            "years": [2016, 2017, 2018, 2019],
            "start_year": 2020,
        }
        assert (
            targets["应急管理满意度"]["definition_code"],
            targets["应急管理满意度"]["binding_method"],
        ) == (
            "em_equipment_rate",
            "manual",
        )
        old_id = published.targets["生产安全事故死亡人数"]["id"]
        edit = await service.client.put(
            f"/api/v1/indicators/targets/{old_id}/baseline", json={"years": [2019]}, headers=headers
        )
        assert (edit.status_code, edit.json()["code"]) == (409, "target_superseded")
