"""The event catalogue as an AsyncAPI 3.0 document, generated from `CATALOGUE` so it cannot drift."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from emplan_shared.events.catalogue import CATALOGUE
from emplan_shared.events.envelope import CloudEvent
from emplan_shared.messaging.broker import EVENTS_STREAM


def _key(event_type: str) -> str:
    return event_type.removeprefix("emplan.").replace(".", "_")


def build_asyncapi(server_url: str = "nats://127.0.0.1:4222") -> dict[str, Any]:
    schemas: dict[str, Any] = {}
    envelope = TypeAdapter(CloudEvent).json_schema(ref_template="#/components/schemas/{model}")
    schemas["CloudEvent"] = envelope
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type, spec in sorted(CATALOGUE.items()):
        key = _key(event_type)
        payload_schema = spec.payload.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in payload_schema.pop("$defs", {}).items():
            schemas[name] = definition
        schemas[spec.payload.__name__] = payload_schema
        messages[key] = {
            "name": event_type,
            "title": event_type,
            "summary": spec.summary,
            "contentType": "application/cloudevents+json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "the CloudEvent id"}},
            },
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEvent"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type},
                            "source": {"const": f"/emplan/{spec.producer}"},
                            "dataschema": {"const": f"urn:emplan:event:{event_type}:v{spec.version}"},
                            "data": {"$ref": f"#/components/schemas/{spec.payload.__name__}"},
                        },
                    },
                ]
            },
        }
        channels[key] = {
            "address": event_type,
            "description": f"JetStream stream {EVENTS_STREAM}; published by {spec.producer}.",
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{spec.producer} publishes {event_type} through its outbox.",
            "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "emplan events",
            "version": "1.0.0",
            "description": (
                "Every event emplan publishes: CloudEvents 1.0 (structured JSON) on NATS JetStream, "
                "subject = event type, `Nats-Msg-Id` = event id. Consumers are durable, acknowledge "
                "explicitly and record processed event ids, so a redelivery changes nothing."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {"nats": {"host": server_url.removeprefix("nats://"), "protocol": "nats"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
