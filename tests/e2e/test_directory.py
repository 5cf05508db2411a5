"""The directory through the gateway, with the regions loaded by the operator's command: region
queries, a department changed with If-Match and the change reaching task-assignment once, and unit
names resolved."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest

from emplan_tools.stack import Stack

from .conftest import Login, login

pytestmark = pytest.mark.e2e


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


@pytest.fixture(scope="session")
def regions(system: Stack) -> str:
    """The whole country, loaded once per session the way operators do it."""
    return _plan_registry(system, "load-regions")


@pytest.fixture(scope="session")
def planner(system: Stack, regions: str) -> Login:
    return login(system, roles=["bureau_planner"], region="140900")


async def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


class TestRegions:
    def test_loaded(self, regions: str) -> None:
        total = int(regions.rsplit(";", 1)[1].split()[0])
        assert total >= 3000

    async def test_children_ancestors_search(self, client: httpx.AsyncClient, planner: Login) -> None:
        headers = planner.headers
        children = await _ok(await client.get("/api/v1/directory/regions/140900/children", headers=headers))
        names = {item["name"] for item in children["items"]}
        assert {"忻府区", "原平市", "定襄县"} <= names
        assert len(names) == 14
        ancestors = await _ok(await client.get("/api/v1/directory/regions/140902/ancestors", headers=headers))
        assert [item["code"] for item in ancestors["items"]] == ["000000", "140000", "140900"]
        found = await _ok(
            await client.get(
                "/api/v1/directory/regions", params={"q": "忻州", "level": "city"}, headers=headers
            )
        )
        assert [item["code"] for item in found["items"]] == ["140900"]
        # Regions are reference data: visible outside the caller's jurisdiction too.
        elsewhere = await _ok(await client.get("/api/v1/directory/regions/370830", headers=headers))
        assert elsewhere["name"] == "汶上县"


async def _workload(client: httpx.AsyncClient, admin: Login, department_id: str) -> dict[str, Any] | None:
    response = await client.get(f"/api/v1/tasks/departments/{department_id}/workload", headers=admin.headers)
    if response.status_code == 200:
        return response.json()  # type: ignore[no-any-return]
    assert response.status_code in (404, 502, 503), response.text
    return None


class TestDepartments:
    async def test_patch_with_if_match_reaches_task_assignment_once(
        self, client: httpx.AsyncClient, planner: Login, admin: Login
    ) -> None:
        name = f"市测试{uuid.uuid4().hex[:8]}局"
        created = await client.post(
            "/api/v1/directory/departments",
            json={"region_code": "140900", "name": name},
            headers=planner.headers,
        )
        assert created.status_code == 201, created.text
        department = created.json()
        url = f"/api/v1/directory/departments/{department['id']}"
        etag = created.headers["etag"]
        assert (await client.get(url, headers=planner.headers)).headers["etag"] == etag

        missing = await client.patch(url, json={"aliases": ["简称"]}, headers=planner.headers)
        assert missing.status_code == 428
        assert missing.json()["code"] == "precondition_required"
        stale = await client.patch(
            url, json={"aliases": ["简称"]}, headers=planner.headers | {"If-Match": '"0"'}
        )
        assert stale.status_code == 412
        assert stale.json()["code"] == "precondition_failed"

        renamed = name.replace("测试", "改名")
        changed = await client.patch(
            url, json={"name": renamed, "aliases": ["简称"]}, headers=planner.headers | {"If-Match": etag}
        )
        body = await _ok(changed)
        assert body["version"] == department["version"] + 1
        assert changed.headers["etag"] == f'"{body["version"]}"'
        again = await client.patch(url, json={"active": False}, headers=planner.headers | {"If-Match": etag})
        assert again.status_code == 412

        # The created and the updated event each reach task-assignment's replica once.
        for _ in range(300):
            seen = await _workload(client, admin, department["id"])
            if seen is not None and seen["name"] == renamed:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the update never reached task-assignment")
        assert seen["history_length"] == 2

    async def test_outside_the_jurisdiction(
        self, system: Stack, client: httpx.AsyncClient, planner: Login
    ) -> None:
        other = login(system, roles=["bureau_planner"], region="140800")
        name = f"市测试{uuid.uuid4().hex[:8]}局"
        created = await client.post(
            "/api/v1/directory/departments",
            json={"region_code": "140900", "name": name},
            headers=planner.headers,
        )
        url = f"/api/v1/directory/departments/{created.json()['id']}"
        assert (await client.get(url, headers=other.headers)).status_code == 404
        patch = await client.patch(url, json={"active": False}, headers=other.headers | {"If-Match": "*"})
        assert patch.status_code == 404

    async def test_seeded_departments_resolve_document_names(
        self, system: Stack, client: httpx.AsyncClient, planner: Login
    ) -> None:
        output = _plan_registry(system, "seed-departments", "--region", "140900")
        assert "140900 忻州市" in output
        assert "0 departments created" in _plan_registry(system, "seed-departments", "--region", "140900")
        names = ["市应急局", "忻州市规划自然资源局", "各县（市、区）人民政府", "县水利局", "市发改委"]
        result = await _ok(
            await client.post(
                "/api/v1/directory/departments/resolve",
                json={"region_code": "140900", "names": names},
                headers=planner.headers,
            )
        )
        assert [(item["name"], item["match"], item["department_name"]) for item in result["items"]] == [
            ("市应急局", "alias", "市应急管理局"),
            ("忻州市规划自然资源局", "normalized", "市自然资源和规划局"),
            ("各县（市、区）人民政府", "group", None),
            ("县水利局", "none", None),
            ("市发改委", "alias", "市发展和改革委员会"),
        ]
