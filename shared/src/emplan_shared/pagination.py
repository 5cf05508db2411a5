"""Cursor pagination: `limit` and an opaque `cursor` in, `items` and `next_cursor` out.

The cursor encodes the sort key of the last item returned (keyset pagination), so pages stay stable
while rows are added and the cost of a page does not grow with its depth.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import orjson
from fastapi import Query
from pydantic import BaseModel, Field

from emplan_shared.errors import BadRequest, ProblemItem

T = TypeVar("T")

MAX_LIMIT = 500


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next page; null on the last")


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None  # an empty cursor asks for the first page
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise BadRequest(
            "分页游标无效",
            code="invalid_cursor",
            errors=[ProblemItem(field="query.cursor", detail="无法解析")],
        ) from exc
    if not isinstance(key, list):
        raise BadRequest("分页游标无效", code="invalid_cursor")
    return key


LimitQuery = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
CursorQuery = Annotated[str | None, Query(description="`next_cursor` of the previous page")]
