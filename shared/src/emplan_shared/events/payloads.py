"""Payload schemas of the events in the catalogue, versioned with the event type."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, Field


class Department(BaseModel):
    """A department of a region's directory as plan-registry publishes it."""

    id: UUID
    region_code: str = Field(description="GB/T 2260 code of the region the department belongs to")
    name: str = Field(description="official name, e.g. 市应急管理局")
    aliases: list[str] = Field(
        default_factory=list, description="other names that resolve to it, e.g. 市应急局"
    )
    active: bool = True
    version: int = Field(description="increases with every change of the department")
