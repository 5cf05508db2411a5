"""Recording changes in the database itself: statement-level triggers write the audit rows.

The services write through the ORM unit of work, but also through Core upserts
(`INSERT … ON CONFLICT DO UPDATE`), `UPDATE … WHERE` statements, deferred columns the ORM never
loads, and `COPY` into a staging table followed by `INSERT … SELECT` (bulk data values). A session
event sees only the first of these; a trigger sees them all, in the same transaction as the write.

One trigger per table and operation (`AFTER INSERT|UPDATE|DELETE … FOR EACH STATEMENT`, with the
statement's transition tables), so a bulk load of a million rows costs one `INSERT … SELECT`, not
a million trigger calls. Who is acting and the request id reach the trigger as transaction-local
settings (`emplan.actor_*`, `emplan.request_id`), set once per transaction by the session events
below before its first write; without them the row says `system`.

Before/after are the row as JSON, with `updated_at`-like noise excluded and large columns replaced
by their SHA-256 (a change still shows). Numbers stay JSON numbers here (jsonb keeps a numeric
exactly); the query API hands non-integers out as strings (a float would lose decimals).

Entries are per object and transaction, not per statement: a request that updates a plan in two
flushes is one entry, from the state before the request to the state after it. The statement
triggers stage their rows in `audit_pending` (unlogged, emptied again before the commit ends); the
first of them in a transaction also inserts its id into `audit_flush`, whose deferred constraint
trigger merges the staged rows into `audit_log` at commit. Created and deleted again in one
transaction, or changed and changed back: no entry. A bulk writer whose statements write each object
once in the transaction sets `emplan.audit_direct` (`DIRECT_SETTING`) around them, and their entries
go straight into `audit_log` (the same entries, without the staging and the merge).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BigInteger, Column, Identity, Index, MetaData, Table, event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from emplan_shared.audit.context import current_actor
from emplan_shared.audit.tables import audit_columns
from emplan_shared.context import current_request_id

_CONTEXT_SET = "emplan_audit_context_set"
PENDING_TABLE = "audit_pending"
FLUSH_TABLE = "audit_flush"
DIRECT_SETTING = "emplan.audit_direct"

# Each statement's changes, staged for the transaction's one flush at commit. The key, the values
# (less the excluded columns, with the digested ones replaced) and the region are SQL expressions
# over the row as jsonb, built from the trigger's arguments and run as one INSERT … SELECT over the
# transition table: no per-row function call, no per-row sort.
#
# With `emplan.audit_direct` on (`DIRECT_SETTING`, transaction-local) the statement's entries go
# straight into audit_log instead: no staging row, no merge at commit (together ~4/5 of a bulk
# load's audit cost). Only for a writer that knows each object of the statement is written once in
# the transaction, by that statement alone (the bulk loader's UPDATE and INSERT): an object
# written both ways would get two entries.
_CHANGES_FUNCTION = r"""
CREATE OR REPLACE FUNCTION emplan_audit_changes() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    object_type text := TG_ARGV[0];
    keys text[] := TG_ARGV[1]::text[];
    dropped text[] := TG_ARGV[2]::text[];
    digested text[] := TG_ARGV[3]::text[];
    region_expr text := coalesce(nullif(TG_ARGV[4], ''), 'NULL');
    action text := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END;
    direct boolean := coalesce(current_setting('emplan.audit_direct', true), '') = 'on';
    key_j text;
    key_o text;
    clean_j text;
    clean_o text;
    column_name text;
    kept text;
    source text;
