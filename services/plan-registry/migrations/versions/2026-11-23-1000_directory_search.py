"""directory search: regions' short names and the indexes behind region search

Revision ID: 0002_directory
Revises: 0001_directory
Create Date: 2026-11-23 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_directory"
down_revision: str | None = "0001_directory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("region", sa.Column("short_name", sa.String(length=100), nullable=True))
    # Regions added before this migration keep their name as short name until load-regions runs.
    op.execute("UPDATE region SET short_name = name")
    op.alter_column("region", "short_name", nullable=False)
    op.create_index(
        "ix_region_short_name", "region", ["short_name"], postgresql_ops={"short_name": "text_pattern_ops"}
    )
    op.create_index("ix_region_name_pattern", "region", ["name"], postgresql_ops={"name": "text_pattern_ops"})


def downgrade() -> None:
    op.drop_index("ix_region_name_pattern", table_name="region")
    op.drop_index("ix_region_short_name", table_name="region")
    op.drop_column("region", "short_name")
