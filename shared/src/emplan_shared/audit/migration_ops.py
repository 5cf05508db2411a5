"""Migration steps for the audit trail: one call in a service's migration adds it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from emplan_shared.audit.tables import AUDIT_TABLE, DROP_AUDIT_IMMUTABLE, audit_columns, immutable_statements
from emplan_shared.audit.triggers import (
    AUDIT_FUNCTIONS,
    DROP_AUDIT_FUNCTIONS,
    FLUSH_TABLE,
    PENDING_TABLE,
    AuditedTable,
    staging_columns,
)


def create_audit_table() -> None:
    op.create_table(AUDIT_TABLE, *audit_columns(), sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")))
    op.create_index("ix_audit_log_object", AUDIT_TABLE, ["object_type", "object_id", "id"])
    op.create_index("ix_audit_log_actor", AUDIT_TABLE, ["actor_subject", "id"])
    op.create_index("ix_audit_log_occurred_at", AUDIT_TABLE, ["occurred_at"])
    op.create_index(
        "ix_audit_log_region",
        AUDIT_TABLE,
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    for statement in immutable_statements():
        op.execute(statement)


def drop_audit_table() -> None:
    for statement in DROP_AUDIT_IMMUTABLE:
        op.execute(statement)
    op.drop_table(AUDIT_TABLE)


def create_audit_triggers(*tables: AuditedTable) -> None:
    """The staging tables and functions (once per database) and each table's statement triggers."""
    op.create_table(
        PENDING_TABLE,
        *staging_columns(),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_pending")),
        prefixes=["UNLOGGED"],
    )
    op.create_index("ix_audit_pending_txid", PENDING_TABLE, ["txid"])
    op.create_table(
        FLUSH_TABLE,
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("txid", name=op.f("pk_audit_flush")),
        prefixes=["UNLOGGED"],
    )
    for statement in AUDIT_FUNCTIONS:
        op.execute(statement)
    add_audit_triggers(*tables)


def drop_audit_triggers(*tables: AuditedTable) -> None:
    remove_audit_triggers(*tables)
    for statement in DROP_AUDIT_FUNCTIONS:
        op.execute(statement)
    op.drop_table(FLUSH_TABLE)
    op.drop_table(PENDING_TABLE)


def add_audit_triggers(*tables: AuditedTable) -> None:
    """A later migration's new tables, in a database where `create_audit_triggers` already ran."""
    for table in tables:
        for statement in table.create_statements():
            op.execute(statement)


def remove_audit_triggers(*tables: AuditedTable) -> None:
    for table in tables:
        for statement in table.drop_statements():
            op.execute(statement)
