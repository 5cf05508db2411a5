from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field


class TaskCounts(BaseModel):
    """Tasks of a department by its role in them."""

    lead: int = Field(0, description="tasks it leads (牵头)")
    co: int = Field(0, description="tasks it co-operates on (配合)")


class DepartmentWorkload(BaseModel):
    id: uuid.UUID
    region_code: str
    name: str
    aliases: list[str]
    active: bool
    version: int = Field(description="directory version this service has applied")
    synced_at: datetime
    history_length: int = Field(description="directory changes applied for this department")
    tasks: TaskCounts
