"""Migration steps for the audit trail: one call in a service's migration adds it."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from emplan_shared.audit.tables import AUDIT_TABLE, DROP_AUDIT_IMMUTABLE, audit_columns, immutable_statements


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
