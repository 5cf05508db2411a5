"""target_status.judgement_version: counts changes of a target's whole judgement (target.judged)

Revision ID: 0005_judgement_version
Revises: 0004_rollup
Create Date: 2026-11-23 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_judgement_version"
down_revision: str | None = "0004_rollup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "target_status",
        sa.Column(
            "judgement_version",
            sa.Integer(),
            server_default=sa.text("0"),
            nullable=False,
            comment="number of changes of the whole judgement so far (target.judged)",
        ),
    )


def downgrade() -> None:
    op.drop_column("target_status", "judgement_version")
