"""audit trail: the audit_log table and the triggers that record every write of definitions, data values and targets

Revision ID: 0006_audit
Revises: 0005_judgement_version
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

revision: str = "0006_audit"
down_revision: str | None = "0005_judgement_version"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Not recorded: data_value_history (the values' own append-only history, written with each change
# the trail already holds), indicator_result and target_status (computed from the recorded values
# and targets, rewritten by every recomputation).
# Frozen here (not imported from the service): what this revision created is what it drops.
AUDITED = (
    AuditedTable("data_element", "data_element", keys=("code",), region=None),
    AuditedTable("indicator_definition", "indicator_definition", keys=("code",), region=None),
    # changed_xid (the exchange cursor) changes with every write, like updated_at.
    AuditedTable("data_value", "data_value", exclude=("updated_at", "changed_xid")),
    AuditedTable("data_batch", "data_batch", region=None),
    AuditedTable("indicator_target", "indicator_target"),
)


def upgrade() -> None:
    create_audit_table()
    create_audit_triggers(*AUDITED)


def downgrade() -> None:
    drop_audit_triggers(*AUDITED)
    drop_audit_table()
