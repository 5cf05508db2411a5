"""messaging tables and the directory of regions and departments

Revision ID: 0001_directory
Revises:
Create Date: 2026-11-23 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from emplan_shared.messaging.migration_ops import create_messaging_tables, drop_messaging_tables

revision: str = "0001_directory"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_messaging_tables()
    op.create_table(
        "region",
        sa.Column("code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("level", sa.String(length=20), nullable=False),
        sa.Column("parent_code", sa.String(length=6), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(["parent_code"], ["region.code"], name=op.f("fk_region_parent_code_region")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_region")),
    )
    op.create_index(op.f("ix_region_name"), "region", ["name"])
    op.create_index(op.f("ix_region_parent_code"), "region", ["parent_code"])
    op.create_table(
        "department",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("aliases", sa.ARRAY(sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_code"], ["region.code"], name=op.f("fk_department_region_code_region")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
        sa.UniqueConstraint("region_code", "name", name=op.f("uq_department_region_code_name")),
    )
    op.create_index(
        "ix_department_region_code",
        "department",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_department_region_code", table_name="department")
    op.drop_table("department")
    op.drop_index(op.f("ix_region_parent_code"), table_name="region")
    op.drop_index(op.f("ix_region_name"), table_name="region")
    op.drop_table("region")
    drop_messaging_tables()
