"""audit: the trigger function replaced by the current one (each row's jsonb built once, from its
kept columns; `emplan.audit_direct` understood), as indicator-engine's 0008 does, so that a database
migrated before it records the same entries at the same cost as a new one

Revision ID: 0007_audit_function
Revises: 0006_exchange_audit
Create Date: 2026-11-23 18:00:00
"""

from collections.abc import Sequence

from alembic import op

from emplan_shared.audit.triggers import CHANGES_FUNCTION, CHANGES_FUNCTION_STAGED_ONLY

revision: str = "0007_audit_function"
down_revision: str | None = "0006_exchange_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(CHANGES_FUNCTION)


def downgrade() -> None:
    op.execute(CHANGES_FUNCTION_STAGED_ONLY)
