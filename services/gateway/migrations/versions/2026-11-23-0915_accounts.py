"""accounts, machine clients, refresh tokens

Revision ID: 0001_accounts
Revises:
Create Date: 2026-11-23 09:06:46.181978
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from emplan_shared.messaging.migration_ops import create_messaging_tables, drop_messaging_tables

revision: str = "0001_accounts"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("roles", sa.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("username", name=op.f("uq_account_username")),
    )
    op.create_table(
        "machine_client",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("roles", sa.ARRAY(sa.String(length=40)), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machine_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_machine_client_client_id")),
    )
    create_messaging_tables()
    op.create_table(
        "refresh_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("fk_refresh_token_account_id_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
    )
    op.create_index(op.f("ix_refresh_token_account_id"), "refresh_token", ["account_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_token_account_id"), table_name="refresh_token")
    op.drop_table("refresh_token")
    drop_messaging_tables()
    op.drop_table("machine_client")
    op.drop_table("account")
