"""Task states for provincial platforms: `GET /api/v1/exchange/tasks` (the shared pull, see
`emplan_shared.exchange` and docs/exchange.md).

Tasks are never deleted: a task of a superseded plan version stays, with `current: false` and its
`successor_id`, so this kind has no tombstones. Every change of a task's state (status, progress,
deadline, supersession) moves its `changed_xid` (a trigger), so the pull returns it again.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from emplan_shared.errors import problem_responses
from emplan_shared.exchange import Feed, IdScheme, Record, add_exchange_route
from task_assignment.work.workflow import TaskStatus

KIND = "tasks"

LIVE = (
    "SELECT changed_xid, id, region_code, plan_id, parent_id, origin, kind, code, title, deadline, status,"
    " progress_percent, current, successor_id, version, updated_at FROM task"
)


def item(record: Record, scheme: IdScheme) -> dict[str, Any]:
    body: dict[str, Any] = {"deleted": False, "id": record["id"]}
    for name in (
        "region_code",
        "plan_id",
        "parent_id",
        "origin",
        "kind",
        "code",
        "title",
        "deadline",
        "status",
        "progress_percent",
        "current",
        "successor_id",
        "version",
        "updated_at",
    ):
        body[name] = record[name]
    return body


FEED = Feed(kind=KIND, live=LIVE, tombstones=None, item=item, wide=True)


class TaskExchangeItem(BaseModel):
    deleted: bool = Field(
        description="always false: tasks are never deleted (superseded ones: current=false)"
    )
    cursor: str
    id: uuid.UUID
    region_code: str
    plan_id: uuid.UUID
    parent_id: uuid.UUID | None
    origin: str
    kind: str
    code: str | None
    title: str
    deadline: date | None
    status: TaskStatus
    progress_percent: int
    current: bool = Field(description="false once the plan version is superseded")
    successor_id: uuid.UUID | None
    version: int
    updated_at: datetime


router = APIRouter(responses=problem_responses(401, 403, 422))

add_exchange_route(
    router,
    FEED,
    operation_id="exchangeTasks",
    summary="Pull task states changed since a cursor (provincial platforms)",
    description="The region subtree's tasks in commit order: without `cursor` all of them, with it those "
    "whose state changed since. JSON pages, or NDJSON with `Accept: application/x-ndjson`. "
    "`id_scheme` is accepted, tasks are always identified by id. See docs/exchange.md.",
    item_model=TaskExchangeItem,
)
