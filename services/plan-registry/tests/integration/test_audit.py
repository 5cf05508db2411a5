"""The audit trail of the plan registry on the real PostgreSQL: an import, an edit and a delete of a
draft are one entry each on the plan (who, before and after, the request id), written by the
database triggers in the write's own transaction, including the deferred `content` the ORM never
loads (shown by its SHA-256); read through GET /api/v1/plans/audit within the jurisdiction."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_tools.audit_probe import audit_entries, signed_headers

from .test_plans import CITY, Api, _draft, _input, api, database, engine  # noqa: F401

pytestmark = pytest.mark.integration
# The fixtures imported above are used as parameters of the same names.
# ruff: noqa: F811


async def _entries(api: Api, **query: str) -> list[dict[str, Any]]:
    auditor = signed_headers(api.private_key, "auditor-p", roles=("evaluator",), region="140900")
    return await audit_entries(api.client, "plans", auditor, **query)


async def test_import_edit_and_delete_are_one_entry_each(api: Api, engine: AsyncEngine) -> None:
    planner = signed_headers(api.private_key, "planner-audit", roles=("bureau_planner",), region="140900")
    created = await api.client.post(
        "/api/v1/plans/imports",
        data={"text": CITY},
        headers={**planner, "X-Request-Id": "req-plan-import"},
    )
    assert created.status_code == 201, created.text
    plan_id = created.json()["plan_id"]

    [entry] = await _entries(api, object_type="plan", object_id=plan_id)
    assert (entry["action"], entry["actor_subject"], entry["request_id"]) == (
        "create",
        "planner-audit",
        "req-plan-import",
    )
    assert entry["region_code"] == "140900"
    assert entry["before"] is None
    assert entry["after"]["doc_number"] == "忻政发〔2021〕8号"
    async with engine.connect() as connection:
        content = await connection.scalar(
            text("SELECT content::text FROM plan WHERE id = :id"), {"id": plan_id}
        )
    assert entry["after"]["content"] == "sha256:" + hashlib.sha256(content.encode()).hexdigest()
    # The uploaded document is recorded in the same request, its text by its SHA-256; it has no
    # region, so national readers see it and the city's do not.
    document_id = entry["after"]["document_id"]
    national = signed_headers(api.private_key, "auditor-cn", roles=("system_admin",), region="000000")
    [document] = await audit_entries(
        api.client, "plans", national, object_type="plan_document", object_id=document_id
    )
    assert (document["action"], document["request_id"]) == ("create", "req-plan-import")
    assert document["after"]["text"].startswith("sha256:")
    assert await _entries(api, object_type="plan_document", object_id=document_id) == []

    response = await api.client.get(f"/api/v1/plans/{plan_id}", headers=planner)
    plan = response.json()
    indicators = plan["indicators"][:1]
    changed = await api.client.patch(
        f"/api/v1/plans/{plan_id}",
        json={"doc_number": "忻政发〔2021〕9号", "indicators": [_input(i) for i in indicators]},
        headers={**planner, "If-Match": response.headers["etag"], "X-Request-Id": "req-plan-edit"},
    )
    assert changed.status_code == 200, changed.text
    update, _ = await _entries(api, object_type="plan", object_id=plan_id)
    assert update["action"] == "update"
    assert update["request_id"] == "req-plan-edit"
    assert (update["before"]["doc_number"], update["after"]["doc_number"]) == (
        "忻政发〔2021〕8号",
        "忻政发〔2021〕9号",
    )
    assert (update["before"]["indicator_count"], update["after"]["indicator_count"]) == (
        entry["after"]["indicator_count"],
        1,
    )
    assert update["before"]["content"] == entry["after"]["content"] != update["after"]["content"]

    deleted = await api.client.delete(
        f"/api/v1/plans/{plan_id}", headers={**planner, "X-Request-Id": "req-del"}
    )
    assert deleted.status_code == 204, deleted.text
    removal, _, _ = await _entries(api, object_type="plan", object_id=plan_id)
    assert (removal["action"], removal["request_id"], removal["after"]) == ("delete", "req-del", None)
    assert removal["before"]["doc_number"] == "忻政发〔2021〕9号"
    # Its region is kept, so the entry stays within the same jurisdiction after the plan is gone.
    assert removal["region_code"] == "140900"


async def test_a_refused_write_leaves_no_entry_and_others_see_nothing(api: Api, engine: AsyncEngine) -> None:
    plan = await _draft(api, CITY, "140900")
    stale = await api.client.patch(
        f"/api/v1/plans/{plan['id']}",
        json={"title": "不应写入"},
        headers={**api.token(), "If-Match": '"99"', "X-Request-Id": "req-plan-stale"},
    )
    assert stale.status_code == 412
    async with engine.connect() as connection:
        rows = await connection.scalar(
            text("SELECT count(*) FROM audit_log WHERE request_id = 'req-plan-stale'")
        )
    assert rows == 0
    beside = signed_headers(api.private_key, "auditor-ty", roles=("system_admin",), region="140100")
    assert await audit_entries(api.client, "plans", beside, object_id=plan["id"]) == []
