"""messaging tables and the department replica

Revision ID: 0001_departments
Revises:
Create Date: 2026-11-23 09:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from emplan_shared.messaging.migration_ops import create_messaging_tables, drop_messaging_tables

revision: str = "0001_departments"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "department",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
    )
    op.create_index(
        "ix_department_region_code",
        "department",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_table(
        "department_change",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("department_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["department.id"], name=op.f("fk_department_change_department_id_department")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department_change")),
        sa.UniqueConstraint("event_id", name=op.f("uq_department_change_event_id")),
    )
    op.create_index(op.f("ix_department_change_department_id"), "department_change", ["department_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_department_change_department_id"), table_name="department_change")
    op.drop_table("department_change")
    op.drop_index("ix_department_region_code", table_name="department")
    op.drop_table("department")
    drop_messaging_tables()
