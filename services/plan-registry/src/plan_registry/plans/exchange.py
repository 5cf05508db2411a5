"""Plans for provincial platforms: `GET /api/v1/exchange/plans` (the shared pull, see
`emplan_shared.exchange` and docs/exchange.md).

Only published and superseded versions are exchanged: a draft is nobody's business outside its
bureau, and it is the only kind of plan ever deleted, so this kind has no tombstones. Publishing a
draft, and superseding a published version, move the row's `changed_xid` (a trigger): the version
comes (again) with its new status. The content (sections, goals, indicators, tasks) is not in the
line — it can be large — but at `href` (`GET /api/v1/plans/{id}`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from emplan_shared.errors import problem_responses
from emplan_shared.exchange import Feed, IdScheme, Record, add_exchange_route

KIND = "plans"
FIELDS = (
    "region_code",
    "lineage_id",
    "version",
    "status",
    "kind",
    "title",
    "region_name",
    "period_start",
    "period_end",
    "issuing_body",
    "doc_number",
    "issued_date",
    "indicator_count",
    "task_count",
    "superseded_by_id",
    "published_at",
    "updated_at",
)
LIVE = f"SELECT changed_xid, id, {', '.join(FIELDS)} FROM plan WHERE status <> 'draft'"


def item(record: Record, scheme: IdScheme) -> dict[str, Any]:
    body: dict[str, Any] = {"deleted": False, "id": record["id"]}
    for name in FIELDS:
        body[name] = record[name]
    body["href"] = f"/api/v1/plans/{record['id']}"
    return body


FEED = Feed(kind=KIND, live=LIVE, tombstones=None, item=item, wide=True)


class PlanExchangeItem(BaseModel):
    deleted: bool = Field(description="always false: published versions are never deleted")
    cursor: str
    id: uuid.UUID
    href: str = Field(description="the whole version, content included")
    region_code: str
    lineage_id: uuid.UUID
    version: int
    status: Literal["published", "superseded"] = Field(description="drafts are never exchanged")
    kind: str
    title: str | None
    region_name: str
    period_start: int | None
    period_end: int | None
    issuing_body: str | None
    doc_number: str | None
    issued_date: date | None
    indicator_count: int
    task_count: int
    superseded_by_id: uuid.UUID | None
    published_at: datetime | None
    updated_at: datetime


router = APIRouter(responses=problem_responses(401, 403, 422))

add_exchange_route(
    router,
    FEED,
    operation_id="exchangePlans",
    summary="Pull published plan versions changed since a cursor (provincial platforms)",
    description="The region subtree's published and superseded plan versions in commit order: without "
    "`cursor` all of them, with it those published or superseded since. JSON pages, or NDJSON with "
    "`Accept: application/x-ndjson`. See docs/exchange.md.",
    item_model=PlanExchangeItem,
)
