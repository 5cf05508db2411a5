"""The full recomputation in PostgreSQL: every definition's single-year result for every region at or
below a root, stored in `indicator_result` by one `INSERT … SELECT`.

`domain.compute` stays the reference; this is the same arithmetic moved to where the figures are, so a
country-wide run does not build half a million Python objects (the Python path costs ~20 µs a result;
see docs/benchmarks.md). The rules, as in `domain.compute` (mode `reported_first`):

- Element totals, bottom-up one tree level per statement: a region's own figure is its total; a region
  without one takes the exact NUMERIC sum of its children's totals (max / min alongside for the
  `max` / `min` definitions). Each total carries `covered`, the number of leaves below the region whose
  figure (or an ancestor's, at or below the region) went into it: the total is complete exactly when
  `covered` equals the region's leaf count, and `leaves − covered` is the number of missing
  (leaf, element, year) figures the reference lists, since a missing figure is always a leaf's.
- Rates: Σ numerator × factor / Σ denominator from the totals, never an average; undefined when the
  denominator sums to zero. `weighted_mean`: Σ value × weight / Σ weight over the regions that report
  the value, with the weight's own completeness counted as the reference does. `not_aggregatable`:
  the region's own figure or missing.
- The one division is rounded as `decimals.divide` rounds (34 significant digits, ROUND_HALF_EVEN),
  computed exactly from an integer quotient and its remainder (`_DIVISION`), so stored values equal
  the reference's to the last digit.

Incomplete results store how many figures are missing and which elements; the live result endpoint
names the regions. Only whole-year figures (month 0) in the scope's states count (`sources.Scope`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from indicator_engine.data.models import ANNUAL
from indicator_engine.domain.catalogue import Definition
from indicator_engine.results import regions
from indicator_engine.results.sources import STATES, Scope, elements_of, load_catalogue

WORK_MEM = "128MB"
SUPPORTED = frozenset({"sum", "ratio_of_sums", "max", "min", "not_aggregatable", "weighted_mean"})


@dataclass(frozen=True)
class RollupReport:
    results: int
    ok: int
    incomplete: int
    undefined: int


def region_rows(root: str, extra: Sequence[str] = ()) -> list[tuple[str, str | None, int, int]]:
    """(code, parent, depth below root, leaf count) for root and every region below it."""
    children = regions.tree(root, extra)
    rows: list[tuple[str, str | None, int, int]] = []

    def walk(code: str, parent: str | None, depth: int) -> int:
        kids = children.get(code, ())
        index = len(rows)
        rows.append((code, parent, depth, 0))
        leaves = sum(walk(kid, code, depth + 1) for kid in kids) if kids else 1
        rows[index] = (code, parent, depth, leaves)
        return leaves

    walk(root, None, 0)
    return rows


# a / b to 34 significant digits, ROUND_HALF_EVEN, as `decimals.divide`: with S = 35 + scale(a) +
# (integer digits of b), q = div(|a| × 10^S, |b|) is exact and has at least 36 digits; rounding q to
# 34 digits with round() (half away from zero) is right except on an exact tie (digits after the 34th
# "50…0" and no remainder), where an even 34th digit truncates instead. Each stage is a subquery
# behind OFFSET 0 so PostgreSQL evaluates q once per row instead of inlining it into every use.
_DIVISION = """
SELECT z.*, CASE WHEN z._b IS NULL OR z._b = 0 THEN NULL WHEN z._a = 0 THEN 0::numeric
    ELSE z._sign * CASE
        WHEN rtrim(substr(z._qt, 35), '0') = '5' AND substr(z._qt, 34, 1) IN ('0', '2', '4', '6', '8')
             AND z._a * z._p = z._q * z._b THEN trunc(z._q, 34 - length(z._qt))
        ELSE round(z._q, 34 - length(z._qt)) END * z._ip END AS quotient
FROM (SELECT y.*, y._q::text AS _qt FROM (
    SELECT x.*, CASE WHEN x._b <> 0 THEN div(x._a * x._p, x._b) END AS _q FROM (
        SELECT w.*, abs(w.dividend) AS _a, abs(w.divisor) AS _b, sign(w.dividend) * sign(w.divisor) AS _sign,
               ('1e' || (35 + scale(w.dividend) + length(trunc(abs(w.divisor))::text)))::numeric AS _p,
               ('1e-' || (35 + scale(w.dividend) + length(trunc(abs(w.divisor))::text)))::numeric AS _ip
        FROM ({base}) w OFFSET 0) x OFFSET 0) y OFFSET 0) z
