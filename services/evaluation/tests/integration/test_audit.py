"""The audit trail of the evaluation service on the real PostgreSQL: each write through the API is
one entry (who, which object, before and after, the request id), written by the database triggers
in the write's own transaction; a refused write leaves none; the trail is read through
GET /api/v1/evaluations/audit within the reader's jurisdiction and can be changed by nobody."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_tools.testing import audit_entries, signed_headers

from .test_rounds import CITY, Api, api, database, engine, publish_plan, sessionmaker  # noqa: F401

pytestmark = pytest.mark.integration
# The fixtures imported above are used as parameters of the same names.
# ruff: noqa: F811


def _token(api: Api, subject: str, *, roles: tuple[str, ...], region: str) -> dict[str, str]:
    return signed_headers(api.private_key, subject, roles=roles, region=region)


async def _entries(api: Api, headers: dict[str, str], **query: str) -> list[dict[str, Any]]:
    return await audit_entries(api.client, "evaluations", headers, **query)


async def test_a_write_is_one_entry_with_before_after_and_request_id(
    api: Api,
    engine: AsyncEngine,
    sessionmaker,
) -> None:
    plan_id = await publish_plan(sessionmaker)
    planner_id = f"planner-{uuid.uuid4().hex[:8]}"
    planner = _token(api, planner_id, roles=("bureau_planner",), region=CITY)
    auditor = _token(api, "auditor-1", roles=("evaluator",), region=CITY)

    # The plan replica arrived through the consumer: recorded as the system's doing.
    plan_entries = await _entries(api, auditor, object_type="plan", object_id=str(plan_id))
    assert [(e["action"], e["actor_kind"], e["actor_subject"]) for e in plan_entries] == [
        ("create", "system", None)
    ]

    created = await api.client.post(
        "/api/v1/evaluations/rounds",
        json={"plan_id": str(plan_id), "kind": "mid_term", "reference_date": "2023-06-30"},
        headers={**planner, "X-Request-Id": "req-audit-create-1"},
    )
    assert created.status_code == 201, created.text
    round_id = created.json()["id"]

    [entry] = await _entries(api, auditor, object_type="evaluation_round", object_id=round_id)
    assert entry["action"] == "create"
    assert entry["actor_subject"] == planner_id
    assert entry["actor_kind"] == "user"
    assert entry["actor_name"] == "审计测试"
    assert entry["request_id"] == "req-audit-create-1"
    assert entry["region_code"] == CITY
    assert entry["before"] is None
    assert entry["after"]["reference_date"] == "2023-06-30"
    assert entry["after"]["plan_id"] == str(plan_id)
    assert entry["after"]["status"] == "draft"

    # A change: one more entry, the old and new values side by side.
    path = f"/api/v1/evaluations/rounds/{round_id}"
    etag = (await api.client.get(path, headers=planner)).headers["etag"]
    changed = await api.client.patch(
        path,
        json={"title": "忻州市中期评估（审计）"},
        headers={**planner, "If-Match": etag, "X-Request-Id": "req-audit-update-1"},
    )
    assert changed.status_code == 200, changed.text
    entries = await _entries(api, auditor, object_type="evaluation_round", object_id=round_id)
    assert [e["action"] for e in entries] == ["update", "create"]  # newest first
    update = entries[0]
    assert update["request_id"] == "req-audit-update-1"
    assert update["before"]["title"] == entry["after"]["title"]
    assert update["after"]["title"] == "忻州市中期评估（审计）"
    assert update["before"]["version"] + 1 == update["after"]["version"]

    # A refused write (stale If-Match) leaves no entry.
    stale = await api.client.patch(
        path, json={"title": "不应写入"}, headers={**planner, "If-Match": etag, "X-Request-Id": "req-stale"}
    )
    assert stale.status_code == 412, stale.text
    async with engine.connect() as connection:
        count = await connection.scalar(
            text("SELECT count(*) FROM audit_log WHERE object_id = :id"), {"id": round_id}
        )
        stale_rows = await connection.scalar(
            text("SELECT count(*) FROM audit_log WHERE request_id = 'req-stale'")
        )
    assert (count, stale_rows) == (2, 0)

    # Queryable by person and by time.
    by_person = await _entries(api, auditor, actor=planner_id)
    assert {e["request_id"] for e in by_person} == {"req-audit-create-1", "req-audit-update-1"}
    assert await _entries(api, auditor, actor=planner_id, since="2999-01-01T00:00:00+08:00") == []


async def test_the_trail_is_read_within_the_jurisdiction_and_by_readers_only(
    api: Api,
    engine: AsyncEngine,
    sessionmaker,
) -> None:
    plan_id = await publish_plan(sessionmaker, region="140100")  # 太原市, beside the city under test
    outside = _token(api, "auditor-2", roles=("evaluator",), region=CITY)
    assert await _entries(api, outside, object_type="plan", object_id=str(plan_id)) == []
    province = _token(api, "auditor-3", roles=("evaluator",), region="140000")
    assert len(await _entries(api, province, object_type="plan", object_id=str(plan_id))) == 1

    planner = _token(api, "planner-x", roles=("bureau_planner",), region=CITY)
    refused = await api.client.get("/api/v1/evaluations/audit", headers=planner)
    assert refused.status_code == 403
    assert refused.json()["code"] == "role_required"

    # No route changes the trail, and the database refuses it to whoever connects.
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        response = await api.client.request(method, "/api/v1/evaluations/audit", headers=province, json={})
        assert response.status_code == 405, (method, response.text)
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text("UPDATE audit_log SET actor_subject = 'forged'"))


async def test_a_refused_token_sent_to_the_service_directly_is_in_its_trail(api: Api) -> None:
    now = int(time.time())
    claims = {
        "iss": "emplan",
        "aud": "emplan",
        "sub": "replayed-caller",
        "iat": now - 1200,
        "exp": now - 600,
        "roles": ["system_admin"],
        "region": CITY,
    }
    expired = jwt.encode(claims, api.private_key, algorithm="EdDSA")
    for _ in range(3):  # a client retrying: one entry a minute, not one per request
        response = await api.client.get(
            "/api/v1/evaluations/rounds", headers={"Authorization": f"Bearer {expired}"}
        )
        assert response.status_code == 401
        assert response.json()["code"] == "token_expired"
    auditor = _token(api, "auditor-4", roles=("evaluator",), region=CITY)
    [entry] = await _entries(api, auditor, action="token_refused", object_id="replayed-caller")
    assert (entry["actor_kind"], entry["object_type"], entry["region_code"]) == ("anonymous", "token", CITY)
    assert entry["after"]["reason"] == "token_expired"
    assert entry["after"]["claimed_subject"] == "replayed-caller"
