"""Data values for provincial platforms: `GET /api/v1/exchange/data-values` (the shared pull, see
`emplan_shared.exchange` and docs/exchange.md) and the same values as an SDMX-JSON 2.0 data message.

Identity: with `id_scheme=uid` a value is its `id` (a corrected value keeps it; a value deleted and
entered again gets a new one, so the old id's tombstone is right). With `id_scheme=code` a value is
its natural key (element, region, year, month) and carries no id; a tombstone is then left out while
the same key has a current value again: a deletion and a re-entry of one key by two transactions can
commit in either order of their transaction ids, and the key's current value is the truth.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from emplan_shared.auth import CurrentPrincipal, access_rule
from emplan_shared.db import DbSession
from emplan_shared.errors import BadRequest, problem_responses
from emplan_shared.exchange import (
    ExchangeParams,
    Feed,
    IdScheme,
    Record,
    add_exchange_route,
    audit_refused_cursor,
    fetch_page,
    prepare,
    request_signer,
)
from indicator_engine.data.models import ANNUAL
from indicator_engine.data.schemas import ValueState
from indicator_engine.definitions.service import element_map

KIND = "data-values"
_COLUMNS = "changed_xid, id, region_code, element_code, year, month"

LIVE = f"SELECT {_COLUMNS}, value::text AS value, source, state, version, updated_at AS at FROM data_value"


def tombstones(scheme: IdScheme) -> str:
    sql = (
        "SELECT changed_xid, value_id AS id, region_code, element_code, year, month, NULL::text AS value,"
        " NULL::varchar AS source, NULL::varchar AS state, NULL::integer AS version, deleted_at AS at"
        " FROM data_value_tombstone AS dt"
    )
    if scheme is IdScheme.code:
        sql += (
            " WHERE NOT EXISTS (SELECT FROM data_value AS dv WHERE dv.element_code = dt.element_code"
            " AND dv.region_code = dt.region_code AND dv.year = dt.year AND dv.month = dt.month)"
        )
    return sql


def _key(record: Record, scheme: IdScheme, *, deleted: bool) -> dict[str, Any]:
    """What identifies a value in either scheme."""
    month = record["month"]
    body: dict[str, Any] = {"deleted": deleted}
    if scheme is IdScheme.uid:
        body["id"] = record["id"]
    body["element_code"] = record["element_code"]
    body["region_code"] = record["region_code"]
    body["year"] = record["year"]
    body["month"] = None if month == ANNUAL else month
    return body


def item(record: Record, scheme: IdScheme) -> dict[str, Any]:
    body = _key(record, scheme, deleted=False)
    body["value"] = record["value"]
    body["source"] = record["source"]
    body["state"] = record["state"]
    body["version"] = record["version"]
    body["updated_at"] = record["at"]
    return body


def tombstone(record: Record, scheme: IdScheme) -> dict[str, Any]:
    body = _key(record, scheme, deleted=True)
    body["deleted_at"] = record["at"]
    return body


FEED = Feed(kind=KIND, live=LIVE, tombstones=tombstones, item=item, tombstone=tombstone)


class DataValueExchangeItem(BaseModel):
    deleted: bool = Field(description="true: a tombstone, the value was deleted")
    cursor: str
    id: int | None = Field(None, description="the value's id (`id_scheme=uid` only)")
    element_code: str
    region_code: str
    year: int
    month: int | None = Field(description="null for the whole year")
    value: str | None = Field(None, description="exact decimal (absent on a tombstone)")
    source: str | None = None
    state: ValueState | None = Field(None, description="absent on a tombstone")
    version: int | None = None
    updated_at: datetime | None = None
    deleted_at: datetime | None = Field(None, description="on a tombstone: when the value was deleted")


router = APIRouter(responses=problem_responses(401, 403, 422))

add_exchange_route(
    router,
    FEED,
    operation_id="exchangeDataValues",
    summary="Pull data values changed since a cursor (provincial platforms)",
    description="The region subtree's data values in commit order: without `cursor` the full snapshot, "
    "with it what changed since, deletions as tombstones. JSON pages, or the whole pull as NDJSON with "
    "`Accept: application/x-ndjson`. See docs/exchange.md.",
    item_model=DataValueExchangeItem,
)


# ---- SDMX-JSON 2.0 ------------------------------------------------------------------------------

SDMX_MEDIA_TYPE = "application/vnd.sdmx.data+json;version=2.0.0"
SDMX_SCHEMA = (
    "https://raw.githubusercontent.com/sdmx-twg/sdmx-json/master/data-message/tools/schemas/2.0.0/"
    "sdmx-json-data-schema.json"
)
# SDMX cross-domain code list CL_OBS_STATUS: A normal value, P provisional value.
OBS_STATUS = {"approved": "A", "submitted": "P", "draft": "P"}
SDMX_DEFAULT_LIMIT = 10_000


def _period(year: int, month: int) -> str:
    return str(year) if month == ANNUAL else f"{year}-{month:02d}"


class _Codes:
    """The values of one component, in first-seen order; an observation refers to them by index."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}

    def __call__(self, code: str) -> int:
        position = self.index.get(code)
        if position is None:
            position = self.index[code] = len(self.index)
        return position

    def values(self, names: dict[str, str] | None = None) -> list[dict[str, str]]:
        return [{"id": code, "name": (names or {}).get(code, code)} for code in self.index]


