"""The audit trail of the plan registry on the real PostgreSQL: an import, an edit and a delete of a
draft are one entry each on the plan (who, before and after, the request id), written by the
database triggers in the write's own transaction, including the deferred `content` the ORM never
loads (shown by its SHA-256); read through GET /api/v1/plans/audit within the jurisdiction. A region
named outside the caller's jurisdiction is an entry of its own, once a minute."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import httpx
import pytest
from sqlalchemy import MetaData, Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from emplan_shared.audit.refusals import RegionRefusalAuditor
from emplan_shared.audit.tables import audit_columns
from emplan_tools.testing import audit_entries, signed_headers

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


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_region_outside_the_jurisdiction_is_one_entry_a_minute(api: Api) -> None:
    """A filter (404) and a body field (422) naming a region outside the caller's jurisdiction:
    problem+json naming the field, and one `region_refused` entry per caller, region and field a
    minute, written although the request's transaction rolled back; at most `per_actor` a minute
    per caller; and a trail that cannot be written leaves the refusal as it was (no 500)."""
    auditor = cast(httpx.ASGITransport, api.client._transport).app.state.on_region_refused  # type: ignore[attr-defined]
    assert isinstance(auditor, RegionRefusalAuditor)
    prober_id = f"prober-{uuid.uuid4().hex[:8]}"
    prober = signed_headers(api.private_key, prober_id, roles=("bureau_planner",), region="140900")
    started = datetime.now(UTC) - timedelta(seconds=1)
    for attempt in range(2):
        listed = await api.client.get(
            "/api/v1/plans",
            params={"region_code": "140100"},
            headers={**prober, "X-Request-Id": f"req-probe-list-{attempt}"},
        )
        assert (listed.status_code, listed.headers["content-type"]) == (404, "application/problem+json")
        assert listed.json()["code"] == "region_not_found"
        assert [e["field"] for e in listed.json()["errors"]] == ["query.region_code"]
        created = await api.client.post(
            "/api/v1/directory/departments",
            json={"region_code": "140100", "name": "越权应急管理局"},
            headers={**prober, "X-Request-Id": f"req-probe-create-{attempt}"},
        )
        assert (created.status_code, created.json()["code"]) == (422, "unknown_region")
        assert [e["field"] for e in created.json()["errors"]] == ["body.region_code"]
    # A region inside the jurisdiction that does not exist is a typo, not a refusal: no entry.
    typo = await api.client.post(
        "/api/v1/directory/departments", json={"region_code": "140999", "name": "某局"}, headers=prober
    )
    assert (typo.status_code, typo.json()["code"]) == (422, "unknown_region")

    entries = await _entries(api, actor=prober_id, action="region_refused", since=started.isoformat())
    assert sorted(
        (
            e["object_type"],
            e["object_id"],
            e["region_code"],
            e["request_id"],
            e["actor_kind"],
            e["after"]["field"],
            e["after"]["method"],
            e["after"]["operation"],
            e["after"]["reason"],
            e["after"]["status"],
        )
        for e in entries
    ) == [
        ("region", "140100", "140900", "req-probe-create-0", "user", "body.region_code", "POST",
         "createDepartment", "unknown_region", 422),
        ("region", "140100", "140900", "req-probe-list-0", "user", "query.region_code", "GET",
         "listPlans", "region_not_found", 404),
    ]  # fmt: skip
    later = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    assert await _entries(api, actor=prober_id, action="region_refused", since=later) == []

    # A caller walking the region list: at most `per_actor` entries a minute, then the count of
    # what went unrecorded in its next entry.
    saved = (auditor.clock, auditor.per_actor)
    clock = _Clock()
    auditor.clock, auditor.per_actor = clock, 2
    walker_id = f"walker-{uuid.uuid4().hex[:8]}"
    walker = signed_headers(api.private_key, walker_id, roles=("viewer",), region="140900")
    try:
        for region in ("140100", "140200", "140300", "140400", "140500"):
            refused = await api.client.get("/api/v1/plans", params={"region_code": region}, headers=walker)
            assert refused.status_code == 404
        clock.now += 61
        refused = await api.client.get("/api/v1/plans", params={"region_code": "140600"}, headers=walker)
        assert refused.status_code == 404
    finally:
        auditor.clock, auditor.per_actor = saved
    walked = await _entries(api, actor=walker_id, action="region_refused")
    assert [(e["object_id"], e["after"].get("unrecorded_before")) for e in walked] == [
        ("140600", 3),
        ("140200", None),
        ("140100", None),
    ]

    # The trail cannot be written (here: a table that is not there): still 404, not 500.
    saved_table = auditor.table
    auditor.table = Table("audit_log_missing", MetaData(), *audit_columns())
    try:
        refused = await api.client.get(
            "/api/v1/plans",
            params={"region_code": "140100"},
            headers=signed_headers(
                api.private_key, f"other-{uuid.uuid4().hex[:8]}", roles=("viewer",), region="140900"
            ),
        )
    finally:
        auditor.table = saved_table
    assert (refused.status_code, refused.json()["code"]) == (404, "region_not_found")
