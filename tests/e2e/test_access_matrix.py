"""Who may call what, for every operation in the merged OpenAPI document, generated from the
document itself: a new endpoint is picked up without anyone writing a test for it.

Each operation declares its access rule as the `x-emplan-access` extension
(`openapi_extra=access_rule(...)` from `emplan_shared.auth`): the roles that may call it and its
scope. An operation without one fails `test_every_operation_has_an_access_rule`, unless it is in
`KNOWN_MISSING` (operations that existed before the rule did); that list may only shrink.

Then every role, signed in at a city (140900), calls every operation:
- a role the rule does not name is refused 403 (writes included, with an empty body: the role
  check comes before the body is looked at);
- GETs in `jurisdiction` scope: an object in a county of that city (140902) answers 200, the same
  kind of object in another city (140100) answers 404; lists return only objects inside; `global`
  reference data answers 200 for both; `self` answers the caller; `public` needs no token.
Objects are made through the API (`OBJECTS`); an operation with path parameters and no entry in
`PROBES` is still checked for roles (a placeholder id answers 404 or 200, never 401/403/500).
"""

from __future__ import annotations

import asyncio
import base64
import uuid
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emplan_tools.stack import Stack

from .conftest import Login
from .test_directory import regions  # noqa: F401  (the directory's regions, loaded once a session)

pytestmark = pytest.mark.e2e

ROLES = ["system_admin", "bureau_planner", "department_reporter", "evaluator", "viewer", "machine_client"]
HOME = "140900"  # 忻州市: every caller's region
INSIDE = "140902"  # 忻府区, inside it
OUTSIDE = "140100"  # 太原市, beside it
SCOPES = {"jurisdiction", "global", "self", "public"}

# Rules for operations whose service does not declare `x-emplan-access` yet, written from the
# services' code (the directory and the task service's department replica).
RULES: dict[str, dict[str, Any]] = {
    "createRegion": {"roles": ["system_admin"], "scope": "global"},
    "searchRegions": {"roles": ["any"], "scope": "global"},
    "getRegion": {"roles": ["any"], "scope": "global"},
    "listRegionChildren": {"roles": ["any"], "scope": "global"},
    "listRegionAncestors": {"roles": ["any"], "scope": "global"},
    "createDepartment": {"roles": ["bureau_planner"], "scope": "jurisdiction"},
    "resolveDepartments": {"roles": ["any"], "scope": "jurisdiction"},
    "getDepartment": {"roles": ["any"], "scope": "jurisdiction"},
    "updateDepartment": {"roles": ["bureau_planner"], "scope": "jurisdiction"},
    "listDepartments": {"roles": ["any"], "scope": "jurisdiction"},
    "getDepartmentWorkload": {"roles": ["any"], "scope": "jurisdiction"},
}

# Operations that had no access rule when this test was written. Add `openapi_extra=access_rule(...)`
# to the route (or a line to RULES) and take the name out of this list; never add a name to it.
KNOWN_MISSING: frozenset[str] = frozenset()

# How to reach an object inside and outside the caller's jurisdiction: operationId → the kind of
# object (in OBJECTS) whose id fills which path parameter.
PROBES: dict[str, dict[str, str]] = {
    "getAccount": {"account_id": "account"},
    "getClient": {"client_uuid": "client"},
    "getDepartment": {"department_id": "department"},
    "getDepartmentWorkload": {"department_id": "replicated_department"},
    "getRegion": {"code": "region"},
    "listRegionChildren": {"code": "region"},
    "listRegionAncestors": {"code": "region"},
    # Writes: a permitted role aiming at an object outside its jurisdiction must find nothing.
    "updateAccount": {"account_id": "account"},
    "disableAccount": {"account_id": "account"},
    "enableAccount": {"account_id": "account"},
    "resetAccountPassword": {"account_id": "account"},
    "updateClient": {"client_uuid": "client"},
    "disableClient": {"client_uuid": "client"},
    "enableClient": {"client_uuid": "client"},
    "rotateClientSecret": {"client_uuid": "client"},
    "updateDepartment": {"department_id": "department"},
}
# What a write to an object outside the jurisdiction may answer besides 404: a precondition the
# request lacks is checked first, which tells the caller nothing about the object.
OUTSIDE_WRITE_ALSO = {"updateDepartment": {428}}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    spec: dict[str, Any]

    @property
    def rule(self) -> dict[str, Any] | None:
        return self.spec.get("x-emplan-access") or RULES.get(self.operation_id)

    def __str__(self) -> str:
        return f"{self.method.upper()} {self.path} ({self.operation_id})"


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method, path, op["operationId"], op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "put", "patch", "delete")
    ]


@pytest.fixture(scope="module")
def document(system: Stack) -> dict[str, Any]:
    response = httpx.get(f"{system.gateway_url}/openapi.json", timeout=30)
    assert response.status_code == 200
    assert "emplan-missing-services" not in response.headers, "a service's document is missing"
    return response.json()  # type: ignore[no-any-return]


