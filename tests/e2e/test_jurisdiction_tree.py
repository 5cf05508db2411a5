"""Issue 7's proof, the visibility half: a province with two cities of two counties each (青海
630000: 西宁市 630100 with 城东区 630102 and 城中区 630103, 海东市 630200 with 乐都区 630202 and
平安区 630203), a department, a published plan (so tasks), a data value and a published evaluation
round in every one of its seven regions, and accounts at the province, a city, a county and a
machine client at a city. Each sees exactly its subtree through every list, get, export and exchange
endpoint; an object outside answers 404 problem+json; a region parameter outside is refused 404
problem+json by every list, the exchange, the task counts and the indicator results, and is one entry in
the refusing service's audit trail a minute (a filter and a body field). Lists, gets and exports
are tables; `test_the_tables_cover_every_jurisdiction_get` fails when a jurisdiction-scoped GET of the
OpenAPI document is in none of them.

The other half of the proof (a machine client pulls, the data change, it pulls again and gets exactly
the change; an interrupted stream resumes with no gap and no repeat) is tests/e2e/test_exchange.py.

青海 is used by no other e2e test, so what is listed under 63 is all this module made; the expected
subtrees are computed from `TREE` below, never from the API.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from emplan_tools.stack import Stack

from .conftest import Login
from .test_access_matrix import operations
from .test_directory import regions  # noqa: F401  (the directory's regions, loaded once a session)

pytestmark = pytest.mark.e2e

TREE = {"630000": ["630100", "630200"], "630100": ["630102", "630103"], "630200": ["630202", "630203"]}
NAMES = {
    "630000": "青海省",
    "630100": "西宁市",
    "630102": "城东区",
    "630103": "城中区",
    "630200": "海东市",
    "630202": "乐都区",
    "630203": "平安区",
}
ALL = frozenset(NAMES)
ACCOUNTS = [
    "province",
    "city",
    "county",
    "platform",
]  # evaluators at 630000, 630100, 630102; a client at 630100
SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "services"
    / "evaluation"
    / "tests"
    / "data"
    / "city_midterm_snapshot.json"
)
ROUNDS = "/api/v1/evaluations/rounds"


def subtree(code: str) -> frozenset[str]:
    return frozenset({code}).union(*(subtree(child) for child in TREE.get(code, [])))


@dataclass(frozen=True)
class Party:
    role: str
    region: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class World:
    planner: Party
    accounts: dict[str, Party]
    objects: dict[str, dict[str, str]] = field(default_factory=dict)  # kind → region → id
    document: dict[str, Any] = field(default_factory=dict)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.request.url}: {response.status_code} {response.text}"
    return response.json()


async def _person(client: httpx.AsyncClient, admin: Login, role: str, region: str) -> Party:
    username, password = f"tree-{uuid.uuid4().hex[:10]}", f"Pw-{uuid.uuid4().hex}"
    body = {"username": username, "display_name": f"{NAMES[region]}{role}", "roles": [role]}
    await _ok(
        await client.post(
            "/api/v1/auth/accounts",
            json=body | {"region_code": region, "password": password},
            headers=admin.headers,
        ),
        201,
    )
    issued = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )
    return Party(role, region, (await _ok(issued))["access_token"])


async def _machine(client: httpx.AsyncClient, admin: Login, region: str) -> Party:
    client_id = f"tree-{uuid.uuid4().hex[:8]}"
    created = await _ok(
        await client.post(
            "/api/v1/auth/clients",
            json={"client_id": client_id, "name": f"{NAMES[region]}平台", "region_code": region},
            headers=admin.headers,
        ),
        201,
    )
    basic = base64.b64encode(f"{client_id}:{created['client_secret']}".encode()).decode()
    issued = await client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    return Party("machine_client", region, (await _ok(issued))["access_token"])


def _plan_text(region: str) -> str:
    name = NAMES[region]
    return "\n".join(
        [
            f"{name}“十四五”应急管理规划",
            "一、主要目标",
            "“十四五”核心指标",
            "序号\t指标内容\t2020年现状值\t2025年目标值\t指标性质\t责任单位",
            "1\t生产安全事故死亡人数\t10\t下降10%\t约束性\t应急管理局",
            "二、重点任务",
            "1.完善指挥体制。2023年底前建立应急指挥部。（应急管理局牵头）",
        ]
    )


async def _until(probe: Any, what: str, tries: int = 300) -> Any:
    for _ in range(tries):
        result = await probe()
        if result is not None:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} never happened")


async def _region_objects(
    client: httpx.AsyncClient, admin: Login, planner: Party, region: str
) -> dict[str, str]:
    """One of everything in `region`: department, published plan (its task), data value, published round."""
    department = await _ok(
        await client.post(
            "/api/v1/directory/departments",
            json={"region_code": region, "name": f"{NAMES[region]}应急管理局"},
            headers=admin.headers,
        ),
        201,
    )
    imported = await _ok(
        await client.post(
            "/api/v1/plans/imports",
            data={"text": _plan_text(region), "region_code": region},
            headers=planner.headers,
        ),
        201,
    )
    plan_id = imported["plan_id"]
    await _ok(await client.post(f"/api/v1/plans/{plan_id}/publish", headers=planner.headers))
    value = await _ok(
        await client.post(
            "/api/v1/indicators/values",
            json={"element_code": "ps_deaths", "region_code": region, "year": 2022, "value": "5"},
            headers=planner.headers,
        ),
        201,
    )

    async def ledger() -> Any:
        response = await client.get(f"/api/v1/tasks/plans/{plan_id}/ledger", headers=planner.headers)
        return response.json() if response.status_code == 200 else None

    rows = (await _until(ledger, f"the ledger of {region}"))["rows"]

    async def opened() -> Any:
        body = {"plan_id": plan_id, "kind": "mid_term", "reference_date": "2023-06-30"}
        response = await client.post(ROUNDS, json=body, headers=planner.headers)
        if response.status_code == 422 and response.json()["code"] == "plan_not_published":
            return None
        return await _ok(response, 201)

    round_id = (await _until(opened, f"the evaluation of {region}'s plan"))["id"]
    snapshot = json.loads(SAMPLE.read_text())
    snapshot["plan"].update(plan_id=plan_id, region_code=region, region_name=NAMES[region])
    snapshot["reference_date"] = "2023-06-30"
    for line in (*snapshot["targets"][:1], *snapshot["tasks"][:1]):
        line.update(region_code=region, region_name=NAMES[region])
    snapshot.update(targets=snapshot["targets"][:1], tasks=snapshot["tasks"][:1])
    await _ok(await client.post(f"{ROUNDS}/{round_id}/snapshot", json=snapshot, headers=admin.headers))
    for step in ("submit", "approve", "publish"):
        await _ok(await client.post(f"{ROUNDS}/{round_id}/{step}", headers=planner.headers))

    async def replicated() -> Any:
        path = f"/api/v1/tasks/departments/{department['id']}/workload"
        return True if (await client.get(path, headers=admin.headers)).status_code == 200 else None

    await _until(replicated, f"{region}'s department in task-assignment")
    return {
        "department": department["id"],
        "plan": plan_id,
        "task": rows[0]["task_id"],
        "value": str(value["id"]),
        "round": round_id,
    }


@pytest.fixture(scope="module")
async def world(system: Stack, admin: Login, regions: str) -> World:  # noqa: F811
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=60) as client:
        planner = await _person(client, admin, "bureau_planner", "630000")
        made, people = await asyncio.gather(
            asyncio.gather(*(_region_objects(client, admin, planner, r) for r in sorted(ALL))),
            asyncio.gather(
                _person(client, admin, "evaluator", "630000"),
                _person(client, admin, "evaluator", "630100"),
                _person(client, admin, "evaluator", "630102"),
                _machine(client, admin, "630100"),
            ),
        )
        objects: dict[str, dict[str, str]] = {}
        for region, ids in zip(sorted(ALL), made, strict=True):
            for kind, object_id in ids.items():
                objects.setdefault(kind, {})[region] = object_id

        async def targets() -> Any:
            # Each plan's one indicator becomes a target in indicator-engine (from plan.published).
            response = await client.get(
                "/api/v1/indicators/targets", params={"limit": 500}, headers=planner.headers
            )
            items = (await _ok(response))["items"]
            return {t["region_code"]: t["id"] for t in items} if len(items) == len(ALL) else None

        objects["target"] = await _until(targets, "the targets of the seven plans")
        document = await _ok(await client.get("/openapi.json"))
    return World(planner, dict(zip(ACCOUNTS, people, strict=True)), objects, document)


# ---- the tables -----------------------------------------------------------------------------

# Lists: path, how to read the regions of what it answered, and the parameter naming a region
# (with whether it means that region and everything below it, or that region only).


def _items(body: Any) -> list[str | None]:
    return [
        item["region_code"] if "region_code" in item else item["region"]["code"] for item in body["items"]
    ]


def _sdmx(body: Any) -> list[str | None]:
    dimension = body["data"]["structures"][0]["dimensions"]["observation"][1]
    assert dimension["id"] == "REF_AREA"
    return [value["id"] for value in dimension["values"]]


@dataclass(frozen=True)
class Listing:
    path: str
    regions: Callable[[Any], list[str | None]] = _items  # the region codes of what it answered
    param: str | None = None
    below: bool = True  # the parameter means the region and everything below it
    made_in: frozenset[str] = ALL  # the regions this module wrote something of the kind in
    params: tuple[tuple[str, str], ...] = ()
    refuses: bool = True  # a region outside is refused 404; False: the filter meets the jurisdiction


LISTS = [
    Listing("/api/v1/directory/departments", param="region_code", below=False),
    Listing("/api/v1/plans", param="region_code"),
    Listing("/api/v1/indicators/values", param="below"),
    Listing("/api/v1/indicators/values", param="region_code", below=False),
    Listing("/api/v1/indicators/targets", param="region", below=False),
    Listing(ROUNDS),
    Listing("/api/v1/exchange/data-values", param="region"),
    Listing("/api/v1/exchange/data-values.sdmx.json", _sdmx, param="region"),
    Listing("/api/v1/exchange/plans", param="region"),
    Listing("/api/v1/exchange/tasks", param="region"),
    Listing("/api/v1/exchange/evaluations", param="region"),
    # (The directory's regions are audited too: the whole of 青海 was loaded, so plans and departments.)
    Listing("/api/v1/plans/audit", params=(("object_type", "plan"),)),
    Listing("/api/v1/plans/audit", params=(("object_type", "department"),)),
    Listing("/api/v1/tasks/audit"),
    Listing("/api/v1/indicators/audit"),
    Listing("/api/v1/evaluations/audit"),
    # The gateway's trail: this module made accounts at the province, 西宁 and 城东, a client at 西宁.
    Listing("/api/v1/auth/audit", made_in=frozenset({"630000", "630100", "630102"})),
    Listing("/api/v1/auth/accounts", made_in=frozenset({"630000", "630100", "630102"})),
    Listing("/api/v1/auth/clients", made_in=frozenset({"630100"})),
]

# Gets: the kind of object (one in every region) → the paths that read it or export it.
GETS = {
    "department": [
        "/api/v1/directory/departments/{}",
        "/api/v1/tasks/departments/{}/tasks",
        "/api/v1/tasks/departments/{}/workload",
    ],
    "plan": [
        "/api/v1/plans/{}",
        "/api/v1/plans/{}/alignment",
        "/api/v1/plans/{}/versions",
        "/api/v1/tasks/plans/{}/ledger",
        "/api/v1/tasks/plans/{}/ledger?format=xlsx",
        "/api/v1/tasks/plans/{}/counts",
        "/api/v1/tasks/plans/{}/light-rules",
    ],
    "task": [
        "/api/v1/tasks/{}",
        "/api/v1/tasks/{}/progress",
        "/api/v1/tasks/{}/reports",
        "/api/v1/tasks/{}/subtasks",
    ],
    "value": ["/api/v1/indicators/values/{}", "/api/v1/indicators/values/{}/history"],
    "target": ["/api/v1/indicators/targets/{}", "/api/v1/indicators/targets/{}/progress"],
    "round": [
        ROUNDS + "/{}",
        ROUNDS + "/{}/scores",
        ROUNDS + "/{}/measures",
        ROUNDS + "/{}/report.html",
        ROUNDS + "/{}/report.xlsx",
        ROUNDS + "/{}/report.docx",
    ],
}

# A region in the path or a required parameter: answered inside, 404 outside.
BY_REGION = [
    "/api/v1/tasks/regions/{}/counts",
    "/api/v1/indicators/results?indicator=ps_deaths&year=2022&region={}",
    "/api/v1/indicators/results/breakdown?indicator=ps_deaths&year=2022&region={}",
]

# Jurisdiction-scoped GETs this module does not reach, and why. Every other one must be in a table
# above (`test_the_tables_cover_every_jurisdiction_get`), so a new endpoint is not forgotten here.
NOT_HERE = {
    "/api/v1/tasks/{task_id}/reports/{report_id}/evidence/{evidence_id}": "needs evidence: test_task_work.py",
    "/api/v1/auth/accounts/{account_id}": "managers only: test_access_matrix.py reaches in and out",
    "/api/v1/auth/clients/{client_uuid}": "managers only: test_access_matrix.py reaches in and out",
    "/api/v1/evaluations/schemes": "no scoring scheme is made here",
    "/api/v1/evaluations/schemes/{scheme_id}": "no scoring scheme is made here",
}
ELSEWHERE = "620000"  # 甘肃省: beside the province


def _parent(region: str) -> str | None:
    return next((parent for parent, children in TREE.items() if region in children), None)


def _probes(region: str) -> tuple[list[str], list[str]]:
    """Regions to name in a parameter: inside (itself, a child) and outside (above, beside, elsewhere)."""
    parent = _parent(region)
    sibling = next((c for c in TREE.get(parent or "", []) if c != region), None)
    inside = [region, *TREE.get(region, [])[:1]]
    return inside, [code for code in (parent, sibling, ELSEWHERE) if code is not None]


def _rule(document: dict[str, Any], path: str) -> dict[str, Any]:
    template = path.split("?")[0]
    for op in operations(document):
        if op.method == "get" and _matches(op.path, template):
            return op.rule or {"roles": ["any"], "scope": "jurisdiction"}
    raise AssertionError(f"{path} is not in the OpenAPI document")


def _matches(template: str, path: str) -> bool:
    a, b = template.split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or (x[:1], y) == ("{", "{}") for x, y in zip(a, b, strict=True))


def _allowed(document: dict[str, Any], path: str, who: Party) -> bool:
    roles = _rule(document, path)["roles"]
    return "any" in roles or who.role in roles


def _refused(response: httpx.Response, status: int, label: str) -> str | None:
    if response.status_code != status:
        return f"{label}: {response.status_code} {response.text[:200]} (expected {status})"
    if response.headers["content-type"] != "application/problem+json":
        return f"{label}: {response.headers['content-type']} (expected problem+json)"
    return None


async def _check_list(client: httpx.AsyncClient, world: World, who: Party, listing: Listing) -> list[str]:
    failures: list[str] = []
    label = f"{who.role}@{who.region} GET {listing.path}" + "".join(f" {k}={v}" for k, v in listing.params)
    headers = who.headers
    if not _allowed(world.document, listing.path, who):
        response = await client.get(listing.path, headers=headers)
        return [f] if (f := _refused(response, 403, label)) else []
    response = await client.get(listing.path, params={"limit": 500, **dict(listing.params)}, headers=headers)
    if response.status_code != 200:
        return [f"{label}: {response.status_code} {response.text[:200]}"]
    seen = set(listing.regions(response.json()))
    expected = subtree(who.region) & listing.made_in
    if seen != expected:
        failures.append(f"{label}: regions {sorted(seen, key=str)} (expected {sorted(expected)})")
    if listing.param is None:
        return failures
    inside, outside = _probes(who.region)
    for region in inside if listing.refuses else inside + outside:
        params = {listing.param: region, "limit": 500}
        response = await client.get(listing.path, params=params, headers=headers)
        wanted = (subtree(region) if listing.below else {region}) & expected
        if response.status_code != 200 or set(listing.regions(response.json())) != wanted:
            failures.append(f"{label}?{listing.param}={region}: {response.status_code} {response.text[:200]}")
    for region in outside if listing.refuses else []:
        response = await client.get(listing.path, params={listing.param: region}, headers=headers)
        if f := _refused(response, 404, f"{label}?{listing.param}={region}"):
            failures.append(f)
    return failures


async def _expect(client: httpx.AsyncClient, who: Party, path: str, inside: bool, label: str) -> str | None:
    response = await client.get(path, headers=who.headers)
    if not inside:
        return _refused(response, 404, label)
    return None if response.status_code == 200 else f"{label}: {response.status_code} {response.text[:200]}"


async def _check_gets(client: httpx.AsyncClient, world: World, who: Party) -> list[str]:
    """The first path of each kind on the object of every region; the others on the objects of the
    regions `_probes` names (itself and a child; above and beside)."""
    inside, outside = _probes(who.region)
    probed = set(inside + outside)
    checks = []
    for kind, paths in GETS.items():
        for region, object_id in sorted(world.objects[kind].items()):
            for path in paths if region in probed else paths[:1]:
                label = f"{who.role}@{who.region} GET {path} ({kind} of {region})"
                checks.append(
                    _expect(client, who, path.format(object_id), region in subtree(who.region), label)
                )
    for path in BY_REGION:
        for region in inside + outside:
            label = f"{who.role}@{who.region} GET {path.format(region)}"
            checks.append(_expect(client, who, path.format(region), region in inside, label))
    return [failure for failure in await asyncio.gather(*checks) if failure]


# ---- the tests ------------------------------------------------------------------------------


def test_the_tree() -> None:
    """The expected subtrees, worked out by hand."""
    assert subtree("630000") == ALL
    assert subtree("630100") == {"630100", "630102", "630103"}
    assert subtree("630102") == {"630102"}
    assert ALL - subtree("630102") == {"630000", "630100", "630103", "630200", "630202", "630203"}
    assert _probes("630000") == (["630000", "630100"], ["620000"])
    assert _probes("630100") == (["630100", "630102"], ["630000", "630200", "620000"])
    assert _probes("630102") == (["630102"], ["630100", "630103", "620000"])


@pytest.mark.parametrize("account", ACCOUNTS)
async def test_each_account_sees_exactly_its_subtree(
    client: httpx.AsyncClient, world: World, account: str
) -> None:
    who = world.accounts[account]
    results = await asyncio.gather(
        *(_check_list(client, world, who, listing) for listing in LISTS), _check_gets(client, world, who)
    )
    failures = [failure for result in results for failure in result]
    assert not failures, "\n".join(failures)


def test_the_tables_cover_every_jurisdiction_get(world: World) -> None:
    covered = {listing.path for listing in LISTS} | {p.split("?")[0] for p in BY_REGION}
    covered |= {p.split("?")[0] for paths in GETS.values() for p in paths}
    missing = []
    for op in operations(world.document):
        rule = op.rule or {"scope": "jurisdiction"}
        if op.method != "get" or rule["scope"] != "jurisdiction" or op.path in NOT_HERE:
            continue
        if not any(_matches(op.path, path) for path in covered):
            missing.append(op.path)
    assert not missing, f"jurisdiction-scoped GETs in no table of this module: {missing}"


async def test_a_refused_region_is_one_entry_in_the_refusing_services_trail(
    client: httpx.AsyncClient, admin: Login
) -> None:
    """Through the gateway, a county's planner names a region beside its own twice in a filter
    (plan-registry, 404) and twice in a body field (indicator-engine, 403): each service's trail
    holds exactly one `region_refused` entry, under the county, found by actor and time."""
    planner = await _person(client, admin, "bureau_planner", "630102")
    subject = jwt.decode(planner.token, options={"verify_signature": False})["sub"]
    since = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()  # the services share this clock
    value = {"element_code": "ps_deaths", "region_code": "630103", "year": 2022, "value": "1"}
    for attempt in range(2):
        listed = await client.get("/api/v1/plans", params={"region_code": "630203"}, headers=planner.headers)
        written = await client.post("/api/v1/indicators/values", json=value, headers=planner.headers)
        for response, status, code, field_name in (
            (listed, 404, "region_not_found", "query.region_code"),
            (written, 403, "outside_jurisdiction", "body.region_code"),
        ):
            assert _refused(response, status, f"attempt {attempt}") is None, response.text
            body = response.json()
            assert (body["code"], [e["field"] for e in body["errors"]]) == (code, [field_name])
    for area, region, field_name, status in (
        ("plans", "630203", "query.region_code", 404),
        ("indicators", "630103", "body.region_code", 403),
    ):
        params = {"actor": subject, "action": "region_refused", "since": since}
        trail = await _ok(await client.get(f"/api/v1/{area}/audit", params=params, headers=admin.headers))
        assert [
            (e["object_type"], e["object_id"], e["region_code"], e["after"]["field"], e["after"]["status"])
            for e in trail["items"]
        ] == [("region", region, "630102", field_name, status)], area