"""

_FILTER = (
    "d.month = $1 AND d.year = ANY($2::int[]) AND d.state = ANY($3::text[]) "
    "AND d.element_code = ANY($4::text[]) AND d.region_code LIKE $5"
)


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


async def store_all(
    session: AsyncSession,
    *,
    years: Sequence[int],
    codes: Sequence[str] | None = None,
    root: str = regions.COUNTRY,
    scope: Scope = "approved",
) -> RollupReport:
    """Recompute and store every region's single-year result at or below `root` for each definition
    (all, or `codes`) and year, replacing the stored ones; in the session's transaction (not committed)."""
    catalogue = await load_catalogue(session)
    definitions: list[Definition] = [
        catalogue.definitions[code] for code in (codes or sorted(catalogue.definitions))
    ]
    for definition in definitions:
        if definition.regions.kind not in SUPPORTED:
            raise ValueError(f"{definition.code}: no SQL roll-up for {definition.regions.kind}")
    elements = sorted({element for definition in definitions for element in elements_of(definition)})
    span = sorted(set(years))
    if not span or not definitions:
        return RollupReport(0, 0, 0, 0)
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    db: Any = raw.driver_connection  # asyncpg on the session's own connection and transaction
    filters = (ANNUAL, span, list(STATES[scope]), elements, _like(regions.prefix(root)))
    # Hash joins and aggregates over ~500,000 totals in memory instead of external merge sorts (the
    # default 4 MB spilled every join to disk); restored at the end, the caller's transaction goes on.
    previous_work_mem = await db.fetchval("SELECT current_setting('work_mem')")
    previous_mergejoin = await db.fetchval("SELECT current_setting('enable_mergejoin')")
    await db.execute("SELECT set_config('work_mem', $1, true)", WORK_MEM)

    await db.execute(
        "DROP TABLE IF EXISTS pg_temp.rollup_region, pg_temp.rollup_total, pg_temp.rollup_weighted;"
        "CREATE TEMP TABLE rollup_region (code text PRIMARY KEY, parent text, depth int, leaves int);"
        "CREATE TEMP TABLE rollup_total (region text, element text, year int, depth int, own boolean, "
        "s numeric, mx numeric, mn numeric, covered int);"
        "CREATE TEMP TABLE rollup_weighted (region text, element text, weight text, year int, depth int, "
        "own boolean, vw numeric, w numeric, covered int, wmiss int)"
    )

    async def load_regions(extra: Sequence[str]) -> list[tuple[str, str | None, int, int]]:
        rows = region_rows(root, extra)
        await db.execute("TRUNCATE rollup_region")
        await db.execute(
            "INSERT INTO rollup_region SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::int[])",
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        )
        await db.execute("ANALYZE rollup_region")
        return rows

    tree = await load_regions(())
    max_depth = max(row[2] for row in tree)
    # max / min are carried only for the elements a max / min definition reads (NULLs aggregate free).
    extreme = sorted({d.formula.numerator for d in definitions if d.regions.kind in ("max", "min")})
    own_rows = (
        "INSERT INTO rollup_total SELECT d.region_code, d.element_code, d.year, r.depth, true, d.value, "
        "CASE WHEN d.element_code = ANY($6::text[]) THEN d.value END, "
        "CASE WHEN d.element_code = ANY($6::text[]) THEN d.value END, r.leaves "
        f"FROM data_value d {{join}} rollup_region r ON r.code = d.region_code WHERE {_FILTER}"
    )
    await db.execute(own_rows.format(join="LEFT JOIN"), *filters, extreme)
    # Codes in the data but not in the administrative list still roll up through their parents (as
    # `regions.tree` places them for the reference): found among the rows just copied, not by
    # another pass over data_value.
    extra = [row[0] for row in await db.fetch("SELECT DISTINCT region FROM rollup_total WHERE depth IS NULL")]
    if extra:
        tree = await load_regions(extra)
        max_depth = max(row[2] for row in tree)
        await db.execute("TRUNCATE rollup_total")
        await db.execute(own_rows.format(join="JOIN"), *filters, extreme)
    await db.execute("ANALYZE rollup_total")
    for depth in range(max_depth - 1, -1, -1):
        # Regions at `depth` without a figure of their own: the sum of their children's totals.
        await db.execute(
            "INSERT INTO rollup_total SELECT r.parent, t.element, t.year, $1, false, "
            "sum(t.s), max(t.mx), min(t.mn), sum(t.covered) "
            "FROM rollup_total t JOIN rollup_region r ON r.code = t.region "
            "WHERE t.depth = $1 + 1 AND NOT EXISTS (SELECT 1 FROM rollup_total o WHERE o.depth = $1 "
            "AND o.own AND o.region = r.parent AND o.element = t.element AND o.year = t.year) "
            "GROUP BY r.parent, t.element, t.year",
            depth,
        )

    weighted = sorted(
        {
            (d.formula.numerator, d.regions.weight)
            for d in definitions
            if d.regions.kind == "weighted_mean" and d.regions.weight is not None
        }
    )
    if weighted:
        pairs = ([e for e, _ in weighted], [w for _, w in weighted])
        # A region reporting the value: (value × its weight total, weight total); an incomplete
        # weight total contributes nothing but its missing figures (`wmiss`), as in the reference.
        await db.execute(
            "INSERT INTO rollup_weighted SELECT v.region, v.element, p.weight, v.year, v.depth, true, "
            "CASE WHEN wt.covered = r.leaves THEN v.s * wt.s ELSE 0 END, "
            "CASE WHEN wt.covered = r.leaves THEN wt.s ELSE 0 END, r.leaves, "
            "r.leaves - coalesce(wt.covered, 0) "
            "FROM unnest($1::text[], $2::text[]) AS p(element, weight) "
            "JOIN rollup_total v ON v.element = p.element AND v.own "
            "JOIN rollup_region r ON r.code = v.region "
            "LEFT JOIN rollup_total wt ON wt.region = v.region AND wt.element = p.weight AND wt.year = v.year",
            *pairs,
        )
        for depth in range(max_depth - 1, -1, -1):
            await db.execute(
                "INSERT INTO rollup_weighted SELECT r.parent, t.element, t.weight, t.year, $1, false, "
                "sum(t.vw), sum(t.w), sum(t.covered), sum(t.wmiss) "
                "FROM rollup_weighted t JOIN rollup_region r ON r.code = t.region "
                "WHERE t.depth = $1 + 1 AND NOT EXISTS (SELECT 1 FROM rollup_weighted o WHERE o.depth = $1 "
                "AND o.own AND o.region = r.parent AND o.element = t.element AND o.weight = t.weight "
                "AND o.year = t.year) GROUP BY r.parent, t.element, t.weight, t.year",
                depth,
            )

    codes_arr = [d.code for d in definitions]
    # One writer of stored results at a time: the table has no unique index (see models), the
    # replacement below is what keeps one row per key.
    await db.execute("SELECT pg_advisory_xact_lock(hashtext('indicator_result'))")
    # Hash joins: the planner's merge joins sorted 450,000 rows three times over.
    await db.execute("SELECT set_config('enable_mergejoin', 'off', true)")
    await db.execute(
        "DELETE FROM indicator_result WHERE scope = $1 AND definition_code = ANY($2::text[]) "
        "AND year = ANY($3::int[]) AND region_code IN (SELECT code FROM rollup_region)",
        scope,
        codes_arr,
        span,
    )
    select = """
SELECT $1::text AS scope, f.code, y.year, r.code AS region, f.kind, f.num, f.den,
    CASE f.kind
        WHEN 'not_aggregatable' THEN CASE WHEN n.own THEN 0 ELSE 1 END
        WHEN 'ratio_of_sums' THEN 2 * r.leaves - coalesce(n.covered, 0) - coalesce(dn.covered, 0)
        WHEN 'weighted_mean' THEN r.leaves - coalesce(wm.covered, 0) + coalesce(wm.wmiss, 0)
        ELSE r.leaves - coalesce(n.covered, 0) END AS missing,
    array_remove(ARRAY[
        CASE WHEN (f.kind = 'not_aggregatable' AND n.own IS NOT TRUE)
               OR (f.kind <> 'not_aggregatable' AND f.kind <> 'weighted_mean'
                   AND coalesce(n.covered, 0) < r.leaves)
               OR (f.kind = 'weighted_mean' AND coalesce(wm.covered, 0) < r.leaves) THEN f.num END,
        CASE WHEN f.kind = 'ratio_of_sums' AND coalesce(dn.covered, 0) < r.leaves THEN f.den END,
        CASE WHEN f.kind = 'weighted_mean' AND coalesce(wm.wmiss, 0) > 0 THEN f.weight END
    ], NULL) AS missing_elements,
    CASE f.kind
        WHEN 'ratio_of_sums' THEN n.s * f.factor WHEN 'weighted_mean' THEN wm.vw END AS dividend,
    CASE f.kind WHEN 'ratio_of_sums' THEN dn.s WHEN 'weighted_mean' THEN wm.w END AS divisor,
    CASE f.kind WHEN 'max' THEN n.mx WHEN 'min' THEN n.mn ELSE n.s END AS plain,
    n.own AS own
FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[])
    AS f(code, kind, num, den, factor, weight)
CROSS JOIN unnest($8::int[]) AS y(year)
CROSS JOIN rollup_region r
"""
    totals = "LEFT JOIN rollup_total {t} ON {t}.element = f.{e} AND {t}.year = y.year AND {t}.region = r.code"
    absent_total = (
        "CROSS JOIN (SELECT NULL::numeric s, NULL::numeric mx, NULL::numeric mn, NULL::int covered, "
    )
    absent_total += "NULL::boolean own) {t}"
    weights = (
        "LEFT JOIN rollup_weighted wm ON wm.element = f.num AND wm.weight = f.weight AND wm.year = y.year "
        "AND wm.region = r.code"
    )
    absent_weights = (
        "CROSS JOIN (SELECT NULL::numeric vw, NULL::numeric w, NULL::int covered, NULL::int wmiss) wm"
    )
    # One part per kind of definition, each joining only the totals it reads (a join of every part
    # with every table probed 450,000 rows three times).
    base = " UNION ALL ".join(
        [
            select
            + totals.format(t="n", e="num")
            + " "
            + totals.format(t="dn", e="den")
            + " "
            + absent_weights
            + " WHERE f.kind = 'ratio_of_sums'",
            select
            + totals.format(t="n", e="num")
            + " "
            + absent_total.format(t="dn")
            + " "
            + absent_weights
            + " WHERE f.kind IN ('sum', 'max', 'min', 'not_aggregatable')",
            select
            + absent_total.format(t="n")
            + " "
            + absent_total.format(t="dn")
            + " "
            + weights
            + " WHERE f.kind = 'weighted_mean'",
        ]
    )
    # Only complete rows with a non-zero divisor reach the division.
    divided = _DIVISION.format(
        base=f"SELECT b.scope, b.code, b.year, b.region, b.kind, b.missing, b.missing_elements, b.plain, "
        f"b.own, CASE WHEN b.missing = 0 THEN b.dividend END AS dividend, "
        f"CASE WHEN b.missing = 0 THEN b.divisor END AS divisor, b.divisor AS raw_divisor FROM ({base}) b"
    )
    status = await db.fetch(
        f"""
WITH stored AS (
    INSERT INTO indicator_result (scope, definition_code, year, region_code, status, value, numerator,
        denominator, missing_count, missing_elements, undefined_reason)
    SELECT q.scope, q.code, q.year, q.region,
        CASE WHEN q.missing > 0 THEN 'incomplete'
             WHEN q.kind IN ('ratio_of_sums', 'weighted_mean') AND q.raw_divisor = 0 THEN 'undefined'
             ELSE 'ok' END,
        CASE WHEN q.missing > 0 THEN NULL
             WHEN q.kind IN ('ratio_of_sums', 'weighted_mean') THEN q.quotient
             ELSE q.plain END,
        CASE WHEN q.missing > 0 THEN NULL
             WHEN q.kind IN ('ratio_of_sums', 'sum') THEN q.plain
             WHEN q.kind = 'weighted_mean' AND q.raw_divisor <> 0 THEN q.dividend END,
        CASE WHEN q.missing > 0 THEN NULL
             WHEN q.kind = 'ratio_of_sums' THEN q.raw_divisor
             WHEN q.kind = 'weighted_mean' AND q.raw_divisor <> 0 THEN q.raw_divisor END,
        q.missing, q.missing_elements,
        CASE WHEN q.missing = 0 AND q.raw_divisor = 0 THEN
            CASE q.kind WHEN 'ratio_of_sums' THEN 'zero_denominator' WHEN 'weighted_mean' THEN 'zero_weight' END
        END
    FROM ({divided}) q
    RETURNING status
)
SELECT status, count(*) FROM stored GROUP BY status
""",
        scope,
        [d.code for d in definitions],
        [d.regions.kind for d in definitions],
        [d.formula.numerator for d in definitions],
        [d.formula.denominator for d in definitions],
        [d.formula.factor for d in definitions],
        [d.regions.weight for d in definitions],
        span,
    )
    await db.execute("DROP TABLE rollup_region, rollup_total, rollup_weighted")
    await db.execute("SELECT set_config('work_mem', $1, true)", previous_work_mem)
    await db.execute("SELECT set_config('enable_mergejoin', $1, true)", previous_mergejoin)
    counts = {row["status"]: row["count"] for row in status}
    return RollupReport(
        results=sum(counts.values()),
        ok=counts.get("ok", 0),
        incomplete=counts.get("incomplete", 0),
        undefined=counts.get("undefined", 0),
    )