BEGIN
    -- The row as jsonb is built from the kept columns only: cheaper than the whole row less the
    -- excluded keys (a timestamp's text and the jsonb rebuilt by `-` were a third of the cost).
    SELECT string_agg(format('r.%I', attname), ', ' ORDER BY attnum) INTO kept
        FROM pg_attribute
        WHERE attrelid = TG_RELID AND attnum > 0 AND NOT attisdropped AND NOT attname = ANY(dropped);
    SELECT 'concat_ws('','', ' || string_agg(format('j ->> %L', k), ', ' ORDER BY n) || ')',
           'concat_ws('','', ' || string_agg(format('o ->> %L', k), ', ' ORDER BY n) || ')'
        INTO key_j, key_o
        FROM unnest(keys) WITH ORDINALITY AS u(k, n);
    clean_j := 'j';
    clean_o := 'o';
    FOREACH column_name IN ARRAY digested LOOP
        clean_j := clean_j || format(
            ' || CASE WHEN coalesce(j -> %1$L, ''null''::jsonb) = ''null''::jsonb THEN ''{}''::jsonb'
            ' ELSE jsonb_build_object(%1$L, ''sha256:'' || encode(sha256(convert_to((j -> %1$L)::text,'
            ' ''UTF8'')), ''hex'')) END', column_name);
        clean_o := clean_o || format(
            ' || CASE WHEN coalesce(o -> %1$L, ''null''::jsonb) = ''null''::jsonb THEN ''{}''::jsonb'
            ' ELSE jsonb_build_object(%1$L, ''sha256:'' || encode(sha256(convert_to((o -> %1$L)::text,'
            ' ''UTF8'')), ''hex'')) END', column_name);
    END LOOP;
    -- OFFSET 0 keeps each row's jsonb (and an update's before and after) a column of its own
    -- subquery: flattened, to_jsonb(r) ran once for every reference (key, region, values).
    IF TG_OP = 'INSERT' THEN
        source := format('SELECT j, NULL::jsonb AS before, %s AS after FROM'
            ' (SELECT to_jsonb(x) AS j FROM (SELECT %s FROM new_rows r) x OFFSET 0) s', clean_j, kept);
    ELSIF TG_OP = 'DELETE' THEN
        source := format('SELECT j, %s AS before, NULL::jsonb AS after FROM'
            ' (SELECT to_jsonb(x) AS j FROM (SELECT %s FROM old_rows r) x OFFSET 0) s', clean_j, kept);
    ELSE
        source := format('SELECT j, before, after FROM (SELECT j, %s AS before, %s AS after FROM'
            ' (SELECT to_jsonb(x) AS o FROM (SELECT %s FROM old_rows r) x OFFSET 0) x'
            ' JOIN (SELECT to_jsonb(x) AS j FROM (SELECT %s FROM new_rows r) x OFFSET 0) n ON %s = %s OFFSET 0) s'
            ' WHERE before IS DISTINCT FROM after',
            clean_o, clean_j, kept, kept, key_o, key_j);
    END IF;
    EXECUTE format(
        'INSERT INTO %I (actor_subject, actor_kind, actor_name, request_id, action, object_type,'
        '  object_id, region_code, before, after) '
        'SELECT $2, $3, $4, $5, $6, $1, %s, left((%s)::text, 6), before, after FROM (%s) AS changed',
        CASE WHEN direct THEN 'audit_log' ELSE 'audit_pending' END, key_j, region_expr, source)
    USING object_type,
        nullif(current_setting('emplan.actor_subject', true), ''),
        coalesce(nullif(current_setting('emplan.actor_kind', true), ''), 'system'),
        nullif(current_setting('emplan.actor_name', true), ''),
        nullif(current_setting('emplan.request_id', true), ''),
        action;
    IF NOT direct THEN
        INSERT INTO audit_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END;
$fn$
"""

# At commit: one entry per object the transaction changed, from its first state to its last; one
# window over the staged rows (one sort), not an aggregate per object.
_FLUSH_FUNCTION = """
CREATE OR REPLACE FUNCTION emplan_audit_flush() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    WITH moved AS (
        DELETE FROM audit_pending WHERE txid = NEW.txid RETURNING *
    ), ranked AS (
        SELECT m.*,
            first_value(action) OVER w AS first_action,
            first_value(before) OVER w AS first_before,
            first_value(seq) OVER w AS first_seq,
            row_number() OVER w AS position,
            count(*) OVER (PARTITION BY object_type, object_id) AS steps
        FROM moved m
        WINDOW w AS (PARTITION BY object_type, object_id ORDER BY seq)
    )
    INSERT INTO audit_log (actor_subject, actor_kind, actor_name, request_id, action, object_type,
        object_id, region_code, before, after)
    SELECT actor_subject, actor_kind, actor_name, request_id,
        CASE WHEN first_action = 'create' THEN 'create' WHEN action = 'delete' THEN 'delete'
            ELSE 'update' END,
        object_type, object_id, region_code,
        CASE WHEN first_action = 'create' THEN NULL ELSE first_before END,
        CASE WHEN action = 'delete' THEN NULL ELSE after END
    FROM ranked
    WHERE position = steps
        AND NOT (first_action = 'create' AND action = 'delete')
        AND NOT (first_action <> 'create' AND action <> 'delete' AND first_before IS NOT DISTINCT FROM after)
    ORDER BY first_seq;
    DELETE FROM audit_flush WHERE txid = NEW.txid;
    RETURN NULL;
