"""audit trail: the audit_log table and the triggers that record every write of plans, schemes, rounds and measures

Revision ID: 0004_audit
Revises: 0003_read_model
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
down_revision: str | None = "0003_read_model"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_VIA_ROUND = "(SELECT r.region_code FROM evaluation_round r WHERE r.id = (j ->> 'round_id')::uuid)"

# Frozen here (not imported from the service): what this revision created is what it drops.
AUDITED = (
    AuditedTable("plan", "plan"),
    AuditedTable("scoring_scheme", "scoring_scheme", digest=("rules",)),
    # Snapshots and frozen results are large documents: their SHA-256 shows that they changed.
    AuditedTable(
        "evaluation_round", "evaluation_round", digest=("snapshot", "frozen_scheme", "frozen_result")
    ),
    AuditedTable("improvement_measure", "improvement_measure", region=_VIA_ROUND),
)


def upgrade() -> None:
    create_audit_table()
    create_audit_triggers(*AUDITED)


def downgrade() -> None:
    drop_audit_triggers(*AUDITED)
    drop_audit_table()
