"""The whole system, standalone, for tests that go through the gateway like a real client.

Started once per test session on free ports in a temporary directory, with the same runner as
`make run`. With TEST_DATABASE_URL / TEST_NATS_URL it uses those servers instead; the tests that
stop the broker then skip, since the broker is not ours to stop.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import httpx
import jwt
import nats
import orjson
import pytest

from emplan_shared.events import catalogue, payloads
from emplan_shared.events.envelope import CloudEvent
from emplan_tools.stack import Stack


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "after_all_e2e: runs after every other test (it checks what the others left behind)"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A stable sort: everything keeps its order, the `after_all_e2e` tests move to the end.
    items.sort(key=lambda item: item.get_closest_marker("after_all_e2e") is not None)


@pytest.fixture(scope="session")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        tmp_path_factory.mktemp("system"),
        free_ports=True,
        external_database_url=os.environ.get("TEST_DATABASE_URL"),
        external_nats_url=os.environ.get("TEST_NATS_URL"),
    )
    stack.start_all()
    try:
        yield stack
    finally:
        stack.stop_all()


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def create_user(
    system: Stack, *, roles: list[str], region: str, department: str | None = None
) -> tuple[str, str]:
    """An account made the way operators make them: with the gateway's command."""
    username = f"user-{uuid.uuid4().hex[:10]}"
    password = f"Pw-{uuid.uuid4().hex}"
    argv = [
        sys.executable,
        "-m",
        "gateway",
        "create-user",
        "--username",
        username,
        "--region",
        region,
        "--password-stdin",
    ]
    for role in roles:
        argv += ["--role", role]
    if department:
        argv += ["--department", department]
    subprocess.run(argv, input=password + "\n", text=True, env=system.env, check=True, capture_output=True)
    return username, password


def login(system: Stack, *, roles: list[str], region: str = "000000", department: str | None = None) -> Login:
    username, password = create_user(system, roles=roles, region=region, department=department)
    response = httpx.post(
        f"{system.gateway_url}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    response.raise_for_status()
    return Login(username, password, response.json()["access_token"])


@pytest.fixture(scope="session")
def admin(system: Stack) -> Login:
    return login(system, roles=["system_admin"])


@pytest.fixture
async def client(system: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.gateway_url, timeout=30) as client:
        yield client


def expired_token(system: Stack) -> str:
    """A token signed with the real key but expired a minute ago."""
    key = system.jwt_private_key_file.read_text()
    now = int(time.time())
    claims = {
        "iss": "emplan",
        "aud": "emplan",
        "sub": "someone",
        "iat": now - 3600,
        "exp": now - 60,
        "roles": ["system_admin"],
        "region": "000000",
    }
    return jwt.encode(claims, key, algorithm="EdDSA")


async def publish_event(system: Stack, event: CloudEvent) -> None:
    """Put an event on the stack's JetStream as a producer's relay would (message id = event id):
    for what another deployment or a service not under test announces."""
    connection = await nats.connect(system.nats_url)
    try:
        await connection.jetstream().publish(
            event.nats_subject,
            orjson.dumps(event.model_dump(mode="json", exclude_none=True)),
            headers={"Nats-Msg-Id": str(event.id)},
        )
    finally:
        await connection.close()


def plan_published(
    *,
    plan_id: uuid.UUID,
    region_code: str,
    region_name: str,
    title: str,
    indicators: Sequence[payloads.PlanIndicator] = (),
    tasks: Sequence[payloads.PlanTask] = (),
    kind: Literal["plan", "implementation_plan"] = "plan",
    period: tuple[int, int] = (2021, 2025),
    lineage_id: uuid.UUID | None = None,
    published_at: datetime = datetime(2022, 3, 1, tzinfo=UTC),
) -> CloudEvent:
    """The `plan.published` event of a first version the test made up: what the test is about is
    named, the rest of the plan (issuer, number, goals, parent plans) left empty."""
    plan = payloads.PlanPublished(
        plan_id=plan_id,
        lineage_id=lineage_id or uuid.uuid4(),
        version=1,
        supersedes=None,
        region_code=region_code,
        region_name=region_name,
        kind=kind,
        title=title,
        period=payloads.PlanPeriod(start=period[0], end=period[1]),
        issuing_body=None,
        doc_number=None,
        issued_on=None,
        parent_plans=[],
        published_at=published_at,
        published_by="e2e",
        document_sha256=None,
        goals=[],
        indicators=list(indicators),
        tasks=list(tasks),
    )
    return catalogue.PLAN_PUBLISHED.build(plan, subject=f"plan/{plan_id}", region_code=region_code)
