"""What the services actually published during the end-to-end run, checked against the AsyncAPI
document the gateway serves (generated from the event catalogue).

Runs after every other e2e test (marker `after_all_e2e`, ordered in conftest.py), so it sees the
events they caused. Every outbox row of every service — exactly what the relay publishes, with
`Nats-Msg-Id` = event id — must be a declared message: its subject a channel address, its type that
channel's, its source its producer, its data the declared payload schema with no undeclared field.
Every subject in the JetStream stream (test-injected events included) must be declared too.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import asyncpg
import httpx
import jsonschema_rs
import nats
import pytest
from jsonschema import validators

from emplan_shared.messaging.broker import EVENTS_STREAM
from emplan_tools.stack import Stack

from .conftest import Login
from .test_backbone import create_department, new_city
from .test_openapi_contract import CLIENT_DIR, npm_ci

pytestmark = [pytest.mark.e2e, pytest.mark.after_all_e2e]


def _closed(node: Any) -> Any:
    """Every object schema that lists its properties refuses others, so a payload field the
    catalogue does not declare is a mismatch, not a silent extra."""
    if isinstance(node, dict):
        out = {key: _closed(value) for key, value in node.items()}
        if "properties" in out and "additionalProperties" not in out and "patternProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_closed(item) for item in node]
    return node


class Catalogue:
    """The AsyncAPI document as a checker of envelopes (jsonschema-rs: a full e2e run leaves
    thousands of events, checked in well under a second)."""

    def __init__(self, document: dict[str, Any]) -> None:
        components = copy.deepcopy(document["components"])
        schemas = components["schemas"]
        for name in schemas:
            # The envelope may carry CloudEvents extensions; the payloads may not carry extras.
            if name != "CloudEvent":
                schemas[name] = _closed(schemas[name])
        self.addresses = {channel["address"] for channel in document["channels"].values()}
        # Each message's schema, with the document's components beside it for its `$ref`s.
        self.validators = {
            message["name"]: jsonschema_rs.Draft202012Validator(
                {"$ref": f"#/components/messages/{key}/payload", "components": components}
            )
            for key, message in components["messages"].items()
        }

    def problems(self, service: str, subject: str, event_id: str, envelope: dict[str, Any]) -> list[str]:
        where = f"{service} {subject} {event_id}"
        if subject not in self.addresses:
            return [f"{where}: subject not declared in the AsyncAPI document"]
        found = []
        if envelope.get("type") != subject:
            found.append(f"{where}: type {envelope.get('type')!r} is not its subject")
        if envelope.get("id") != event_id:
            found.append(f"{where}: id {envelope.get('id')!r} is not its Nats-Msg-Id")
        if envelope.get("source") != f"/emplan/{service}":
            found.append(f"{where}: published by {service}, but source is {envelope.get('source')!r}")
        found += [
            f"{where}: $.{'.'.join(str(part) for part in error.instance_path)}: {error.message}"
            for error in self.validators[subject].iter_errors(envelope)
        ]
        return found


@pytest.fixture(scope="module")
def asyncapi(system: Stack) -> dict[str, Any]:
    response = httpx.get(f"{system.gateway_url}/asyncapi.json", timeout=30)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


@pytest.fixture(scope="module")
def catalogue(asyncapi: dict[str, Any]) -> Catalogue:
    return Catalogue(asyncapi)


def test_the_document_is_valid_asyncapi_3(asyncapi: dict[str, Any]) -> None:
    """Against the AsyncAPI initiative's own JSON Schema of the 3.0.0 specification (@asyncapi/specs,
    locked in clients/typescript/package-lock.json), so integrators' tools accept it."""
    npm_ci()
    assert asyncapi["asyncapi"] == "3.0.0"
    specification = json.loads(
        (CLIENT_DIR / "node_modules/@asyncapi/specs/schemas/3.0.0-without-$id.json").read_text()
    )
    validator = validators.validator_for(specification)(specification)
    errors = [f"{error.json_path}: {error.message[:200]}" for error in validator.iter_errors(asyncapi)]
    assert not errors, "\n".join(errors)
    # The check has teeth: an operation with an action AsyncAPI 3 does not know is refused.
    broken = copy.deepcopy(asyncapi)
    next(iter(broken["operations"].values()))["action"] = "publish"
    assert len(list(validator.iter_errors(broken))) == 1


async def outbox_rows(system: Stack) -> list[tuple[str, str, str, dict[str, Any]]]:
    rows = []
    for service in system.service_names:
        connection = await asyncpg.connect(system.service_database_dsn(service))
        try:
            for row in await connection.fetch(
                "SELECT subject, event_id::text AS event_id, envelope::text AS envelope"
                " FROM outbox_event ORDER BY position"
            ):
                rows.append((service, row["subject"], row["event_id"], json.loads(row["envelope"])))
        finally:
            await connection.close()
    return rows


async def test_every_published_event_matches_the_asyncapi_document(
    system: Stack, client: httpx.AsyncClient, admin: Login, catalogue: Catalogue
) -> None:
    # One event of our own, so the check is never empty when this file runs alone.
    city = await new_city(client, admin)
    department_id = await create_department(client, admin, city, "市应急管理局")
    rows = await outbox_rows(system)
    assert any(envelope.get("subject") == f"department/{department_id}" for *_, envelope in rows)
    problems = [p for row in rows for p in catalogue.problems(*row)]
    seen = sorted({subject for _, subject, _, _ in rows})
    assert not problems, (
        f"{len(problems)} published events do not match the AsyncAPI document "
        "(shared/src/emplan_shared/events/catalogue.py and payloads.py):\n" + "\n".join(problems[:50])
    )
    # What was covered, for the log.
    print(f"{len(rows)} published events of {len(seen)} types checked: {', '.join(seen)}")  # noqa: T201


async def test_every_subject_in_the_stream_is_declared(system: Stack, catalogue: Catalogue) -> None:
    connection = await nats.connect(system.nats_url)
    try:
        info = await connection.jetstream().stream_info(EVENTS_STREAM, subjects_filter=">")
    finally:
        await connection.close()
    subjects = set((info.state.subjects or {}).keys())
    assert "emplan.directory.department.created" in subjects
    assert not subjects - catalogue.addresses, f"undeclared subjects in {EVENTS_STREAM}"


async def test_the_check_catches_a_mismatch(system: Stack, catalogue: Catalogue) -> None:
    """A real published event passes; the same with an undeclared field, a wrong type, a missing
    payload field or an unknown subject does not."""
    service, subject, event_id, envelope = next(
        row for row in await outbox_rows(system) if row[1] == "emplan.directory.department.created"
    )
    assert catalogue.problems(service, subject, event_id, envelope) == []
    extra = copy.deepcopy(envelope)
    extra["data"]["budget"] = 1
    assert any(
        "$.data:" in p and "'budget'" in p for p in catalogue.problems(service, subject, event_id, extra)
    )
    missing = copy.deepcopy(envelope)
    del missing["data"]["region_code"]
    assert any(
        '"region_code" is a required' in p for p in catalogue.problems(service, subject, event_id, missing)
    )
    wrong_type = copy.deepcopy(envelope)
    wrong_type["data"]["version"] = "one"
    assert any("$.data.version" in p for p in catalogue.problems(service, subject, event_id, wrong_type))
    assert catalogue.problems(service, "emplan.directory.department.moved", event_id, envelope) == [
        f"{service} emplan.directory.department.moved {event_id}: subject not declared in the AsyncAPI document"
    ]
    assert any("source is" in p for p in catalogue.problems("evaluation", subject, event_id, envelope))
