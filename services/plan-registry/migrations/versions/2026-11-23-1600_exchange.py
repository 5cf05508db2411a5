"""exchange API: published plans in commit order (changed_xid)

Revision ID: 0005_exchange
Revises: 0004_audit
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005_exchange"
down_revision: str | None = "0004_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (not imported): what this revision created is what it drops.
TOUCH = """
CREATE OR REPLACE FUNCTION emplan_touch_changed_xid() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.changed_xid := pg_current_xact_id();
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(TOUCH)
    # Existing rows take this migration's transaction id: a first pull reads them all anyway.
    op.execute("ALTER TABLE plan ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.execute(
        "CREATE TRIGGER plan_changed_xid BEFORE UPDATE ON plan"
        " FOR EACH ROW EXECUTE FUNCTION emplan_touch_changed_xid()"
    )
    op.create_index("ix_plan_changed_xid_id", "plan", ["changed_xid", "id"])


def downgrade() -> None:
    op.drop_index("ix_plan_changed_xid_id", table_name="plan")
    op.execute("DROP TRIGGER plan_changed_xid ON plan")
    op.drop_column("plan", "changed_xid")
    op.execute("DROP FUNCTION emplan_touch_changed_xid()")
