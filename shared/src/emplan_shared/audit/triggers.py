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

Before/after are the row as JSON, with `updated_at`-like noise excluded, large columns replaced
by their SHA-256 (a change still shows), and non-integer numbers as strings (exact decimals: JSON
numbers would come back as floats).

Entries are per object and transaction, not per statement: a request that updates a plan in two
flushes is one entry, from the state before the request to the state after it. The statement
triggers stage their rows in `audit_pending` (unlogged, emptied again before the commit ends); the
first of them in a transaction also inserts its id into `audit_flush`, whose deferred constraint
trigger merges the staged rows into `audit_log` at commit. Created and deleted again in one
transaction, or changed and changed back: no entry.
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

_KEY_FUNCTION = """
CREATE OR REPLACE FUNCTION emplan_audit_key(j jsonb, keys text[]) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT string_agg(j ->> u.k, ',' ORDER BY u.n) FROM unnest(keys) WITH ORDINALITY AS u(k, n)
$$
"""

_CLEAN_FUNCTION = """
CREATE OR REPLACE FUNCTION emplan_audit_clean(j jsonb, dropped text[], digested text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(jsonb_object_agg(e.key, CASE
        WHEN e.key = ANY (digested) AND e.value <> 'null'::jsonb
            THEN to_jsonb('sha256:' || encode(sha256(convert_to(e.value::text, 'UTF8')), 'hex'))
        WHEN jsonb_typeof(e.value) = 'number' AND e.value::text ~ '[.eE]' THEN to_jsonb(e.value::text)
        ELSE e.value END), '{}'::jsonb)
    FROM jsonb_each(j - dropped) AS e
$$
"""

# Each statement's changes, staged for the transaction's one flush at commit.
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
    source text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        source := 'SELECT NULL::jsonb AS old_j, to_jsonb(r) AS j FROM new_rows r';
    ELSIF TG_OP = 'DELETE' THEN
        source := 'SELECT to_jsonb(r) AS old_j, to_jsonb(r) AS j FROM old_rows r';
    ELSE
        source := 'SELECT o.j AS old_j, n.j FROM (SELECT to_jsonb(r) AS j FROM old_rows r) o '
            'JOIN (SELECT to_jsonb(r) AS j FROM new_rows r) n '
            'ON emplan_audit_key(o.j, $2) = emplan_audit_key(n.j, $2)';
    END IF;
    EXECUTE format(
        'WITH changed AS (%s), cleaned AS ('
        '  SELECT j, emplan_audit_clean(old_j, $3, $4) AS before, emplan_audit_clean(j, $3, $4) AS after'
        '  FROM changed) '
        'INSERT INTO audit_pending (actor_subject, actor_kind, actor_name, request_id, action, object_type,'
        '  object_id, region_code, before, after) '
        'SELECT nullif(current_setting(''emplan.actor_subject'', true), ''''),'
        '  coalesce(nullif(current_setting(''emplan.actor_kind'', true), ''''), ''system''),'
        '  nullif(current_setting(''emplan.actor_name'', true), ''''),'
        '  nullif(current_setting(''emplan.request_id'', true), ''''),'
        '  $5, $1, emplan_audit_key(j, $2), left((%s)::text, 6),'
        '  CASE WHEN $5 = ''create'' THEN NULL ELSE before END,'
        '  CASE WHEN $5 = ''delete'' THEN NULL ELSE after END '
        'FROM cleaned WHERE $5 <> ''update'' OR before IS DISTINCT FROM after '
        'ORDER BY emplan_audit_key(j, $2)',
        source, region_expr)
    USING object_type, keys, dropped, digested, action;
    INSERT INTO audit_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$fn$
"""

# At commit: one entry per object the transaction changed, from its first state to its last.
_FLUSH_FUNCTION = """
CREATE OR REPLACE FUNCTION emplan_audit_flush() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
    WITH moved AS (
        DELETE FROM audit_pending WHERE txid = NEW.txid RETURNING *
    ), merged AS (
        SELECT object_type, object_id, min(seq) AS first_seq,
            (array_agg(action ORDER BY seq))[1] AS first_action,
            (array_agg(action ORDER BY seq DESC))[1] AS last_action,
            (array_agg(before ORDER BY seq))[1] AS before,
            (array_agg(after ORDER BY seq DESC))[1] AS after,
            (array_agg(region_code ORDER BY seq DESC))[1] AS region_code,
            (array_agg(actor_subject ORDER BY seq DESC))[1] AS actor_subject,
            (array_agg(actor_kind ORDER BY seq DESC))[1] AS actor_kind,
            (array_agg(actor_name ORDER BY seq DESC))[1] AS actor_name,
            (array_agg(request_id ORDER BY seq DESC))[1] AS request_id
        FROM moved GROUP BY object_type, object_id
    )
    INSERT INTO audit_log (actor_subject, actor_kind, actor_name, request_id, action, object_type,
        object_id, region_code, before, after)
    SELECT actor_subject, actor_kind, actor_name, request_id,
        CASE WHEN first_action = 'create' THEN 'create' WHEN last_action = 'delete' THEN 'delete'
            ELSE 'update' END,
        object_type, object_id, region_code,
        CASE WHEN first_action = 'create' THEN NULL ELSE before END,
        CASE WHEN last_action = 'delete' THEN NULL ELSE after END
    FROM merged
    WHERE NOT (first_action = 'create' AND last_action = 'delete')
        AND NOT (first_action <> 'create' AND last_action <> 'delete' AND before IS NOT DISTINCT FROM after)
    ORDER BY first_seq;
    DELETE FROM audit_flush WHERE txid = NEW.txid;
    RETURN NULL;
END;
$fn$
"""

# The functions every audited table's triggers call, and the flush at commit; once per database.
AUDIT_FUNCTIONS = (
    _KEY_FUNCTION,
    _CLEAN_FUNCTION,
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

    `region` is an SQL expression over `j` (the row as jsonb) giving the object's region, so the
    trail obeys the same jurisdiction as the objects: `j ->> 'region_code'` by default, a lookup
    through the parent for rows without their own (`(SELECT t.region_code FROM task t WHERE
    t.id = (j ->> 'task_id')::uuid)`), or `None` for national reference data.
    """

    table: str
    object_type: str
    keys: tuple[str, ...] = ("id",)
    exclude: tuple[str, ...] = ("updated_at",)
    digest: tuple[str, ...] = ()
    region: str | None = "j ->> 'region_code'"
    operations: tuple[str, ...] = field(default=("insert", "update", "delete"))

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
    # Anything but a SELECT may write: Core inserts, updates, deletes and text() statements.
    if not state.is_select:
        _ensure_context(state.session)


async def set_audit_context(session: AsyncSession) -> None:
    """For writes that bypass the session (the raw driver's COPY and statements): call once first."""
    await session.run_sync(_ensure_context)
