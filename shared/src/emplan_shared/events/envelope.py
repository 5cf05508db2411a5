"""The CloudEvents 1.0 envelope (structured JSON mode) every emplan event travels in."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from emplan_shared.context import current_request_id

SUBJECT_PREFIX = "emplan."


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 event. `requestid` and `regioncode` are emplan's extension attributes."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(description="unique event id; also the JetStream `Nats-Msg-Id`")
    source: str = Field(description="producing service, e.g. `/emplan/plan-registry`")
    type: str = Field(description="event type, e.g. `emplan.plan.published`; also the NATS subject")
    subject: str | None = Field(None, description="the object the event is about, e.g. `plan/<id>`")
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(None, description="`urn:emplan:event:<type>:v<version>`")
    requestid: str | None = Field(None, description="request id of the write that caused the event")
    regioncode: str | None = Field(None, description="GB/T 2260 code of the region the object belongs to")
    data: dict[str, Any]

    @property
    def nats_subject(self) -> str:
        return self.type


def new_event(
    *,
    type: str,
    source: str,
    data: BaseModel | dict[str, Any],
    subject: str | None = None,
    region_code: str | None = None,
    schema_version: int = 1,
) -> CloudEvent:
    if not type.startswith(SUBJECT_PREFIX):
        raise ValueError(f"event type must start with {SUBJECT_PREFIX!r}: {type}")
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=type,
        subject=subject,
        time=datetime.now(UTC),
        dataschema=f"urn:emplan:event:{type}:v{schema_version}",
        requestid=current_request_id(),
        regioncode=region_code,
        data=payload,
    )
