"""audit trail: the audit_log table and the triggers that record every write of the plans and the directory

Revision ID: 0004_audit
Revises: 0003_plans
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

from emplan_shared.audit import AuditedTable
from emplan_shared.audit.migration_ops import (
    create_audit_table,
    create_audit_triggers,
    drop_audit_table,
    drop_audit_triggers,
)

revision: str = "0004_audit"
down_revision: str | None = "0003_plans"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (not imported from the service): what this revision created is what it drops.
AUDITED = (
    AuditedTable("region", "region", keys=("code",), region="j ->> 'code'"),
    AuditedTable("department", "department"),
    # The document text and the parsed content are large: their SHA-256 shows that they changed.
    AuditedTable("plan_document", "plan_document", digest=("text",), region=None),
    AuditedTable("plan", "plan", digest=("content", "warnings", "units")),
)


def upgrade() -> None:
    create_audit_table()
    create_audit_triggers(*AUDITED)


def downgrade() -> None:
    drop_audit_triggers(*AUDITED)
    drop_audit_table()