END;
$fn$
"""

# The function the audited tables' triggers call, alone: for a migration that replaces it.
CHANGES_FUNCTION = _CHANGES_FUNCTION

# The function as each service's first audit migration created it (staging every change, merged at
# commit; no `emplan.audit_direct`), frozen: what the migrations that replace it put back on a
# downgrade. Never edit it; a new body is a new constant and a new migration.
CHANGES_FUNCTION_STAGED_ONLY = r"""
CREATE OR REPLACE FUNCTION emplan_audit_changes() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    object_type text := TG_ARGV[0];
    keys text[] := TG_ARGV[1]::text[];
    dropped text[] := TG_ARGV[2]::text[];
    digested text[] := TG_ARGV[3]::text[];
    region_expr text := coalesce(nullif(TG_ARGV[4], ''), 'NULL');
    action text := CASE TG_OP WHEN 'INSERT' THEN 'create' WHEN 'UPDATE' THEN 'update' ELSE 'delete' END;
    key_j text;
    key_o text;
    clean_j text;
    clean_o text;
    column_name text;
    source text;
BEGIN
    SELECT 'concat_ws('','', ' || string_agg(format('j ->> %L', k), ', ' ORDER BY n) || ')',
           'concat_ws('','', ' || string_agg(format('o ->> %L', k), ', ' ORDER BY n) || ')'
        INTO key_j, key_o
        FROM unnest(keys) WITH ORDINALITY AS u(k, n);
    clean_j := format('(j - %L::text[])', dropped);
    clean_o := format('(o - %L::text[])', dropped);
    FOREACH column_name IN ARRAY digested LOOP
        clean_j := clean_j || format(
            ' || CASE WHEN coalesce(j -> %1$L, ''null''::jsonb) = ''null''::jsonb THEN ''{}''::jsonb'
            ' ELSE jsonb_build_object(%1$L, ''sha256:'' || encode(sha256(convert_to((j -> %1$L)::text,'
            ' ''UTF8'')), ''hex'')) END', column_name);
        clean_o := clean_o || format(
            ' || CASE WHEN coalesce(o -> %1$L, ''null''::jsonb) = ''null''::jsonb THEN ''{}''::jsonb'
            ' ELSE jsonb_build_object(%1$L, ''sha256:'' || encode(sha256(convert_to((o -> %1$L)::text,'
            ' ''UTF8'')), ''hex'')) END', column_name);
    END LOOP;
    IF TG_OP = 'INSERT' THEN
        source := format('SELECT j, NULL::jsonb AS before, %s AS after FROM'
            ' (SELECT to_jsonb(r) AS j FROM new_rows r) s', clean_j);
    ELSIF TG_OP = 'DELETE' THEN
        source := format('SELECT j, %s AS before, NULL::jsonb AS after FROM'
            ' (SELECT to_jsonb(r) AS j FROM old_rows r) s', clean_j);
    ELSE
        source := format('SELECT j, before, after FROM (SELECT j, %s AS before, %s AS after FROM'
            ' (SELECT to_jsonb(r) AS o FROM old_rows r) x'
            ' JOIN (SELECT to_jsonb(r) AS j FROM new_rows r) n ON %s = %s) s'
            ' WHERE before IS DISTINCT FROM after',
            clean_o, clean_j, key_o, key_j);
    END IF;
    EXECUTE format(
        'INSERT INTO audit_pending (actor_subject, actor_kind, actor_name, request_id, action, object_type,'
        '  object_id, region_code, before, after) '
        'SELECT $2, $3, $4, $5, $6, $1, %s, left((%s)::text, 6), before, after FROM (%s) AS changed',
        key_j, region_expr, source)
    USING object_type,
        nullif(current_setting('emplan.actor_subject', true), ''),
        coalesce(nullif(current_setting('emplan.actor_kind', true), ''), 'system'),
        nullif(current_setting('emplan.actor_name', true), ''),
        nullif(current_setting('emplan.request_id', true), ''),
        action;
    INSERT INTO audit_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$fn$
