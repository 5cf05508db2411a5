"""Every event type emplan publishes, with its payload schema: the contract between services.

Producers publish through `EventSpec.build`, consumers read through `EventSpec.parse`, and the AsyncAPI
document is generated from this catalogue, so the three cannot drift apart.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from emplan_shared.events import payloads
from emplan_shared.events.envelope import CloudEvent, new_event

P = TypeVar("P", bound=BaseModel)


@dataclass(frozen=True)
class EventSpec(Generic[P]):
    type: str
    payload: builtins.type[P]
    producer: str
    summary: str
    version: int = 1

    def build(self, data: P, *, subject: str | None = None, region_code: str | None = None) -> CloudEvent:
        return new_event(
            type=self.type,
            source=f"/emplan/{self.producer}",
            data=data,
            subject=subject,
            region_code=region_code,
            schema_version=self.version,
        )

    def parse(self, event: CloudEvent) -> P:
        return self.payload.model_validate(event.data)


CATALOGUE: dict[str, EventSpec[BaseModel]] = {}


def _register(spec: EventSpec[P]) -> EventSpec[P]:
    CATALOGUE[spec.type] = spec  # type: ignore[assignment]
    return spec


DEPARTMENT_CREATED = _register(
    EventSpec(
        type="emplan.directory.department.created",
        payload=payloads.Department,
        producer="plan-registry",
        summary="A department was added to a region's directory.",
    )
)
DEPARTMENT_UPDATED = _register(
    EventSpec(
        type="emplan.directory.department.updated",
        payload=payloads.Department,
        producer="plan-registry",
        summary="A department's name, aliases or state changed.",
    )
)
