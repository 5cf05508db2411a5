"""audit trail: the plan table's triggers leave changed_xid out of the recorded before/after

Revision ID: 0006_exchange_audit
Revises: 0005_exchange
Create Date: 2026-11-23 16:10:00
"""

from collections.abc import Sequence

from alembic import op

from emplan_shared.audit import AuditedTable

revision: str = "0006_exchange_audit"
down_revision: str | None = "0005_exchange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The triggers of revision 0004_audit, made again without the column 0005_exchange added: it changes
# with every write (the exchange API's order) and says nothing about the plan itself.
BEFORE = AuditedTable("plan", "plan", digest=("content", "warnings", "units"))
AFTER = AuditedTable(
    "plan", "plan", digest=("content", "warnings", "units"), exclude=("updated_at", "changed_xid")
)


def _replace(old: AuditedTable, new: AuditedTable) -> None:
    for statement in old.drop_statements() + new.create_statements():
        op.execute(statement)


def upgrade() -> None:
    _replace(BEFORE, AFTER)


def downgrade() -> None:
    _replace(AFTER, BEFORE)
