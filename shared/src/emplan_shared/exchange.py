"""The exchange API's pull mechanism, shared by every service: a service describes its rows (a `Feed`:
two SELECTs, one of current rows and one of tombstones, and how a row becomes an item) and gets
`GET /api/v1/exchange/<kind>` with cursors, pages, NDJSON streaming, a dry run and jurisdiction.

Order. Rows are served in commit order, not insert order: every exchangeable row carries
`changed_xid xid8` (the writing transaction's id: `DEFAULT pg_current_xact_id()` on insert, a
`BEFORE UPDATE` trigger on update), and a pull reads, in one REPEATABLE READ snapshot, only rows with
`changed_xid` below that snapshot's xmin, the oldest transaction still running. Every transaction
with a lower id has ended, so no row can later appear below the horizon: a client that has read up to
a position never misses a row that commits after it read (the gap an id or timestamp cursor has).
The order is `(changed_xid, id)`, a keyset: constant cost per page at any depth.

Cursors. A position `(xid, id)` packed with a keyed BLAKE2b MAC (16 bytes) over the caller, the
kind and the region it was issued for, keyed by a secret every service shares
(`EMPLAN_EXCHANGE_CURSOR_KEY_FILE`). The services sign rather than the gateway: every NDJSON line
carries its cursor, and the gateway streams bodies through without parsing them. A cursor of another
client, kind or region, or altered in any byte, answers 400 `invalid_cursor`.

When a pull has read everything below the horizon its cursor moves to the horizon itself
(`(horizon - 1, MAX_ID)`), so the next pull starts there instead of rescanning.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import struct
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, TypeAlias

import asyncpg
import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field, create_model
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import base as postgresql_types
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.types import UserDefinedType

from emplan_shared.audit.recorder import record as audit_record
from emplan_shared.auth import CurrentPrincipal, Principal, access_rule, jurisdiction_prefix
from emplan_shared.errors import BadRequest, ProblemItem, ServiceUnavailable, problem_responses
from emplan_shared.settings import ServiceSettings

logger = logging.getLogger(__name__)

NDJSON = "application/x-ndjson"
MAX_ID = 2**63 - 1
MAX_UUID = uuid.UUID(int=2**128 - 1)
MAX_PAGE = 10_000
STREAM_BATCH = 2_000
_PACK = struct.Struct(">QQ")
_XID = struct.Struct(">Q")
_WIDE_BYTES = _XID.size + 16  # a UUID id
_MAC_BYTES = 16


class IdScheme(StrEnum):
    """How items are identified (DHIS2's `idScheme`): `uid` by the object's id in this service,
    `code` by its natural key (for data values: element, region, year, month) with no id."""

    uid = "uid"
    code = "code"


@dataclass(frozen=True, order=True)
class Position:
    xid: int
    id: Any  # int for a bigint id, uuid.UUID for a UUID one (both order as PostgreSQL does)


START = Position(0, 0)


_URLSAFE = bytes.maketrans(b"+/", b"-_")


class CursorSigner:
    """Signs and checks cursors; a cursor is bound to the caller, the kind and the region.

    The MAC is keyed BLAKE2b (RFC 7693's keyed mode, a PRF like HMAC) cut to 16 bytes: every NDJSON
    line carries a cursor, and `hmac.digest(…, "sha256")` cost several times as much per line."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ValueError("the exchange cursor key must have at least 16 bytes")
        # BLAKE2b takes keys of up to 64 bytes: a longer secret is hashed down to one.
        self._key = key if len(key) <= 64 else hashlib.blake2b(key).digest()

    @staticmethod
    def _head(client: str, kind: str, region: str) -> bytes:
        return b"\0".join((b"emplan-exchange-1", client.encode(), kind.encode(), region.encode())) + b"\0"

    def binder(self, *, client: str, kind: str, region: str, wide: bool = False) -> Callable[[int, Any], str]:
        """A fast `sign(xid, id)` for one pull (one caller, kind, region), called once per row;
        `wide`: the ids are UUIDs (16 bytes) rather than bigints."""
        base = hashlib.blake2b(self._head(client, kind, region), key=self._key, digest_size=_MAC_BYTES)
        b2a = binascii.b2a_base64

        if wide:
            pack_xid = _XID.pack

            def sign_wide(xid: int, row_id: Any) -> str:
                packed = pack_xid(xid) + row_id.bytes
                mac = base.copy()
                mac.update(packed)
                return b2a(packed + mac.digest(), newline=False).translate(_URLSAFE).rstrip(b"=").decode()

            return sign_wide
        pack = _PACK.pack

        def sign(xid: int, row_id: Any) -> str:
            packed = pack(xid, row_id)
            mac = base.copy()
            mac.update(packed)
            return b2a(packed + mac.digest(), newline=False).translate(_URLSAFE)[:-1].decode()

        return sign

    def sign(self, position: Position, *, client: str, kind: str, region: str) -> str:
        wide = isinstance(position.id, uuid.UUID)
        return self.binder(client=client, kind=kind, region=region, wide=wide)(position.xid, position.id)

    def verify(self, cursor: str, *, client: str, kind: str, region: str, wide: bool = False) -> Position:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError) as exc:
            raise _invalid_cursor("无法解析") from exc
        size = _WIDE_BYTES if wide else _PACK.size
        if len(raw) != size + _MAC_BYTES:
            raise _invalid_cursor("长度不正确")
        packed, mac = raw[:size], raw[size:]
        expected = hashlib.blake2b(
            self._head(client, kind, region) + packed, key=self._key, digest_size=_MAC_BYTES
        ).digest()
        if not hmac.compare_digest(mac, expected):
            raise _invalid_cursor("签名不符：游标被改动，或属于其他客户端、数据类别或地区")
        if wide:
            return Position(_XID.unpack(packed[: _XID.size])[0], uuid.UUID(bytes=packed[_XID.size :]))
        xid, row_id = _PACK.unpack(packed)
        if row_id > MAX_ID:
            raise _invalid_cursor("位置超出范围")
        return Position(xid, row_id)


def _invalid_cursor(why: str) -> BadRequest:
    return BadRequest(
        "交换游标无效：" + why,
        code="invalid_cursor",
        errors=[ProblemItem(field="query.cursor", code="invalid_cursor", detail=why)],
    )


def cursor_signer(settings: ServiceSettings) -> CursorSigner | None:
    """The signer from `EMPLAN_EXCHANGE_CURSOR_KEY_FILE` (or `EMPLAN_EXCHANGE_CURSOR_KEY`), or None."""
    if settings.exchange_cursor_key is not None:
        return CursorSigner(settings.exchange_cursor_key.get_secret_value().encode())
    if settings.exchange_cursor_key_file is not None:
        return CursorSigner(settings.exchange_cursor_key_file.read_bytes().strip())
    return None


def request_signer(request: Request) -> CursorSigner:
    signer: CursorSigner | None = getattr(request.app.state, "exchange_signer", None)
    if signer is None:
        signer = cursor_signer(request.app.state.settings)
        if signer is None:
            raise ServiceUnavailable("交换接口未配置游标签名密钥", code="exchange_not_configured")
        request.app.state.exchange_signer = signer
    return signer


# ---- the column ---------------------------------------------------------------------------------


class Xid8(UserDefinedType[int]):
    """PostgreSQL's `xid8` (a 64-bit transaction id that never wraps); asyncpg reads it as an int."""

    cache_ok = True

    def get_col_spec(self, **_: Any) -> str:
        return "XID8"


# Reflection (Alembic's model check) knows the type too.
postgresql_types.ischema_names.setdefault("xid8", Xid8)

CURRENT_XID = text("pg_current_xact_id()")

# The trigger function that moves `changed_xid` on every update (migrations create it, frozen there).
TOUCH_FUNCTION = "emplan_touch_changed_xid"


# ---- what a service provides -----------------------------------------------------------------


Record: TypeAlias = asyncpg.Record


@dataclass(frozen=True)
class Feed:
    """One kind of exchangeable object.

    `live` and `tombstones(id_scheme)` are SELECTs with the same columns, the first three
    `changed_xid, id, region_code` (plain columns of one table, so the keyset and the jurisdiction
    conditions the shared code adds reach its indexes); `item(record, id_scheme)` makes the JSON
    object of a current row, `tombstone(record, id_scheme)` that of a deleted one (`deleted: true`).
    """

    kind: str
    live: str
    tombstones: Callable[[IdScheme], str] | None
    item: Callable[[Record, IdScheme], dict[str, Any]]
    tombstone: Callable[[Record, IdScheme], dict[str, Any]] | None = None
    # True: `id` is a UUID (the cursor holds 16 bytes of it) rather than a bigint.
    wide: bool = False


@dataclass(frozen=True)
class Pull:
    """A checked request: whose, which subtree, from where."""

    kind: str
    client: str
    region: str
    prefix: str
    after: Position
    include_deleted: bool
    id_scheme: IdScheme
    wide: bool = False


class ExchangeParams:
    """The query of every exchange endpoint (DHIS2 `dataValueSets` names in parentheses)."""

    def __init__(
        self,
        cursor: Annotated[
            str | None,
            Query(
                max_length=200,
                description="`next_cursor` of the previous pull (or any line's `cursor`); "
                "none: the full snapshot (DHIS2 `lastUpdated`)",
            ),
        ] = None,
        region: Annotated[
            str | None,
            Query(
                pattern=r"^\d{6}$",
                description="this region and those below it; within the caller's jurisdiction, "
                "which is the default",
            ),
        ] = None,
        limit: Annotated[
            int | None,
            Query(ge=1, le=MAX_PAGE, description="rows per page (JSON: default 1000; NDJSON: no limit)"),
        ] = None,
        include_deleted: Annotated[
            bool, Query(description="tombstones of deleted objects (DHIS2 `includeDeleted`)")
        ] = True,
        id_scheme: Annotated[
            IdScheme, Query(description="`uid`: by id; `code`: by natural key (DHIS2 `idScheme`)")
        ] = IdScheme.uid,
        dry_run: Annotated[
            bool, Query(description="only counts per region and the cursor the pull would end at")
        ] = False,
    ) -> None:
        self.cursor = cursor
        self.region = region
        self.limit = limit
        self.include_deleted = include_deleted
        self.id_scheme = id_scheme
        self.dry_run = dry_run


def prepare(
    principal: Principal, params: ExchangeParams, kind: str, signer: CursorSigner, *, wide: bool = False
) -> Pull:
    """The pull a request asks for: a region outside the caller's jurisdiction is 404, as if it did
    not exist; the cursor must be this caller's for this kind and region."""
    region = params.region or principal.region_code
    principal.require_region(region, field="query.region")
    after = Position(0, uuid.UUID(int=0)) if wide else START
    if params.cursor:
        after = signer.verify(params.cursor, client=principal.subject, kind=kind, region=region, wide=wide)
    return Pull(
        kind=kind,
        client=principal.subject,
        region=region,
        prefix=jurisdiction_prefix(region),
        after=after,
        include_deleted=params.include_deleted,
        id_scheme=params.id_scheme,
        wide=wide,
    )


# ---- the SQL ------------------------------------------------------------------------------------

# $1 region prefix pattern, $2 $3 the position read up to, $4 the horizon (exclusive). The extra
# `changed_xid >= $2` gives the planner a range on the index's first column to estimate with.
_WINDOW = (
    " WHERE {a}.region_code LIKE $1 AND {a}.changed_xid >= $2::xid8"
    " AND ({a}.changed_xid, {a}.id) > ($2::xid8, $3::{id_type}) AND {a}.changed_xid < $4::xid8"
)
_ORDER = " ORDER BY {a}.changed_xid, {a}.id"


def union_sql(feed: Feed, pull: Pull, *, limit: bool = False, ordered: bool = True) -> str:
    """Current rows and (when asked) tombstones in the pull's window, each with a `deleted` flag.
    Each part is ordered (and with `limit` limited to $5) on its own: the outer ORDER BY then
    merges them (Merge Append), each part walking its `(changed_xid, id)` index or sorting only its
    own subtree. With the ORDER BY only outside, PostgreSQL 18 sorted the whole window first."""
    tail = (_ORDER if ordered else "") + (" LIMIT $5" if limit else "")
    id_type = "uuid" if feed.wide else "bigint"
    parts = [
        f"SELECT false AS deleted, l.* FROM ({feed.live}) AS l"
        + _WINDOW.format(a="l", id_type=id_type)
        + tail.format(a="l")
    ]
    if pull.include_deleted and feed.tombstones is not None:
        parts.append(
            f"SELECT true AS deleted, t.* FROM ({feed.tombstones(pull.id_scheme)}) AS t"
            + _WINDOW.format(a="t", id_type=id_type)
            + tail.format(a="t")
        )
    return " UNION ALL ".join(f"({part})" for part in parts)


def ordered_sql(feed: Feed, pull: Pull, *, limit: bool) -> str:
    sql = f"SELECT * FROM ({union_sql(feed, pull, limit=limit)}) AS u ORDER BY u.changed_xid, u.id"
    return sql + " LIMIT $5" if limit else sql


def _args(pull: Pull, horizon: int) -> list[Any]:
    return [pull.prefix + "%", pull.after.xid, pull.after.id, horizon]


async def horizon(driver: asyncpg.Connection) -> int:
    """The snapshot's xmin: every transaction below it has ended."""
    value: int = await driver.fetchval("SELECT pg_snapshot_xmin(pg_current_snapshot())")
    return value


def end_position(pull: Pull, horizon_xid: int) -> Position:
    """Where a pull that has read everything below the horizon continues next time."""
    return max(pull.after, Position(horizon_xid - 1, MAX_UUID if pull.wide else MAX_ID))


class _Snapshot:
    """A REPEATABLE READ, READ ONLY transaction on a pooled connection, with its asyncpg driver."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def __aenter__(self) -> asyncpg.Connection:
        self._connection = await self.engine.connect()
        try:
            raw = await self._connection.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            # On the driver itself: SQLAlchemy's adapter would begin only at its own first statement.
            self._transaction = driver.transaction(isolation="repeatable_read", readonly=True)
            await self._transaction.start()
        except BaseException:
            await self._connection.close()
            raise
        return driver

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self._transaction.rollback()
        finally:
            await self._connection.close()


# ---- the answers --------------------------------------------------------------------------------


class ExchangeItem(BaseModel):
    model_config = {"extra": "allow"}

    deleted: bool = Field(description="true: a tombstone, the object is gone (or left the subtree)")
    cursor: str = Field(description="resume after this item with `cursor=` this value")


class ExchangePage(BaseModel):
    kind: str
    region_code: str = Field(description="the subtree pulled")
    items: list[ExchangeItem]
    next_cursor: str = Field(description="pass as `cursor` for the next page, or the next pull")
    has_more: bool = Field(description="false: everything committed so far has been read")


class RegionCount(BaseModel):
    region_code: str
    changed: int
    deleted: int


class DryRun(BaseModel):
    kind: str
    region_code: str
    dry_run: bool = True
    changed: int = Field(description="current objects the pull would return")
    deleted: int = Field(description="tombstones the pull would return")
    regions: list[RegionCount]
    next_cursor: str = Field(description="the cursor the pull would end at")


def _rows(
    feed: Feed, pull: Pull, records: list[Record], sign: Callable[[int, int], str]
) -> list[dict[str, Any]]:
    out = []
    item, tombstone, scheme = feed.item, feed.tombstone, pull.id_scheme
    for record in records:
        body = tombstone(record, scheme) if record["deleted"] else item(record, scheme)  # type: ignore[misc]
        body["cursor"] = sign(record["changed_xid"], record["id"])
        out.append(body)
    return out


async def fetch_page(
    engine: AsyncEngine, feed: Feed, pull: Pull, limit: int
) -> tuple[list[Record], bool, Position]:
    """Up to `limit` rows after the pull's position; whether more remain; where the next pull starts."""
    async with _Snapshot(engine) as driver:
        top = await horizon(driver)
        records = await driver.fetch(ordered_sql(feed, pull, limit=True), *_args(pull, top), limit + 1)
    has_more = len(records) > limit
    records = records[:limit]
    if has_more:
        last = records[-1]
        return records, True, Position(last["changed_xid"], last["id"])
    return records, False, end_position(pull, top)


async def read_page(engine: AsyncEngine, feed: Feed, pull: Pull, signer: CursorSigner, limit: int) -> bytes:
    sign = signer.binder(client=pull.client, kind=pull.kind, region=pull.region, wide=pull.wide)
    records, has_more, end = await fetch_page(engine, feed, pull, limit)
    return orjson.dumps(
        {
            "kind": pull.kind,
            "region_code": pull.region,
            "items": _rows(feed, pull, records, sign),
            "next_cursor": sign(end.xid, end.id),
            "has_more": has_more,
        },
        default=str,  # asyncpg's own UUID class (task and plan ids) is not `uuid.UUID` to orjson
    )


async def stream(
    engine: AsyncEngine, feed: Feed, pull: Pull, signer: CursorSigner, limit: int | None
) -> AsyncIterator[bytes]:
    """NDJSON from a server-side cursor, `STREAM_BATCH` rows at a time (memory stays flat): one line
    per item, each with its own cursor, then `{"next_cursor": …, "has_more": …, "count": n}`."""
    sign = signer.binder(client=pull.client, kind=pull.kind, region=pull.region, wide=pull.wide)
    dumps = orjson.dumps
    item, tombstone, scheme = feed.item, feed.tombstone, pull.id_scheme
    count = 0
    last: Record | None = None
    has_more = False
    async with _Snapshot(engine) as driver:
        top = await horizon(driver)
        sql = ordered_sql(feed, pull, limit=limit is not None)
        args = _args(pull, top) + ([limit + 1] if limit is not None else [])
        cursor = await driver.cursor(sql, *args)
        while True:
            batch = await cursor.fetch(STREAM_BATCH)
            if not batch:
                break
            if limit is not None and count + len(batch) > limit:
                batch = batch[: limit - count]
                has_more = True
            lines = []
            for record in batch:
                body = tombstone(record, scheme) if record["deleted"] else item(record, scheme)  # type: ignore[misc]
                body["cursor"] = sign(record["changed_xid"], record["id"])
                lines.append(dumps(body, default=str))
            count += len(batch)
            if batch:
                last = batch[-1]
                yield b"\n".join(lines) + b"\n"
            if has_more:
                break
    if has_more and last is not None:
        next_cursor = sign(last["changed_xid"], last["id"])
    else:
        end = end_position(pull, top)
        next_cursor = sign(end.xid, end.id)
    yield dumps({"next_cursor": next_cursor, "has_more": has_more, "count": count}) + b"\n"


async def dry_run(engine: AsyncEngine, feed: Feed, pull: Pull, signer: CursorSigner) -> DryRun:
    sql = (
        f"SELECT u.region_code, count(*) FILTER (WHERE NOT u.deleted) AS changed,"
        f" count(*) FILTER (WHERE u.deleted) AS deleted"
        f" FROM ({union_sql(feed, pull, ordered=False)}) AS u GROUP BY u.region_code ORDER BY u.region_code"
    )
    async with _Snapshot(engine) as driver:
        top = await horizon(driver)
        records = await driver.fetch(sql, *_args(pull, top))
    end = end_position(pull, top)
    regions = [
        RegionCount(region_code=r["region_code"], changed=r["changed"], deleted=r["deleted"]) for r in records
    ]
    return DryRun(
        kind=pull.kind,
        region_code=pull.region,
        changed=sum(r.changed for r in regions),
        deleted=sum(r.deleted for r in regions),
        regions=regions,
        next_cursor=signer.sign(end, client=pull.client, kind=pull.kind, region=pull.region),
    )


def wants_ndjson(request: Request) -> bool:
    return NDJSON in request.headers.get("accept", "")


_REFUSAL_WINDOW = 60.0


async def audit_refused_cursor(request: Request, principal: Principal, kind: str, error: BadRequest) -> None:
    """A refused cursor in the service's audit trail (the token refusals' auditor and table), once
    per caller and kind a minute: a client retrying a bad cursor must not flood the trail."""
    auditor = getattr(request.app.state.token_verifier, "on_refused", None)
    sessionmaker = getattr(auditor, "sessionmaker", None)
    table = getattr(auditor, "table", None)
    if sessionmaker is None or table is None:
        return
    recent: dict[tuple[str, str], float] | None = getattr(request.app.state, "exchange_refusals", None)
    if recent is None:
        recent = request.app.state.exchange_refusals = {}
    now = time.monotonic()
    if recent.get((principal.subject, kind), 0.0) > now:
        return
    if len(recent) > 10_000:
        recent.clear()
    recent[(principal.subject, kind)] = now + _REFUSAL_WINDOW
    try:
        async with sessionmaker() as session, session.begin():
            await audit_record(
                session,
                table,
                action="cursor_refused",
                object_type="exchange_cursor",
                object_id=principal.subject[:200],
                region_code=principal.region_code,
                after={"kind": kind, "reason": error.detail, "region": request.query_params.get("region")},
            )
    except Exception as exc:  # the refusal stands even when the trail cannot be written
        logger.warning("could not record a refused cursor", extra={"error": repr(exc)})


async def answer(request: Request, principal: Principal, params: ExchangeParams, feed: Feed) -> Response:
    """The whole endpoint: checks, then a dry run, an NDJSON stream or a JSON page."""
    signer = request_signer(request)
    try:
        pull = prepare(principal, params, feed.kind, signer, wide=feed.wide)
    except BadRequest as exc:
        await audit_refused_cursor(request, principal, feed.kind, exc)
        raise
    engine: AsyncEngine = request.app.state.engine
    if params.dry_run:
        report = await dry_run(engine, feed, pull, signer)
        return Response(orjson.dumps(report.model_dump()), media_type="application/json")
    if wants_ndjson(request):
        return StreamingResponse(
            stream(engine, feed, pull, signer, params.limit),
            media_type=NDJSON,
            headers={"Cache-Control": "no-store"},
        )
    body = await read_page(engine, feed, pull, signer, params.limit or 1000)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


def add_exchange_route(
    router: APIRouter,
    feed: Feed,
    *,
    operation_id: str,
    summary: str,
    description: str,
    item_model: type[BaseModel],
) -> None:
    """`GET /api/v1/exchange/<kind>` on `router` for `feed`: every signed-in role, its subtree."""

    page = create_model(
        f"ExchangePage{item_model.__name__.removesuffix('ExchangeItem')}",
        __base__=ExchangePage,
        items=(list[item_model], ...),  # type: ignore[valid-type]
    )

    async def endpoint(
        request: Request, principal: CurrentPrincipal, params: Annotated[ExchangeParams, Depends()]
    ) -> Response:
        return await answer(request, principal, params, feed)

    router.add_api_route(
        f"/api/v1/exchange/{feed.kind}",
        endpoint,
        methods=["GET"],
        operation_id=operation_id,
        summary=summary,
        description=description,
        tags=["exchange"],
        response_model=None,
        openapi_extra=access_rule("any"),
        responses={
            200: {
                "model": page | DryRun,
                "description": "a page (JSON), the whole pull (NDJSON), or the dry run's counts",
                "content": {NDJSON: {"schema": {"type": "string", "description": "one JSON object a line"}}},
            },
            **problem_responses(400, 401, 404, 422, 503),
        },
    )
