"""audit trail; token versions and the revocation notification

Revision ID: 0002_audit_revocation
Revises: 0001_accounts
Create Date: 2026-11-23 11:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from emplan_shared.audit.migration_ops import create_audit_table, drop_audit_table
from gateway.revocation import DROP_NOTIFY, NOTIFY_FUNCTION, NOTIFY_TRIGGERS

revision: str = "0002_audit_revocation"
down_revision: str | None = "0001_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("account", "machine_client"):
        op.add_column(
            table, sa.Column("token_version", sa.Integer(), server_default=sa.text("0"), nullable=False)
        )
    create_audit_table()
    op.execute(NOTIFY_FUNCTION)
    for statement in NOTIFY_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    for statement in DROP_NOTIFY:
        op.execute(statement)
    drop_audit_table()
    for table in ("machine_client", "account"):
        op.drop_column(table, "token_version")
