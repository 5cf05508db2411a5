"""The audit trail of the indicator engine on the real PostgreSQL: a value entered and corrected
through the API is one entry per write with its exact decimals, and a bulk load, which writes with
COPY and `INSERT … SELECT` on the raw connection, is recorded too, with the caller and the request
id; read through GET /api/v1/indicators/audit within the jurisdiction."""

from __future__ import annotations

import pytest

from emplan_tools.testing import audit_entries, signed_headers

from .test_data_values import CITY, DINGXIANG, VALUES, XINFU, Api, api, database, engine  # noqa: F401

pytestmark = pytest.mark.integration
# The fixtures imported above are used as parameters of the same names.
# ruff: noqa: F811


async def test_entry_correction_and_bulk_load_are_recorded(api: Api) -> None:
    reporter = signed_headers(api.private_key, "reporter-xf", roles=("department_reporter",), region=XINFU)
    auditor = signed_headers(api.private_key, "auditor-xz", roles=("evaluator",), region=CITY)
    value = {"element_code": "gdp", "region_code": XINFU, "year": 2019, "source": "统计年鉴"}
    first = await api.client.post(
        VALUES, json={**value, "value": "4567.891"}, headers={**reporter, "X-Request-Id": "req-value-1"}
    )
    assert first.status_code == 201, first.text
    value_id = str(first.json()["id"])
    [created] = await audit_entries(
        api.client, "indicators", auditor, object_type="data_value", object_id=value_id
    )
    assert (created["action"], created["actor_subject"], created["request_id"]) == (
        "create",
        "reporter-xf",
        "req-value-1",
    )
    assert created["region_code"] == XINFU
    # Exact: a decimal comes back as the string written, never a float.
    assert (created["after"]["value"], created["after"]["year"]) == ("4567.891", 2019)

    fixed = await api.client.post(
        VALUES, json={**value, "value": "4567.9"}, headers={**reporter, "X-Request-Id": "req-value-2"}
    )
    assert fixed.status_code == 200, fixed.text
    update, _ = await audit_entries(
        api.client, "indicators", auditor, object_type="data_value", object_id=value_id
    )
    assert (update["action"], update["request_id"]) == ("update", "req-value-2")
    assert (update["before"]["value"], update["after"]["value"]) == ("4567.891", "4567.9")
    assert (update["before"]["version"], update["after"]["version"]) == (1, 2)

    # The same figure again changes nothing, and records nothing.
    same = await api.client.post(
        VALUES, json={**value, "value": "4567.90"}, headers={**reporter, "X-Request-Id": "req-value-3"}
    )
    assert same.status_code == 200, same.text
    entries = await audit_entries(
        api.client, "indicators", auditor, object_type="data_value", object_id=value_id
    )
    assert len(entries) == 2

    city = signed_headers(api.private_key, "planner-xz", roles=("bureau_planner",), region=CITY)
    loaded = await api.client.post(
        f"{VALUES}/bulk",
        json={
            "values": [
                {"element_code": "gdp", "region_code": XINFU, "year": 2018, "value": "4100.5"},
                {"element_code": "gdp", "region_code": DINGXIANG, "year": 2018, "value": "880"},
                # A correction of the value above: an update, written straight to the trail too.
                {"element_code": "gdp", "region_code": XINFU, "year": 2019, "value": "4600"},
            ]
        },
        headers={**city, "X-Request-Id": "req-bulk-1"},
    )
    assert loaded.status_code == 200, loaded.text
    assert (loaded.json()["rows_inserted"], loaded.json()["rows_updated"]) == (2, 1)
    bulk = [
        e
        for e in await audit_entries(
            api.client, "indicators", auditor, actor="planner-xz", object_type="data_value"
        )
        if e["request_id"] == "req-bulk-1"
    ]
    assert sorted((e["action"], e["region_code"], e["after"]["value"]) for e in bulk) == [
        ("create", XINFU, "4100.5"),
        ("create", DINGXIANG, 880),  # a whole number stays a JSON integer (exact too)
        ("update", XINFU, 4600),
    ]
    # One entry per object and transaction, from the state before the load to the state after it.
    corrected, *_ = await audit_entries(
        api.client, "indicators", auditor, object_type="data_value", object_id=value_id
    )
    assert (corrected["request_id"], corrected["before"]["value"], corrected["before"]["version"]) == (
        "req-bulk-1",
        "4567.9",
        2,
    )
    assert (corrected["after"]["version"], corrected["after"]["batch_id"]) == (3, loaded.json()["batch_id"])
    assert len(await audit_entries(api.client, "indicators", auditor, object_id=value_id)) == 3
    # The batch written after the values, in the same transaction, is recorded through the staging
    # at commit as before: the loader's direct writing ends with its values. (A batch has no region:
    # national accounts see it.)
    national = signed_headers(api.private_key, "auditor-cn", roles=("evaluator",), region="000000")
    [batch] = await audit_entries(
        api.client, "indicators", national, object_type="data_batch", object_id=loaded.json()["batch_id"]
    )
    assert (batch["action"], batch["request_id"]) == ("create", "req-bulk-1")
