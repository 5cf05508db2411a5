"""The read-only query API over a service's audit trail, mounted with one include:

    app routers: [..., audit_router("plans", audit_log)]  →  GET /api/v1/plans/audit

Filtered by object, person and time; newest first with keyset pagination; the caller sees the
entries of objects in their jurisdiction only (in the SQL WHERE clause). There is no write route:
the trail is written by the session events and refused UPDATE/DELETE by a trigger.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, Text, cast, select

from emplan_shared.auth import Principal, Role, require_roles
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, ProblemItem, problem_responses
from emplan_shared.pagination import CursorQuery, LimitQuery, Page, decode_cursor, encode_cursor

# Who may read the trail: administrators, and evaluators (checking how figures came about).
AUDIT_READERS = (Role.system_admin, Role.evaluator)


class AuditEntry(BaseModel):
    """One recorded change or security event."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    occurred_at: datetime
    actor_subject: str | None = Field(description="account or client id; null for the system itself")
    actor_kind: Literal["user", "client", "system", "anonymous"]
    actor_name: str | None
    request_id: str | None
    action: str = Field(description="create, update, delete, or a security event such as login_failed")
    object_type: str
    object_id: str
    region_code: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None


# ISO 8601 date-times only: pydantic would also take a bare number as a Unix time.
_ISO_INSTANT = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$"
TimeQuery = Annotated[
    str | None,
    Query(
        pattern=_ISO_INSTANT,
        description="ISO 8601 with a time zone, e.g. 2026-11-23T08:00:00+08:00",
        examples=["2026-11-23T08:00:00+08:00"],
        json_schema_extra={"format": "date-time"},
    ),
]


def _instant(name: str, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(
            "时间格式无效",
            code="invalid_datetime",
            errors=[ProblemItem(field=f"query.{name}", detail="无法解析")],
        ) from exc
    if instant.tzinfo is None:
        raise BadRequest(
            "时间须带时区（如 2026-11-23T08:00:00+08:00）",
            code="naive_datetime",
            errors=[ProblemItem(field=f"query.{name}", detail="缺少时区")],
        )
    return instant


def _exact_json(text: str | None) -> Any:
    """JSON with its non-integer numbers as strings: `4567.891` stays "4567.891", never a float."""
    return None if text is None else json.loads(text, parse_float=str)


def _camel(area: str) -> str:
    return "".join(part.capitalize() for part in area.replace("-", "_").split("_"))


def audit_router(area: str, table: Table, *, tag: str | None = None) -> APIRouter:
    """`GET /api/v1/<area>/audit` over `table` (the service's `audit_log`)."""
    router = APIRouter(prefix=f"/api/v1/{area}", tags=[tag or area])

    @router.get(
        "/audit",
        response_model=Page[AuditEntry],
        operation_id=f"list{_camel(area)}AuditEntries",
        responses=problem_responses(400, 401, 403, 422),
        openapi_extra={
            "x-emplan-access": {"roles": [r.value for r in AUDIT_READERS], "scope": "jurisdiction"}
        },
    )
    async def list_audit_entries(
        session: DbSession,
        principal: Annotated[Principal, require_roles(*AUDIT_READERS)],
        object_type: Annotated[str | None, Query(max_length=60, pattern=r"^[a-z_]+$")] = None,
        object_id: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
        actor: Annotated[
            str | None, Query(max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$", description="actor_subject")
        ] = None,
        action: Annotated[str | None, Query(max_length=40, pattern=r"^[a-z_]+$")] = None,
        since: TimeQuery = None,
        until: TimeQuery = None,
        limit: LimitQuery = 50,
        cursor: CursorQuery = None,
    ) -> Page[AuditEntry]:
        """Audit trail entries, newest first, filtered by object, actor, action and time."""
        since_at, until_at = _instant("since", since), _instant("until", until)
        key = decode_cursor(cursor)
        if key is not None and (len(key) != 1 or not isinstance(key[0], int) or isinstance(key[0], bool)):
            raise BadRequest(
                "分页游标无效",
                code="invalid_cursor",
                errors=[ProblemItem(field="query.cursor", detail="无法解析")],
            )
        columns = table.c
        # before/after as text, parsed with decimals kept as the strings written (a float would not).
        statement = select(
            *[c for c in columns if c.name not in ("before", "after")],
            cast(columns.before, Text).label("before"),
            cast(columns.after, Text).label("after"),
        )
        if principal.jurisdiction:
            # Entries about objects without a region are national matters: national accounts only.
            statement = statement.where(principal.within(columns.region_code))
        if object_type is not None:
            statement = statement.where(columns.object_type == object_type)
        if object_id is not None:
            statement = statement.where(columns.object_id == object_id)
        if actor is not None:
            statement = statement.where(columns.actor_subject == actor)
        if action is not None:
            statement = statement.where(columns.action == action)
        if since_at is not None:
            statement = statement.where(columns.occurred_at >= since_at)
        if until_at is not None:
            statement = statement.where(columns.occurred_at < until_at)
        if key is not None:
            statement = statement.where(columns.id < key[0])
        rows = (
            (await session.execute(statement.order_by(columns.id.desc()).limit(limit + 1))).mappings().all()
        )
        items = [
            AuditEntry.model_validate(
                {**row, "before": _exact_json(row["before"]), "after": _exact_json(row["after"])}
            )
            for row in rows[:limit]
        ]
        next_cursor = encode_cursor([items[-1].id]) if len(rows) > limit else None
        return Page[AuditEntry](items=items, next_cursor=next_cursor)

    return router
