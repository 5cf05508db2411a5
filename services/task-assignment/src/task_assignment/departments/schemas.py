from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from task_assignment.tasks.schemas import LightCounts, StatusCounts


class TaskCounts(BaseModel):
    """Tasks of a department by its role in them."""

    lead: int = Field(0, description="tasks it leads (牵头)")
    co: int = Field(0, description="tasks it co-operates on (配合)")
    lead_by_status: StatusCounts = Field(default_factory=StatusCounts)
    co_by_status: StatusCounts = Field(default_factory=StatusCounts)
    by_status: StatusCounts = Field(default_factory=StatusCounts, description="all its tasks by status")
    by_light: LightCounts = Field(default_factory=LightCounts, description="all its tasks by light (亮灯)")
    overdue: int = Field(0, description="its tasks past their deadline, not completed or closed")


class DepartmentWorkload(BaseModel):
    id: uuid.UUID
    region_code: str
    name: str
    aliases: list[str]
    active: bool
    version: int = Field(description="directory version this service has applied")
    synced_at: datetime
    history_length: int = Field(description="directory changes applied for this department")
    tasks: TaskCounts = Field(description="its current tasks across plans, within the caller's view")