"""


# The functions every audited table's triggers call, and the flush at commit; once per database.
AUDIT_FUNCTIONS = (
    _CHANGES_FUNCTION,
    _FLUSH_FUNCTION,
    "CREATE CONSTRAINT TRIGGER audit_flush_at_commit AFTER INSERT ON audit_flush "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION emplan_audit_flush()",
)
DROP_AUDIT_FUNCTIONS = (
    "DROP TRIGGER IF EXISTS audit_flush_at_commit ON audit_flush",
    "DROP FUNCTION IF EXISTS emplan_audit_flush()",
    "DROP FUNCTION IF EXISTS emplan_audit_changes()",
    "DROP FUNCTION IF EXISTS emplan_audit_clean(jsonb, text[], text[])",
    "DROP FUNCTION IF EXISTS emplan_audit_key(jsonb, text[])",
)


def staging_columns() -> list[Column[Any]]:
    return [
        Column("seq", BigInteger, Identity(always=True), primary_key=True),
        Column("txid", BigInteger, nullable=False, server_default=text("txid_current()")),
        *[column for column in audit_columns() if column.name not in ("id", "occurred_at")],
    ]


def add_audit_staging_tables(metadata: MetaData) -> tuple[Table, Table]:
    """The two tables the triggers stage a transaction's changes in (empty outside transactions).
    Unlogged: a crash loses only rows of transactions that never committed."""
    pending = Table(
        PENDING_TABLE,
        metadata,
        *staging_columns(),
        Index("ix_audit_pending_txid", "txid"),
        prefixes=["UNLOGGED"],
    )
    flush = Table(FLUSH_TABLE, metadata, Column("txid", BigInteger, primary_key=True), prefixes=["UNLOGGED"])
    return pending, flush


_OPERATIONS = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows"}
_OPERATIONS["delete"] = "OLD TABLE AS old_rows"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _array(values: tuple[str, ...]) -> str:
    return _literal("{" + ",".join(values) + "}")


@dataclass(frozen=True)
class AuditedTable:
    """How one table's changes are recorded.

    `region` is an SQL expression over `j` (the row as jsonb, less the excluded columns) giving the
    object's region, so the trail obeys the same jurisdiction as the objects: `j ->> 'region_code'`
    by default, a lookup through the parent for rows without their own (`(SELECT t.region_code
    FROM task t WHERE t.id = (j ->> 'task_id')::uuid)`), or `None` for national reference data.
    """

    table: str
    object_type: str
    keys: tuple[str, ...] = ("id",)
    exclude: tuple[str, ...] = ("updated_at",)
    digest: tuple[str, ...] = ()
    region: str | None = "j ->> 'region_code'"
    operations: tuple[str, ...] = field(default=("insert", "update", "delete"))

    def __post_init__(self) -> None:
        # The keys (and the region expression) read the row less the excluded columns.
        if set(self.keys) & set(self.exclude):
            raise ValueError(f"{self.table}: a key column cannot be excluded from the trail")

    def trigger_name(self, operation: str) -> str:
        return f"audit_{self.table}_{operation}"[:63]

    def create_statements(self) -> list[str]:
        arguments = ", ".join(
            [
                _literal(self.object_type),
                _array(self.keys),
                _array(self.exclude),
                _array(self.digest),
                _literal(self.region or ""),
            ]
        )
        return [
            f"CREATE TRIGGER {self.trigger_name(operation)} AFTER {operation.upper()} ON {self.table} "
            f"REFERENCING {_OPERATIONS[operation]} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION emplan_audit_changes({arguments})"
            for operation in self.operations
        ]

    def drop_statements(self) -> list[str]:
        return [
            f"DROP TRIGGER IF EXISTS {self.trigger_name(operation)} ON {self.table}"
            for operation in self.operations
        ]


def set_context_statement() -> tuple[Any, dict[str, str]]:
    actor = current_actor()
    statement = text(
        "SELECT set_config('emplan.actor_subject', :subject, true), "
        "set_config('emplan.actor_kind', :kind, true), "
        "set_config('emplan.actor_name', :name, true), "
        "set_config('emplan.request_id', :request_id, true)"
    )
    return statement, {
        "subject": actor.subject or "",
        "kind": actor.kind,
        "name": (actor.name or "")[:200],
        "request_id": current_request_id() or "",
    }


def _ensure_context(session: Session) -> None:
    if session.info.get(_CONTEXT_SET):
        return
    statement, parameters = set_context_statement()
    session.connection().execute(statement, parameters)
    session.info[_CONTEXT_SET] = True


@event.listens_for(Session, "after_begin")
def _after_begin(session: Session, _transaction: SessionTransaction, _connection: Any) -> None:
    session.info.pop(_CONTEXT_SET, None)


@event.listens_for(Session, "before_flush")
def _context_before_flush(session: Session, _flush_context: Any, _instances: object) -> None:
    if session.new or session.dirty or session.deleted:
        _ensure_context(session)


@event.listens_for(Session, "do_orm_execute")
def _context_before_statement(state: ORMExecuteState) -> None:
    # Core inserts, updates and deletes through the session (upserts, bulk updates). Not text():
    # the services write no SQL as text, and reads (advisory locks, queries) should not pay a round
    # trip; a writer on the raw connection calls set_audit_context first.
    if state.is_insert or state.is_update or state.is_delete:
        _ensure_context(state.session)


async def set_audit_context(session: AsyncSession) -> None:
    """For writes that bypass the session (the raw driver's COPY and statements): call once first."""
    await session.run_sync(_ensure_context)