def sdmx_message(
    records: list[Record], units: dict[str, str], names: dict[str, str], *, next_cursor: str, has_more: bool
) -> dict[str, Any]:
    """A flat (`dimensionAtObservation=AllDimensions`) SDMX-JSON 2.0 data message: one data set of
    current values (action `Replace`) and, when there are tombstones, one of deletions (`Delete`)."""
    indicator, area, period = _Codes(), _Codes(), _Codes()
    unit, status = _Codes(), _Codes()
    source: dict[str, int] = {}
    current: dict[str, list[Any]] = {}
    deleted: dict[str, list[Any]] = {}
    for record in records:
        key = (
            f"{indicator(record['element_code'])}:{area(record['region_code'])}"
            f":{period(_period(record['year'], record['month']))}"
        )
        if record["deleted"]:
            deleted[key] = [None]
            continue
        unit_index = unit(units.get(record["element_code"], ""))
        status_index = status(OBS_STATUS.get(record["state"], "P"))
        text = record["source"]
        source_index = None if text is None else source.setdefault(text, len(source))
        current[key] = [record["value"], unit_index, status_index, source_index]
    dimension = {
        "observation": [
            {
                "id": "INDICATOR",
                "name": "指标（数据元素）",
                "keyPosition": 0,
                "values": indicator.values(names),
            },
            {
                "id": "REF_AREA",
                "name": "地区（GB/T 2260）",
                "keyPosition": 1,
                "roles": ["REF_AREA"],
                "values": area.values(),
            },
            {
                "id": "TIME_PERIOD",
                "name": "时期",
                "keyPosition": 2,
                "roles": ["TIME_PERIOD"],
                "values": period.values(),
            },
        ]
    }
    observation_level: dict[str, Any] = {"observation": {}}
    attributes: dict[str, Any] = {
        "observation": [
            {
                "id": "UNIT_MEASURE",
                "name": "计量单位",
                "relationship": observation_level,
                "values": [{"id": f"U{i}", "name": u} for i, u in enumerate(unit.index)] or [None],
            },
            {
                "id": "OBS_STATUS",
                "name": "观测状态（A 已审核，P 未审核）",
                "relationship": observation_level,
                "values": status.values({"A": "已审核", "P": "未审核"}) or [None],
            },
            {
                "id": "SOURCE",
                "name": "数据来源",
                "relationship": observation_level,
                "values": [{"value": text} for text in source] or [None],
            },
        ]
    }
    structure = {
        "name": "应急管理指标数据",
        "dimensions": dimension,
        "measures": {"observation": [{"id": "OBS_VALUE", "name": "数值"}]},
        "attributes": attributes,
        "dataSets": [0, 1] if deleted else [0],
    }
    links = [{"rel": "structure", "href": "/api/v1/indicators/definitions"}]
    data_sets: list[dict[str, Any]] = [
        {"structure": 0, "action": "Replace", "links": links, "observations": current}
    ]
    if deleted:
        data_sets.append({"structure": 0, "action": "Delete", "links": links, "observations": deleted})
    meta = {
        "schema": SDMX_SCHEMA,
        "id": f"EMPLAN-{uuid.uuid4().hex}",
        "test": False,
        "prepared": datetime.now(UTC).isoformat(),
        "contentLanguages": ["zh"],
        "sender": {"id": "EMPLAN", "name": "emplan"},
        "next_cursor": next_cursor,
        "has_more": has_more,
    }
    if not records:  # a component needs at least one value: no structure, no data set
        return {"meta": meta, "data": {"structures": [], "dataSets": []}}
    return {
        "meta": meta,
        "data": {"structures": [structure], "dataSets": data_sets},
    }


@router.get(
    "/api/v1/exchange/data-values.sdmx.json",
    operation_id="exportDataValuesSdmx",
    tags=["exchange"],
    summary="Data values as an SDMX-JSON 2.0 data message",
    response_model=None,
    response_class=Response,
    openapi_extra=access_rule("any"),
    responses={
        200: {
            "description": "SDMX-JSON 2.0 data message; `meta.next_cursor` continues it",
            "content": {SDMX_MEDIA_TYPE: {"schema": {"type": "object"}}},
        },
        **problem_responses(400, 404, 503),
    },
)
async def export_sdmx(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[ExchangeParams, Depends()],
) -> Response:
    """The same pull as `exchangeDataValues` (cursor, region, include_deleted), one page of at most
    `limit` (default 10,000) observations, as SDMX-JSON: dimensions INDICATOR, REF_AREA, TIME_PERIOD;
    attributes UNIT_MEASURE, OBS_STATUS, SOURCE; values exact decimals as strings."""
    signer = request_signer(request)
    try:
        pull = prepare(principal, params, KIND, signer)
    except BadRequest as exc:
        await audit_refused_cursor(request, principal, KIND, exc)
        raise
    pull = type(pull)(**{**pull.__dict__, "id_scheme": IdScheme.code})
    records, has_more, end = await fetch_page(
        request.app.state.engine, FEED, pull, params.limit or SDMX_DEFAULT_LIMIT
    )
    elements = await element_map(session)
    message = sdmx_message(
        records,
        {code: element.unit for code, element in elements.items()},
        {code: element.name for code, element in elements.items()},
        next_cursor=signer.sign(end, client=pull.client, kind=KIND, region=pull.region),
        has_more=has_more,
    )
    return Response(orjson.dumps(message), media_type=SDMX_MEDIA_TYPE, headers={"Cache-Control": "no-store"})
