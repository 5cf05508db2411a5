"""The `audit_log` table, added to each service's own metadata, and the trigger that keeps it
append-only (no UPDATE, DELETE or TRUNCATE, whoever connects)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

AUDIT_TABLE = "audit_log"


def audit_columns() -> list[Column[object]]:
    return [
        # id orders the trail and is the cursor; occurred_at is the transaction's time.
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("actor_subject", String(200), nullable=True),
        Column("actor_kind", String(20), nullable=False),
        Column("actor_name", String(200), nullable=True),
        Column("request_id", String(128), nullable=True),
        Column("action", String(40), nullable=False),
        Column("object_type", String(60), nullable=False),
        Column("object_id", String(200), nullable=False),
        # The object's region, so reading the trail obeys the same jurisdiction as the objects.
        Column("region_code", String(6), nullable=True),
        Column("before", JSONB, nullable=True),
        Column("after", JSONB, nullable=True),
    ]


def add_audit_table(metadata: MetaData) -> Table:
    return Table(
        AUDIT_TABLE,
        metadata,
        *audit_columns(),
        Index("ix_audit_log_object", "object_type", "object_id", "id"),
        Index("ix_audit_log_actor", "actor_subject", "id"),
        Index("ix_audit_log_occurred_at", "occurred_at"),
        Index("ix_audit_log_region", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
    )


AUDIT_IMMUTABLE_FUNCTION = """
CREATE OR REPLACE FUNCTION emplan_audit_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
"""
# One statement each: asyncpg prepares statements, and a prepared statement holds one command.
AUDIT_IMMUTABLE_TRIGGERS = (
    "CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION emplan_audit_immutable()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION emplan_audit_immutable()",
)
DROP_AUDIT_IMMUTABLE = (
    "DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit_log",
    "DROP TRIGGER IF EXISTS audit_log_immutable ON audit_log",
    "DROP FUNCTION IF EXISTS emplan_audit_immutable()",
)


def immutable_statements() -> list[str]:
    return [AUDIT_IMMUTABLE_FUNCTION, *AUDIT_IMMUTABLE_TRIGGERS]
