"""audit: a bulk writer's entries straight into audit_log (emplan.audit_direct), without staging and the merge at commit

Revision ID: 0008_audit_direct
Revises: 0007_exchange
Create Date: 2026-11-23 17:00:00
"""

from collections.abc import Sequence

from alembic import op

from emplan_shared.audit.triggers import CHANGES_FUNCTION, CHANGES_FUNCTION_STAGED_ONLY

revision: str = "0008_audit_direct"
down_revision: str | None = "0007_exchange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(CHANGES_FUNCTION)


def downgrade() -> None:
    op.execute(CHANGES_FUNCTION_STAGED_ONLY)
