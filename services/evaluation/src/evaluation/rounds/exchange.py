"""Published evaluation results for provincial platforms: `GET /api/v1/exchange/evaluations` (the
shared pull, see `emplan_shared.exchange` and docs/exchange.md).

Only published rounds are exchanged, with their frozen result (scores per target and task, the
total, the problems found) as approved. Publishing is final (no round is unpublished or deleted),
so this kind has no tombstones; publishing moves the row's `changed_xid` (a trigger), so a round
appears in the pull when it is published.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from emplan_shared.errors import problem_responses
from emplan_shared.exchange import Feed, IdScheme, Record, add_exchange_route
from evaluation.rounds.service import PUBLIC_PREFIX

KIND = "evaluations"
FIELDS = (
    "region_code",
    "plan_id",
    "kind",
    "reference_date",
    "title",
    "status",
    "scoring_rules_version",
    "calculation_rules_version",
    "published_at",
    "updated_at",
)
LIVE = (
    f"SELECT changed_xid, id, {', '.join(FIELDS)}, frozen_result AS result FROM evaluation_round"
    " WHERE status = 'published'"
)


def item(record: Record, scheme: IdScheme) -> dict[str, Any]:
    body: dict[str, Any] = {"deleted": False, "id": record["id"]}
    for name in FIELDS:
        body[name] = record[name]
    body["result"] = record["result"]
    body["report"] = f"{PUBLIC_PREFIX}/{record['id']}/report.html"
    return body


FEED = Feed(kind=KIND, live=LIVE, tombstones=None, item=item, wide=True)


class EvaluationExchangeItem(BaseModel):
    deleted: bool = Field(description="always false: published rounds are final")
    cursor: str
    id: uuid.UUID
    region_code: str
    plan_id: uuid.UUID
    kind: str
    reference_date: date
    title: str
    status: Literal["published"]
    scoring_rules_version: str | None
    calculation_rules_version: str | None
    published_at: datetime | None
    updated_at: datetime
    result: dict[str, Any] | None = Field(description="the result frozen at approval, as published")
    report: str = Field(description="the published report (also .docx, .xlsx)")


router = APIRouter(responses=problem_responses(401, 403, 422))

add_exchange_route(
    router,
    FEED,
    operation_id="exchangeEvaluations",
    summary="Pull published evaluation results since a cursor (provincial platforms)",
    description="The region subtree's published evaluation rounds with their frozen results, in commit "
    "order: without `cursor` all of them, with it those published since. JSON pages, or NDJSON with "
    "`Accept: application/x-ndjson`. See docs/exchange.md.",
    item_model=EvaluationExchangeItem,
)
