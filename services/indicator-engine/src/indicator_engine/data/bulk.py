"""Bulk loading: rows checked one by one as they stream in, staged with COPY, the cross-row rules run
in SQL, then stored with one INSERT … ON CONFLICT, all in the request's transaction.

Memory stays flat whatever the size: rows are read, checked and sent to PostgreSQL in chunks
(`CHUNK_ROWS`), and the rules that need other rows (duplicates within the upload, deaths without
accidents, values already approved, the jump against last year) are joins on the staging table, not
Python sets of a million keys. Only the first `REPORT_LIMIT` rejected rows are kept for the report.

All or nothing by default: any rejected row aborts the load (problem+json listing the rows) and the
transaction rolls back, staging table and all. With `partial=true` the valid rows are stored and the
rejected ones reported.

The parsing and checking run in a worker thread chunk by chunk, so the event loop keeps serving other
requests while a large file is read.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncSession

from emplan_shared.audit import set_audit_context
from emplan_shared.audit.triggers import DIRECT_SETTING
from emplan_shared.auth import Principal
from emplan_shared.errors import ProblemItem, UnprocessableEntity
from emplan_shared.events.catalogue import INDICATOR_VALUES_LOADED
from emplan_shared.events.payloads import IndicatorValuesLoaded
from emplan_shared.messaging.outbox import enqueue
from indicator_engine.data.models import DataBatch
from indicator_engine.data.parsing import RawRow
from indicator_engine.data.rules import SOURCE_MAX, CleanRow, RowChecker, RowError
from indicator_engine.data.schemas import BulkFormat, BulkLoadReport, RejectedRow
from indicator_engine.data.service import DEATHS_NEED_ACCIDENTS, JUMP, WRITE_LOCK, checker_for
from indicator_engine.database import messaging
from indicator_engine.domain.decimals import MAX_INPUT_DIGITS
from indicator_engine.settings import Settings

logger = logging.getLogger(__name__)

CHUNK_ROWS = 20_000
REPORT_LIMIT = 1_000
STAGING = "indicator_bulk_staging"
# Non-negative plain decimals only: a minus sign goes to the full check, which rejects it for its reason.
_PLAIN_NUMBER = re.compile(r"\d+(\.\d+)?", re.ASCII).fullmatch
_MONTHS = {str(m): m for m in range(1, 13)} | {f"{m:02d}": m for m in range(1, 10)}
STAGING_COLUMNS = ("line", "element_code", "region_code", "year", "month", "value", "source")

_KEY = "{a}.element_code = {b}.element_code AND {a}.region_code = {b}.region_code AND {a}.year = {b}.year AND {a}.month = {b}.month"


def _same_key(a: str, b: str) -> str:
    return _KEY.format(a=a, b=b)


@dataclass
class Rejections:
    count: int = 0
    rows: list[RowError] = field(default_factory=list)
    lines: set[int] = field(default_factory=set)  # rows rejected by the SQL rules, to drop when partial

    def add(self, error: RowError) -> None:
        if len(self.rows) < REPORT_LIMIT:
            self.rows.append(error)

    def add_row(self, errors: list[RowError]) -> None:
        self.count += 1
        for error in errors:
            self.add(error)


@dataclass
class Touched:
    """The elements, regions and years of the rows that passed the row checks, gathered while
    reading (for the event): cheaper than reading them back from the staging table."""

    elements: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    years: set[str] = field(default_factory=set)


def _csv_text(text: str | None) -> str:
    # Always quoted, so commas, quotes and line breaks in a source survive; an absent one is NULL.
    return "" if text is None else '"' + text.replace('"', '""') + '"'


def _take(
    rows: Iterator[RawRow | RowError],
    checker: RowChecker,
    rejections: Rejections,
    touched: Touched | None = None,
) -> tuple[list[str], int, bool]:
    """Read, check and convert up to CHUNK_ROWS rows to CSV lines for COPY (runs in a worker thread).

    The lines carry the numbers as the checked text: PostgreSQL parses NUMERIC from text exactly, and
    faster than Python builds Decimals for the binary protocol.

    Most rows of a real file are plain: ASCII codes the catalogue and region list know, a 4-digit
    year, a plain non-negative decimal. Those pass through an inline fast path that accepts exactly
    what `RowChecker.check` would accept for them; every other row goes to `check`, which gives the
    reasons."""
    records: list[str] = []
    append = records.append
    seen = 0
    check = checker.check
    elements = checker.elements
    counts = {code for code, element in elements.items() if element.kind == "count"}
    # One set lookup each instead of several checks: the regions known and within the jurisdiction,
    # the years in range written as four ASCII digits.
    jurisdiction = checker.jurisdiction
    allowed = {code for code in checker.known_regions if code.startswith(jurisdiction)}
    years = {text for text in map(str, range(checker.min_year, checker.max_year + 1)) if len(text) == 4}
    plain = _PLAIN_NUMBER
    touched = touched or Touched()
    add_element, add_region, add_year = touched.elements.add, touched.regions.add, touched.years.add
    for item in rows:
        seen += 1
        if isinstance(item, RowError):
            rejections.add_row([item])
        else:
            row, element, region, year, month, value, unit, source = item
            if (
                not unit
                and type(value) is str
                and type(year) is str
                and type(region) is str
                and element in elements
                and region in allowed
                and year in years
                and len(value) <= MAX_INPUT_DIGITS
                and value.isascii()
                and (value.isdigit() or plain(value))
                and (element not in counts or "." not in value)
                and (month is None or month == "" or (type(month) is str and month in _MONTHS))
                and (
                    source is None
                    or (type(source) is str and len(source) <= SOURCE_MAX and source == source.strip())
                )
            ):
                # An empty source is NULL, as in check().
                month_number = _MONTHS[month] if isinstance(month, str) and month else 0
                append(
                    f"{row},{element},{region},{year},{month_number},{value},{_csv_text(source) if source else ''}\n"
                )
                add_element(element)  # type: ignore[arg-type]  # a key of elements: a str
                add_region(region)
                add_year(year)
                if seen >= CHUNK_ROWS:
                    return records, seen, False
                continue
            result = check(*item)
            if isinstance(result, CleanRow):
                append(
                    f"{result.row},{result.element_code},{result.region_code},{result.year},{result.month},"
                    f"{format(result.value, 'f')},{_csv_text(result.source)}\n"
                )
                add_element(result.element_code)
                add_region(result.region_code)
                add_year(str(result.year))
            else:
                rejections.add_row(result)
        if seen >= CHUNK_ROWS:
            return records, seen, False
    return records, seen, True


async def _driver(session: AsyncSession) -> asyncpg.Connection:
    # Statements on the raw connection bypass the session's events: who is writing, for the audit
    # triggers, is set on this transaction first.
    await set_audit_context(session)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


async def _fetch(driver: asyncpg.Connection, query: str, *args: Any) -> list[asyncpg.Record]:
    # An unnamed, uncached statement: the staging table is created anew in every load, and a cached
    # plan would point at the dropped one.
    statement = await driver.prepare(query)
    records: list[asyncpg.Record] = await statement.fetch(*args)
    return records


async def load(
    session: AsyncSession,
    principal: Principal,
    settings: Settings,
    rows: Iterator[RawRow | RowError],
    *,
    format: BulkFormat,
    filename: str | None,
    partial: bool,
) -> BulkLoadReport:
    checker = await checker_for(session, principal, settings)
    driver = await _driver(session)
    await driver.execute(
        f"DROP TABLE IF EXISTS pg_temp.{STAGING}; "
        f"CREATE TEMP TABLE {STAGING} (line integer, element_code text, region_code text, year smallint, "
        "month smallint, value numeric, source text) ON COMMIT DROP"
    )
    rejections = Rejections()
    started = time.perf_counter()
    total = 0
    staged = 0
    done = False
    # A pipeline of two: the worker thread reads and checks the next chunk while PostgreSQL copies
    # this one (the thread releases the GIL while the event loop waits on the socket).
    gathered = Touched()
    pending = asyncio.ensure_future(asyncio.to_thread(_take, rows, checker, rejections, gathered))
    while not done:
        records, seen, done = await pending
        if not done:
            pending = asyncio.ensure_future(asyncio.to_thread(_take, rows, checker, rejections, gathered))
        total += seen
        if records:
            data = io.BytesIO("".join(records).encode())
            try:
                await driver.copy_to_table(STAGING, source=data, columns=STAGING_COLUMNS, format="csv")
            except BaseException:
                if not done:
                    pending.cancel()
                    with contextlib.suppress(BaseException):
                        await pending  # the thread finishes its chunk; nothing may read the file after
                raise
            staged += len(records)

    read = time.perf_counter()
    # Exclusive against other bulk loads and single entries (they take it shared) from here to the
    # commit: the rules below and the plain INSERT rely on nobody adding these keys meanwhile.
    await driver.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")
    # Hash joins in memory rather than sorts spilled to disk, for this transaction only.
    await driver.execute("SET LOCAL work_mem = '64MB'")
    if staged:
        # Temporary tables are never auto-analysed: without statistics the planner takes the staging
        # table for tiny and joins it by nested loops.
        await driver.execute(f"ANALYZE {STAGING}")
        await _cross_row_rules(driver, rejections)
    checked = time.perf_counter()
    if rejections.count and not partial:
        raise UnprocessableEntity(
            f"共 {rejections.count} 行数据未通过校验，未导入任何数据",
            code="bulk_rejected",
            errors=[
                ProblemItem(line=e.row, field=e.field, code=e.code, detail=e.detail)
                for e in sorted(rejections.rows, key=lambda e: e.row)
            ],
        )
    if rejections.lines:
        await _fetch(
            driver, f"DELETE FROM {STAGING} WHERE line = ANY($1::integer[])", sorted(rejections.lines)
        )
        staged -= len(rejections.lines)

    inserted = updated = flagged = 0
    batch_id: uuid.UUID | None = None
    if staged > 0:
        batch_id = uuid.uuid4()
        inserted, updated, flagged = await _store(driver, batch_id, principal.subject, settings.jump_factor)
    logger.info(
        "bulk load: %d rows read, checked and staged in %.2f s, cross-row rules %.2f s, stored in %.2f s",
        total,
        read - started,
        checked - read,
        time.perf_counter() - checked,
    )
    report = BulkLoadReport(
        batch_id=batch_id if inserted or updated else None,
        format=format,
        partial=partial,
        rows_total=total,
        rows_inserted=inserted,
        rows_updated=updated,
        rows_unchanged=max(staged, 0) - inserted - updated,
        rows_rejected=rejections.count,
        rows_flagged=flagged,
        rejected=[
            RejectedRow(row=e.row, field=e.field, code=e.code, detail=e.detail)
            for e in sorted(rejections.rows, key=lambda e: e.row)
        ],
    )
    if batch_id is not None and (inserted or updated):
        touched: dict[str, list[Any]] | asyncpg.Record = {
            "elements": sorted(gathered.elements),
            "years": sorted(int(year) for year in gathered.years),
            "regions": sorted(gathered.regions),
        }
        if rejections.lines:
            # Rows dropped by the cross-row rules: what was staged is what the staging table still holds.
            touched = (
                await _fetch(
                    driver,
                    # DISTINCT in a subquery is hashed; array_agg(DISTINCT …) sorted all rows, three times.
                    f"SELECT (SELECT array_agg(element_code ORDER BY element_code) "
                    f"FROM (SELECT DISTINCT element_code FROM {STAGING}) e) AS elements, "
                    f"(SELECT array_agg(year ORDER BY year) FROM (SELECT DISTINCT year FROM {STAGING}) y) AS years, "
                    f"(SELECT array_agg(region_code ORDER BY region_code) "
                    f"FROM (SELECT DISTINCT region_code FROM {STAGING}) r) AS regions",
                )
            )[0]
        session.add(
            DataBatch(
                id=batch_id,
                format=format.value,
                filename=filename,
                partial=partial,
                rows_total=total,
                rows_loaded=inserted + updated,
                rows_rejected=rejections.count,
                rows_flagged=flagged,
                created_by=principal.subject,
            )
        )
        event = INDICATOR_VALUES_LOADED.build(
            IndicatorValuesLoaded(
                batch_id=batch_id,
                format=format.value,
                rows_inserted=inserted,
                rows_updated=updated,
                rows_flagged=flagged,
                element_codes=list(touched["elements"]),
                years=list(touched["years"]),
                region_codes=list(touched["regions"]),
                actor=principal.subject,
            ),
            subject=f"indicator-batch/{batch_id}",
            region_code=principal.region_code,
        )
        await enqueue(session, messaging.outbox_event, event)
        await session.flush()
    return report


async def _cross_row_rules(driver: asyncpg.Connection, rejections: Rejections) -> None:
    def reject(line: int, field_name: str | None, code: str, detail: str) -> None:
        if line not in rejections.lines:
            rejections.lines.add(line)
            rejections.count += 1
        rejections.add(RowError(line, field_name, code, detail))

    duplicates = await _fetch(
        driver,
        f"SELECT array_agg(line ORDER BY line) AS lines FROM {STAGING} "
        "GROUP BY element_code, region_code, year, month HAVING count(*) > 1",
    )
    for record in duplicates:
        lines: list[int] = record["lines"]
        for line in lines:
            others = "、".join(str(other) for other in lines if other != line)
            reject(line, None, "duplicate", f"与第 {others} 行重复（同一数据元素、地区、年份和月份）")

    approved = await _fetch(
        driver,
        f"SELECT s.line FROM {STAGING} s JOIN data_value d ON {_same_key('d', 's')} WHERE d.state = 'approved'",
    )
    for record in approved:
        reject(record["line"], "value", "value_approved", "该数据已审核通过，不能修改，请先撤销审核")

    for deaths, accidents in DEATHS_NEED_ACCIDENTS:
        offending = await _fetch(
            driver,
            # The two elements' rows read from the staging table once (it was scanned three times).
            f"""
            WITH pair AS MATERIALIZED (
                SELECT line, element_code, region_code, year, month, value FROM {STAGING}
                 WHERE element_code = $1 OR element_code = $2
            )
            SELECT d.line, 'deaths' AS side FROM pair d
              LEFT JOIN pair a ON a.element_code = $2 AND a.region_code = d.region_code
                              AND a.year = d.year AND a.month = d.month
              LEFT JOIN data_value v ON v.element_code = $2 AND v.region_code = d.region_code
                                   AND v.year = d.year AND v.month = d.month
             WHERE d.element_code = $1 AND d.value > 0 AND COALESCE(a.value, v.value) = 0
            UNION ALL
            SELECT a.line, 'accidents' FROM pair a
              LEFT JOIN pair d ON d.element_code = $1 AND d.region_code = a.region_code
                              AND d.year = a.year AND d.month = a.month
              LEFT JOIN data_value v ON v.element_code = $1 AND v.region_code = a.region_code
                                   AND v.year = a.year AND v.month = a.month
             WHERE a.element_code = $2 AND a.value = 0 AND COALESCE(d.value, v.value) > 0
            """,
            deaths,
            accidents,
        )
        for record in offending:
            if record["side"] == "deaths":
                reject(
                    record["line"],
                    "value",
                    "deaths_without_accidents",
                    "有死亡人数，但同一地区同期的事故起数为 0",
                )
            else:
                reject(
                    record["line"],
                    "value",
                    "deaths_without_accidents",
                    "事故起数为 0，但同一地区同期有死亡人数",
                )


async def _store(
    driver: asyncpg.Connection, batch_id: uuid.UUID, actor: str, factor: int
) -> tuple[int, int, int]:
    """Keep the versions that change, update them, insert the new keys; returns (inserted, updated,
    flagged). Plain UPDATE and INSERT rather than INSERT … ON CONFLICT: the bulk write lock
    (`WRITE_LOCK`, held exclusively here, shared by single entries) guarantees no other transaction
    adds one of these keys meanwhile, and the speculative insertion of ON CONFLICT cost a fifth more."""
    # Last year's value: from the upload itself when it has that year (a window over the staging
    # table, cheaper than joining it to itself), else the stored one.
    staged_with_previous = f"""
        (SELECT t.*, CASE WHEN lag(t.year) OVER w = t.year - 1 THEN lag(t.value) OVER w END AS previous
           FROM {STAGING} t
         WINDOW w AS (PARTITION BY t.element_code, t.region_code, t.month ORDER BY t.year)) s
        LEFT JOIN data_value v ON v.element_code = s.element_code AND v.region_code = s.region_code
                              AND v.month = s.month AND v.year = s.year - 1
    """
    flag = (
        "CASE WHEN COALESCE(s.previous, v.value) > 0 AND s.value > COALESCE(s.previous, v.value) * $3 "
        f"THEN '{JUMP}' END"
    )
    changed = "d.state <> 'approved' AND (d.value <> s.value OR d.source IS DISTINCT FROM s.source)"
    # The UPDATE and the INSERT below write each value once in this transaction (the staging rows are
    # unique by key, the INSERT takes only keys not stored), and nothing else in it writes values: their
    # audit entries may go straight into audit_log, without staging and the merge at commit.
    await driver.execute(f"SELECT set_config('{DIRECT_SETTING}', 'on', true)")
    kept = (
        await _fetch(
            driver,
            f"""
            WITH kept AS (
                INSERT INTO data_value_history (value_id, element_code, region_code, year, month, version,
                       value, source, state, review_flag, batch_id, entered_by, entered_at,
                       superseded_by_action, superseded_by)
                SELECT d.id, d.element_code, d.region_code, d.year, d.month, d.version, d.value, d.source,
                       d.state, d.review_flag, d.batch_id, d.updated_by, d.updated_at, 'corrected', $1
                  FROM data_value d JOIN {STAGING} s ON {_same_key("d", "s")}
                 WHERE {changed}
                RETURNING 1
            )
            SELECT count(*) AS rows FROM kept
            """,
            actor,
        )
    )[0]
    updated: dict[str, int] | asyncpg.Record = {"rows": 0, "flagged": 0}
    # A version kept for each value that changes: none kept, nothing to update (the UPDATE would
    # still sort the whole upload for last year's values, ~0.3 s a million rows).
    if kept["rows"]:
        updated = (
            await _fetch(
                driver,
                f"""
                WITH changed AS (
                    UPDATE data_value d
                       SET value = s.value, source = s.source, state = 'draft', review_flag = {flag},
                           version = d.version + 1, batch_id = $1, updated_by = $2, updated_at = now()
                      FROM {staged_with_previous}
                     WHERE {_same_key("d", "s")} AND {changed}
                    RETURNING d.review_flag
                )
                SELECT count(*) AS rows, count(review_flag) AS flagged FROM changed
                """,
                batch_id,
                actor,
                factor,
            )
        )[0]
    inserted = (
        await _fetch(
            driver,
            f"""
            WITH added AS (
                INSERT INTO data_value (element_code, region_code, year, month, value, source, state,
                       review_flag, version, batch_id, entered_by, updated_by)
                SELECT s.element_code, s.region_code, s.year, s.month, s.value, s.source, 'draft', {flag},
                       1, $1, $2, $2
                  FROM {staged_with_previous}
                 WHERE NOT EXISTS (SELECT FROM data_value d WHERE {_same_key("d", "s")})
                RETURNING review_flag
            )
            SELECT count(*) AS rows, count(review_flag) AS flagged FROM added
            """,
            batch_id,
            actor,
            factor,
        )
    )[0]
    await driver.execute(f"SELECT set_config('{DIRECT_SETTING}', 'off', true)")
    return (
        int(inserted["rows"]),
        int(updated["rows"]),
        int(inserted["flagged"]) + int(updated["flagged"]),
    )
