from __future__ import annotations

import uuid

import pytest

from emplan_shared.context import request_id_var
from emplan_shared.events import CATALOGUE, CloudEvent, catalogue, payloads


def test_built_event_is_a_cloudevent_carrying_the_request_id() -> None:
    token = request_id_var.set("req-1")
    try:
        event = catalogue.DEPARTMENT_CREATED.build(
            payloads.Department(id=uuid.uuid4(), region_code="140900", name="市应急管理局", version=1),
            subject="department/x",
            region_code="140900",
        )
    finally:
        request_id_var.reset(token)
    wire = event.model_dump(mode="json", exclude_none=True)
    assert wire["specversion"] == "1.0"
    assert wire["source"] == "/emplan/plan-registry"
    assert wire["type"] == "emplan.directory.department.created"
    assert wire["requestid"] == "req-1"
    assert wire["dataschema"] == "urn:emplan:event:emplan.directory.department.created:v1"
    again = CloudEvent.model_validate(wire)
    assert catalogue.DEPARTMENT_CREATED.parse(again).name == "市应急管理局"


def test_every_catalogued_type_is_a_subject_of_the_events_stream() -> None:
    assert CATALOGUE
    for event_type in CATALOGUE:
        assert event_type.startswith("emplan.")
        assert " " not in event_type
        assert "*" not in event_type
        assert ">" not in event_type


def test_type_outside_the_namespace_is_refused() -> None:
    from emplan_shared.events import new_event

    with pytest.raises(ValueError, match="emplan"):
        new_event(type="plan.published", source="/x", data={})


def test_asyncapi_lists_every_catalogued_event_with_its_payload_schema() -> None:
    from emplan_shared.events.asyncapi import build_asyncapi

    document = build_asyncapi()
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert addresses == set(CATALOGUE)
    schemas = document["components"]["schemas"]
    for message in document["components"]["messages"].values():
        ref = message["payload"]["allOf"][1]["properties"]["data"]["$ref"]
        assert ref.removeprefix("#/components/schemas/") in schemas