def test_every_operation_has_an_access_rule(document: dict[str, Any]) -> None:
    ops = operations(document)
    missing = sorted(op.operation_id for op in ops if op.rule is None)
    new = [op for op in ops if op.rule is None and op.operation_id not in KNOWN_MISSING]
    assert not new, (
        "operations without an access rule (add openapi_extra=access_rule(...) from "
        "emplan_shared.auth to the route):\n" + "\n".join(f"  {op}" for op in new)
    )
    fixed = sorted(KNOWN_MISSING - set(missing))
    if fixed:
        warnings.warn(
            f"take these out of KNOWN_MISSING, they have rules now or are gone: {fixed}", stacklevel=1
        )
    for op in ops:
        rule = op.rule
        if rule is None:
            continue
        assert rule.get("scope") in SCOPES, f"{op}: scope {rule.get('scope')!r}"
        unknown = set(rule.get("roles", [])) - set(ROLES) - {"any"}
        assert not unknown, f"{op}: unknown roles {unknown}"
        if rule["scope"] != "public":
            assert rule.get("roles"), f"{op}: a non-public operation names who may call it"


# ---- callers and objects -------------------------------------------------------------------


@dataclass
class Caller:
    role: str
    subject: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


async def _caller(client: httpx.AsyncClient, admin: Login, role: str) -> Caller:
    if role == "machine_client":
        client_id = f"matrix-{uuid.uuid4().hex[:8]}"
        created = await client.post(
            "/api/v1/auth/clients",
            json={"client_id": client_id, "name": "矩阵测试平台", "region_code": HOME},
            headers=admin.headers,
        )
        assert created.status_code == 201, created.text
        basic = base64.b64encode(f"{client_id}:{created.json()['client_secret']}".encode()).decode()
        issued = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        return Caller(role, client_id, issued.json()["access_token"])
    username, password = f"matrix-{uuid.uuid4().hex[:10]}", f"Pw-{uuid.uuid4().hex}"
    created = await client.post(
        "/api/v1/auth/accounts",
        json={
            "username": username,
            "display_name": f"矩阵{role}",
            "roles": [role],
            "region_code": HOME,
            "password": password,
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    issued = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )
    return Caller(role, created.json()["id"], issued.json()["access_token"])


async def _account(client: httpx.AsyncClient, admin: Login, region: str) -> str:
    response = await client.post(
        "/api/v1/auth/accounts",
        json={
            "username": f"obj-{uuid.uuid4().hex[:10]}",
            "display_name": "对象账号",
            "roles": ["viewer"],
            "region_code": region,
            "password": f"Pw-{uuid.uuid4().hex}",
        },
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _client(client: httpx.AsyncClient, admin: Login, region: str) -> str:
    response = await client.post(
        "/api/v1/auth/clients",
        json={"client_id": f"obj-{uuid.uuid4().hex[:8]}", "name": "对象客户端", "region_code": region},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["client"]["id"])


async def _department(client: httpx.AsyncClient, admin: Login, region: str) -> str:
    response = await client.post(
        "/api/v1/directory/departments",
        json={"region_code": region, "name": f"矩阵测试局{uuid.uuid4().hex[:6]}"},
        headers=admin.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _replicated_department(client: httpx.AsyncClient, admin: Login, region: str) -> str:
    """A department that task-assignment has received through `directory.department.created`."""
    department_id = await _department(client, admin, region)
    path = f"/api/v1/tasks/departments/{department_id}/workload"
    for _ in range(200):
        if (await client.get(path, headers=admin.headers)).status_code == 200:
            return department_id
        await asyncio.sleep(0.05)
    raise AssertionError("the department never reached task-assignment")


async def _region(_client: httpx.AsyncClient, _admin: Login, region: str) -> str:
    return region


OBJECTS: dict[str, Callable[[httpx.AsyncClient, Login, str], Awaitable[str]]] = {
    "account": _account,
    "client": _client,
    "department": _department,
    "replicated_department": _replicated_department,
    "region": _region,
}


@dataclass
class World:
    callers: dict[str, Caller]
    objects: dict[tuple[str, str], str]  # (kind, "inside"/"outside") → id


@pytest.fixture(scope="module")
async def world(system: Stack, admin: Login, regions: str) -> World:  # noqa: F811
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        callers = {role: await _caller(client, admin, role) for role in ROLES}
        objects: dict[tuple[str, str], str] = {}
        for kind, make in OBJECTS.items():
            objects[(kind, "inside")] = await make(client, admin, INSIDE)
            objects[(kind, "outside")] = await make(client, admin, OUTSIDE)
    return World(callers, objects)


# ---- the matrix ----------------------------------------------------------------------------


def _placeholder(schema: dict[str, Any], name: str, where: str) -> str:
    if schema.get("pattern") == r"^\d{6}$" or "region" in name or name == "code":
        return INSIDE if where == "inside" else OUTSIDE
    examples = schema.get("examples") or ([schema["example"]] if "example" in schema else [])
    if examples:
        return str(examples[0])
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return str(schema.get("minimum", 2025))
    if schema.get("format") == "date":
        return "2025-12-31"
    if schema.get("type") == "boolean":
        return "true"
    for option in schema.get("anyOf", []):
        if option.get("type") != "null":
            return _placeholder(option, name, where)
    return "x"


def _request(op: Operation, world: World, where: str) -> tuple[str, dict[str, str], bool]:
    """The path and required query for `op` aimed inside or outside; whether objects are real."""
    probe = PROBES.get(op.operation_id, {})
    path = op.path
    query: dict[str, str] = {}
    deep = True
    for parameter in op.spec.get("parameters", []):
        name, schema = parameter["name"], parameter.get("schema", {})
        if parameter["in"] == "path":
            if name in probe:
                value = world.objects[(probe[name], where)]
            else:
                value = _placeholder(schema, name, where)
                deep = False
            path = path.replace("{" + name + "}", value)
        elif parameter["in"] == "query" and parameter.get("required"):
            query[name] = _placeholder(schema, name, where)
    return path, query, deep


def _allowed(rule: dict[str, Any], role: str) -> bool:
    roles = rule.get("roles", [])
    return rule["scope"] == "public" or "any" in roles or role in roles or role == "system_admin"


def _ruled(document: dict[str, Any]) -> list[Operation]:
    return [op for op in operations(document) if op.rule is not None]


@dataclass
class Tally:
    refused: int = 0  # 403 for a role the rule does not name
    inside_outside: int = 0  # 200 inside and 404 outside, on real objects
    lists: int = 0  # lists that kept to the jurisdiction
    outside_writes: int = 0  # writes by permitted roles to objects outside: 404


async def _check(
    client: httpx.AsyncClient, op: Operation, caller: Caller, world: World, tally: Tally
) -> list[str]:
    rule = op.rule
    assert rule is not None
    failures: list[str] = []
    allowed = _allowed(rule, caller.role)
    for where in ("inside", "outside"):
        path, query, deep = _request(op, world, where)
        headers = {} if rule["scope"] == "public" else caller.headers
        if op.method == "get":
            response = await client.get(path, params=query, headers=headers)
        elif allowed:
            # Writes by permitted roles inside are their services' own tests' business; outside,
            # on a real object, they must find nothing (and so change nothing).
            if where == "outside" and deep and "{" in op.path:
                response = await client.request(
                    op.method.upper(), path, params=query, json={}, headers=headers
                )
                expected_statuses = {404} | OUTSIDE_WRITE_ALSO.get(op.operation_id, set())
                if response.status_code not in expected_statuses:
                    failures.append(
                        f"{caller.role} → {op} [outside]: {response.status_code} "
                        f"{response.text[:160]} (expected {sorted(expected_statuses)})"
                    )
                tally.outside_writes += 1
            continue
        else:
            response = await client.request(op.method.upper(), path, params=query, json={}, headers=headers)
        status = response.status_code
        label = f"{caller.role} → {op} [{where}]: {status} {response.text[:160]}"
        if not allowed:
            if status != 403:
                failures.append(f"{label} (expected 403)")
            tally.refused += 1
            continue
        if status in (401, 403) or status >= 500:
            failures.append(f"{label} (allowed role refused or failed)")
            continue
        if not deep:
            if status not in (200, 404):
                failures.append(f"{label} (expected 200 or 404 for a placeholder)")
            continue
        scope = rule["scope"]
        has_path_objects = "{" in op.path
        if scope == "jurisdiction" and has_path_objects:
            expected = 200 if where == "inside" else 404
            if status != expected:
                failures.append(f"{label} (expected {expected})")
            tally.inside_outside += 1
        elif scope == "jurisdiction":
            if status in (404, 422) and where == "outside" and query:
                continue  # a region outside, named in the query, refused
            if status != 200:
                failures.append(f"{label} (expected 200)")
                continue
            tally.lists += 1
            body = response.json()
            for item in body.get("items", []) if isinstance(body, dict) else []:
                region = item.get("region_code") if isinstance(item, dict) else None
                if isinstance(region, str) and not region.startswith(HOME[:4]):
                    failures.append(f"{label} (listed an object of {region})")
                    break
        elif status != 200:
            failures.append(f"{label} (expected 200)")
    return failures


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_what_the_rules_say(
    system: Stack, document: dict[str, Any], world: World, role: str
) -> None:
    caller = world.callers[role]
    tally = Tally()
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        failures: list[str] = []
        for op in _ruled(document):
            failures += await _check(client, op, caller, world, tally)
    assert not failures, "\n".join(failures)
    # Every role reaches departments (inside 200, outside 404) and lists them; only the managers
    # reach accounts and clients, so the other roles are refused there.
    assert tally.inside_outside >= 4, tally
    assert tally.lists >= 1, tally
    if role not in ("system_admin",):
        assert tally.refused >= 10, tally
    if role in ("system_admin", "bureau_planner"):
        assert tally.outside_writes >= 5, tally


async def test_the_matrix_checks_something(document: dict[str, Any]) -> None:
    """Guards the test itself: the deep probes exist and are operations of the document."""
    ids = {op.operation_id for op in operations(document)}
    assert set(PROBES) <= ids, set(PROBES) - ids
    assert len(_ruled(document)) >= 20
