"""The directory on the real PostgreSQL (and NATS, which the app's lifespan connects to): regions
loaded from the data package by the command, region queries and their indexes, departments seeded,
changed with If-Match and resolved from a real document's unit names."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from emplan_shared.db import create_engine, create_sessionmaker
from emplan_shared.migrate import migrate
from emplan_shared.settings import with_database
from emplan_tools.keys import ensure_signing_keys
from emplan_tools.testing import bearer, drop_database
from plan_registry.app import create_app
from plan_registry.database import messaging
from plan_registry.directory import service
from plan_registry.directory.catalogue import CATALOGUE
from plan_registry.directory.models import Region
from plan_registry.settings import Settings

pytestmark = pytest.mark.integration

SERVICE_ROOT = Path(__file__).resolve().parents[2]
REPO_ROOT = SERVICE_ROOT.parents[1]
XINZHOU_SEED = REPO_ROOT.parent / "shared" / "seeds" / "001_e042361886956950.txt"


@dataclass(frozen=True)
class Directory:
    url: str
    server_url: str
    prefix: str
    env: dict[str, str]
    keys_dir: Path


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "plan_registry", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def directory(infra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Directory]:  # type: ignore[no-untyped-def]
    """A fresh, migrated plan-registry database of this module's own, with the regions loaded by the
    command."""
    prefix = f"emplan_dir{uuid.uuid4().hex[:8]}_"
    name = prefix + "plan_registry"
    url = with_database(infra.database_url, name)
    migrate(url, SERVICE_ROOT / "migrations", lock_name=f"test-{name}")
    env = os.environ | {
        "DATABASE_URL": infra.database_url,
        "EMPLAN_DATABASE_PREFIX": prefix,
        "NATS_URL": infra.nats_url,
        "EMPLAN_LOG_FORMAT": "text",
    }
    try:
        _cli(env, "load-regions")
        yield Directory(
            url=url,
            server_url=infra.database_url,
            prefix=prefix,
            env=env,
            keys_dir=tmp_path_factory.mktemp("keys"),
        )
    finally:
        asyncio.run(drop_database(infra.database_url, name))


@pytest.fixture(scope="module")
async def engine(directory: Directory) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(directory.url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@dataclass
class Api:
    client: httpx.AsyncClient
    private_key: str

    def token(self, *, region: str = "000000", roles: tuple[str, ...] = ("system_admin",)) -> dict[str, str]:
        return bearer(self.private_key, sub=f"test-{uuid.uuid4().hex[:6]}", region=region, roles=roles)


@pytest.fixture(scope="module")
async def api(directory: Directory, infra) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    keys = ensure_signing_keys(directory.keys_dir)
    settings = Settings(
        DATABASE_URL=directory.server_url,
        EMPLAN_DATABASE_PREFIX=directory.prefix,
        NATS_URL=infra.nats_url,
        EMPLAN_JWT_PUBLIC_KEY_FILE=keys.public_key_file,
        EMPLAN_LOG_FORMAT="text",
        EMPLAN_LOG_LEVEL="WARNING",
    )
    assert settings.database_url == directory.url
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://plan-registry") as client:
            yield Api(client, keys.private_key_file.read_text())


async def _events(engine: AsyncEngine, event_type: str, subject: str | None = None) -> list[dict[str, Any]]:
    table = messaging.outbox_event
    async with engine.connect() as connection:
        rows = (await connection.execute(select(table.c.envelope).order_by(table.c.position))).scalars().all()
    return [
        envelope
        for envelope in rows
        if envelope["type"] == event_type and (subject is None or envelope.get("subject") == subject)
    ]


# ------------------------------------------------------------------------------------------------ regions


class TestLoadRegions:
    def test_command_is_idempotent_and_prints_counts(self, directory: Directory) -> None:
        output = _cli(directory.env, "load-regions")
        assert "0 inserted, 0 updated" in output
        total = int(output.rsplit(";", 1)[1].split()[0])
        assert total >= 3000
        assert f"{total} unchanged" in output

    async def test_whole_country_with_every_parent(self, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            levels = dict(
                (await connection.execute(select(Region.level, func.count()).group_by(Region.level))).all()
            )
            orphans = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM region r LEFT JOIN region p ON p.code = r.parent_code "
                        "WHERE r.code <> '000000' AND p.code IS NULL"
                    )
                )
            ).scalar_one()
            wrong_parent_level = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM region r JOIN region p ON p.code = r.parent_code WHERE "
                        "(r.level = 'province' AND p.level <> 'country') OR "
                        "(r.level = 'city' AND p.level <> 'province') OR "
                        "(r.level = 'county' AND p.level NOT IN ('city', 'province'))"
                    )
                )
            ).scalar_one()
        assert levels["country"] == 1
        assert levels["province"] >= 33
        assert levels["city"] >= 330
        assert levels["county"] >= 2800
        assert sum(levels.values()) >= 3000
        assert orphans == 0
        assert wrong_parent_level == 0


class TestRegionQueries:
    async def test_get(self, api: Api) -> None:
        response = await api.client.get(
            "/api/v1/directory/regions/140900", headers=api.token(region="140900")
        )
        assert response.status_code == 200
        assert response.json() == {
            "code": "140900",
            "name": "忻州市",
            "short_name": "忻州",
            "level": "city",
            "parent_code": "140000",
        }
        missing = await api.client.get("/api/v1/directory/regions/149999", headers=api.token())
        assert missing.status_code == 404
        assert missing.json()["code"] == "region_not_found"

    async def test_children_paginated(self, api: Api) -> None:
        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, str | int] = {"limit": 5} | ({"cursor": cursor} if cursor else {})
            response = await api.client.get(
                "/api/v1/directory/regions/140900/children", params=params, headers=api.token(region="141000")
            )
            assert response.status_code == 200
            body = response.json()
            seen += [item["code"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted(seen)
        assert len(seen) == len(set(seen)) == 14
        assert {"140902", "140981", "140921"} <= set(seen)

    async def test_children_of_the_country_are_the_provinces(self, api: Api) -> None:
        response = await api.client.get("/api/v1/directory/regions/000000/children", headers=api.token())
        items = response.json()["items"]
        assert len(items) >= 33
        assert {item["level"] for item in items} == {"province"}
        assert {"110000", "140000", "650000"} <= {item["code"] for item in items}

    async def test_unknown_region_has_no_children(self, api: Api) -> None:
        response = await api.client.get("/api/v1/directory/regions/149999/children", headers=api.token())
        assert response.status_code == 404

    async def test_ancestors(self, api: Api) -> None:
        async def codes(code: str) -> list[str]:
            response = await api.client.get(
                f"/api/v1/directory/regions/{code}/ancestors", headers=api.token()
            )
            assert response.status_code == 200
            assert response.json()["next_cursor"] is None
            return [item["code"] for item in response.json()["items"]]

        assert await codes("140902") == ["000000", "140000", "140900"]
        assert await codes("140900") == ["000000", "140000"]
        assert await codes("110101") == ["000000", "110000"]  # 直辖市: district under the province
        assert await codes("429004") == ["000000", "420000"]  # 省直辖县级市
        assert await codes("000000") == []

    async def test_search(self, api: Api) -> None:
        async def search(**params: str) -> list[dict[str, Any]]:
            response = await api.client.get("/api/v1/directory/regions", params=params, headers=api.token())
            assert response.status_code == 200, response.text
            return response.json()["items"]  # type: ignore[no-any-return]

        assert (await search(q="忻州"))[0]["code"] == "140900"
        assert [r["code"] for r in await search(q="忻州", level="city")] == ["140900"]
        assert (await search(q="忻府区"))[0]["code"] == "140902"
        assert (await search(q="ＸＹＺ")) == []
        # Exact short names first (吉林省, 吉林市), then longer names that start with it.
        jilin = await search(q="吉林")
        assert [r["code"] for r in jilin[:2]] == ["220000", "220200"]
        assert all(r["name"].startswith("吉林") for r in jilin)
        # Three characters or more: contained anywhere in the name.
        assert {"222400", "433100"} <= {r["code"] for r in await search(q="自治州", level="city")}

    async def test_search_pages_do_not_repeat(self, api: Api) -> None:
        seen: list[str] = []
        cursor = None
        for _ in range(50):
            params = {"q": "自治县", "limit": "20"} | ({"cursor": cursor} if cursor else {})
            response = await api.client.get("/api/v1/directory/regions", params=params, headers=api.token())
            body = response.json()
            seen += [item["code"] for item in body["items"]]
            cursor = body["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) > 100

    async def test_bad_cursor(self, api: Api) -> None:
        response = await api.client.get(
            "/api/v1/directory/regions", params={"q": "忻州", "cursor": "WyJ4Il0"}, headers=api.token()
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_cursor"

    async def test_needs_a_token(self, api: Api) -> None:
        response = await api.client.get("/api/v1/directory/regions/140900")
        assert response.status_code == 401

    async def test_find_regions_by_name(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        async with sessionmaker() as session:

            async def codes(name: str) -> list[str]:
                return [r.code for r in await service.find_regions_by_name(session, name)]

            assert await codes("忻州市") == ["140900"]
            assert await codes("忻州") == ["140900"]
            assert await codes(" 忻州 地区") == ["140900"]
            assert await codes("汶上县") == ["370830"]
            assert await codes("汶上") == ["370830"]
            assert await codes("吉林") == ["220000", "220200"]
            assert await codes("广西") == ["450000"]
            assert await codes("不存在的地方") == []
            assert await codes("  ") == []


class TestRegionIndexes:
    """The queries behind search by prefix and children use indexes (EXPLAIN after ANALYZE: the plan
    the server really picks for the ~3,200 regions)."""

    async def _plan(self, engine: AsyncEngine, sql: str, **params: str) -> str:
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE region"))
            rows = (await connection.execute(text("EXPLAIN " + sql), params)).scalars().all()
        return "\n".join(rows)

    async def test_prefix_uses_pattern_indexes(self, engine: AsyncEngine) -> None:
        plan = await self._plan(
            engine, "SELECT code FROM region WHERE name LIKE :q OR short_name LIKE :q", q="忻州%"
        )
        assert "ix_region_name_pattern" in plan
        assert "ix_region_short_name" in plan

    async def test_exact_short_name_uses_its_index(self, engine: AsyncEngine) -> None:
        plan = await self._plan(engine, "SELECT code FROM region WHERE short_name = :q", q="忻州")
        assert "ix_region_short_name" in plan

    async def test_children_use_the_parent_index(self, engine: AsyncEngine) -> None:
        plan = await self._plan(
            engine, "SELECT code FROM region WHERE parent_code = :c ORDER BY code", c="140900"
        )
        assert "ix_region_parent_code" in plan


# -------------------------------------------------------------------------------------------- departments


class TestSeedDepartments:
    def test_seed_is_idempotent(self, directory: Directory) -> None:
        city_entries = sum(1 for entry in CATALOGUE if entry.for_level(county=False) is not None)
        first = _cli(directory.env, "seed-departments", "--region", "140900")
        assert f"140900 忻州市: {city_entries} departments created, 0 already present" in first
        assert "  + 市应急管理局" in first
        second = _cli(directory.env, "seed-departments", "--region", "140900")
        assert f"0 departments created, {city_entries} already present" in second

    async def test_county_and_events(self, directory: Directory, engine: AsyncEngine) -> None:
        output = _cli(directory.env, "seed-departments", "--region", "140981")  # 原平市, a county-level city
        assert "  + 市应急管理局" in output
        assert "  + 市消防救援大队" in output
        assert "军分区" not in output
        output = _cli(directory.env, "seed-departments", "--region", "140902")  # 忻府区
        assert "  + 区应急管理局" in output
        created = await _events(engine, "emplan.directory.department.created")
        per_region: dict[str, int] = {}
        for event in created:
            per_region[event["regioncode"]] = per_region.get(event["regioncode"], 0) + 1
        county_entries = sum(1 for entry in CATALOGUE if entry.for_level(county=True) is not None)
        assert per_region["140981"] == per_region["140902"] == county_entries

    def test_province_is_refused(self, directory: Directory) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "plan_registry", "seed-departments", "--region", "140000"],
            env=directory.env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2
        assert "市、县" in result.stderr


async def _department(api: Api, region: str, name: str) -> dict[str, Any]:
    response = await api.client.get(
        "/api/v1/directory/departments", params={"region_code": region, "limit": 500}, headers=api.token()
    )
    (found,) = [d for d in response.json()["items"] if d["name"] == name]
    return found  # type: ignore[no-any-return]


class TestUpdateDepartment:
    async def test_if_match(self, api: Api, directory: Directory, engine: AsyncEngine) -> None:
        _cli(directory.env, "seed-departments", "--region", "140900")
        department = await _department(api, "140900", "市水利局")
        url = f"/api/v1/directory/departments/{department['id']}"
        headers = api.token(region="140900", roles=("bureau_planner",))
        read = await api.client.get(url, headers=headers)
        etag = read.headers["etag"]
        assert etag == f'"{department["version"]}"'
        change = {"aliases": ["市水务局", "水利局"]}

        missing = await api.client.patch(url, json=change, headers=headers)
        assert missing.status_code == 428
        assert missing.json()["code"] == "precondition_required"

        stale = await api.client.patch(url, json=change, headers=headers | {"If-Match": '"999"'})
        assert stale.status_code == 412
        assert stale.json()["code"] == "precondition_failed"
        assert stale.headers["etag"] == etag
        assert (await api.client.get(url, headers=headers)).json() == read.json()

        changed = await api.client.patch(url, json=change, headers=headers | {"If-Match": etag})
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert body["aliases"] == sorted(change["aliases"])
        assert body["version"] == department["version"] + 1
        assert changed.headers["etag"] == f'"{body["version"]}"'

        again = await api.client.patch(url, json={"active": False}, headers=headers | {"If-Match": etag})
        assert again.status_code == 412  # the tag it was read with is now stale

        same = await api.client.patch(
            url, json=change, headers=headers | {"If-Match": changed.headers["etag"]}
        )
        assert same.status_code == 200
        assert same.json()["version"] == body["version"]  # nothing changed: no new version, no event

        events = await _events(
            engine, "emplan.directory.department.updated", f"department/{department['id']}"
        )
        assert len(events) == 1
        assert events[0]["data"]["version"] == body["version"]
        assert events[0]["data"]["aliases"] == sorted(change["aliases"])

    async def test_rename_conflict_and_nulls(self, api: Api, directory: Directory) -> None:
        _cli(directory.env, "seed-departments", "--region", "140900")
        department = await _department(api, "140900", "市财政局")
        url = f"/api/v1/directory/departments/{department['id']}"
        headers = api.token(region="140900", roles=("bureau_planner",))
        if_match = {"If-Match": f'"{department["version"]}"'}
        conflict = await api.client.patch(url, json={"name": "市教育局"}, headers=headers | if_match)
        assert conflict.status_code == 409
        null = await api.client.patch(url, json={"name": None}, headers=headers | if_match)
        assert null.status_code == 422

    async def test_outside_the_jurisdiction_is_not_found(self, api: Api, directory: Directory) -> None:
        _cli(directory.env, "seed-departments", "--region", "140900")
        department = await _department(api, "140900", "市气象局")
        url = f"/api/v1/directory/departments/{department['id']}"
        elsewhere = api.token(region="140800", roles=("bureau_planner",))  # 运城市
        assert (await api.client.get(url, headers=elsewhere)).status_code == 404
        patch = await api.client.patch(url, json={"active": False}, headers=elsewhere | {"If-Match": "*"})
        assert patch.status_code == 404
        listed = await api.client.get("/api/v1/directory/departments", headers=elsewhere)
        assert all(d["region_code"].startswith("1408") for d in listed.json()["items"])
        viewer = api.token(region="140900", roles=("viewer",))
        assert (await api.client.patch(url, json={}, headers=viewer | {"If-Match": "*"})).status_code == 403


class TestResolve:
    async def test_xinzhou_document(self, api: Api, directory: Directory) -> None:
        if not XINZHOU_SEED.exists():
            pytest.skip(f"{XINZHOU_SEED} is absent: the real documents live in the shared folder")
        from plan_registry.document import parse_text

        _cli(directory.env, "seed-departments", "--region", "140900")
        plan = parse_text(XINZHOU_SEED.read_text(encoding="utf-8"))
        names: list[str] = []
        for task in plan.tasks:
            names += [n for n in [*task.lead, *task.co] if n not in names]
        for indicator in plan.indicators:
            if indicator.responsible is not None:
                units = [*indicator.responsible.lead, *indicator.responsible.co]
                names += [n for n in units if n not in names]
        assert len(names) > 30
        response = await api.client.post(
            "/api/v1/directory/departments/resolve",
            json={"region_code": "140900", "names": names},
            headers=api.token(region="140900", roles=("viewer",)),
        )
        assert response.status_code == 200, response.text
        by_name = {item["name"]: item for item in response.json()["items"]}
        assert list(by_name) == names

        groups = {n for n, r in by_name.items() if r["match"] == "group"}
        assert all(by_name[n]["department_id"] is None for n in groups)
        assert {n for n in names if n.startswith("各县")} <= groups
        assert {n for n in names if "成员单位" in n} <= groups

        unresolved = {n for n, r in by_name.items() if r["match"] == "none"}
        # Units that are not city government departments of the catalogue: reported, not invented.
        assert unresolved <= {"忻州银保监分局", "市邮政管理局"}

        def department(name: str) -> str:
            return str(by_name[name]["department_name"])

        assert department("市应急局") == "市应急管理局"
        assert by_name["市应急局"]["match"] == "alias"
        planning = {"市规划和自然资源局", "市规划自然资源局", "市自然资源局"} & set(names)
        assert len(planning) >= 2
        assert {department(n) for n in planning} == {"市自然资源和规划局"}
        assert department("市卫健委") == "市卫生健康委员会"
        assert department("市市场监管局") == "市市场监督管理局"
        assert department("市消防救援支队") == "市消防救援支队"
        assert by_name["市消防救援支队"]["match"] == "exact"

    async def test_outside_the_jurisdiction(self, api: Api) -> None:
        response = await api.client.post(
            "/api/v1/directory/departments/resolve",
            json={"region_code": "140900", "names": ["市应急局"]},
            headers=api.token(region="140800", roles=("viewer",)),
        )
        assert response.status_code == 404

    async def test_service_function(
        self, directory: Directory, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        _cli(directory.env, "seed-departments", "--region", "140900")
        async with sessionmaker() as session:
            results = await service.resolve_units(
                session, "140900", ["忻州市应急管理局", "县应急局", "有关部门", "市发改委"]
            )
        assert [r.match for r in results] == ["normalized", "none", "group", "alias"]
        assert results[3].department_name == "市发展和改革委员会"
