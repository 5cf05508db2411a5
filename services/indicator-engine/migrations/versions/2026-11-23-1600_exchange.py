"""exchange API: data values in commit order (changed_xid) and tombstones of deleted values

Revision ID: 0007_exchange
Revises: 0006_audit
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_exchange"
down_revision: str | None = "0006_audit"
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
    op.execute("ALTER TABLE data_value ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id()")
    op.execute(
        "CREATE TRIGGER data_value_changed_xid BEFORE UPDATE ON data_value"
        " FOR EACH ROW EXECUTE FUNCTION emplan_touch_changed_xid()"
    )
    op.create_index("ix_data_value_changed_xid_id", "data_value", ["changed_xid", "id"])
    op.execute(
        """
        CREATE TABLE data_value_tombstone (
            value_id bigint NOT NULL,
            element_code varchar(64) NOT NULL,
            region_code varchar(6) NOT NULL,
            year smallint NOT NULL,
            month smallint NOT NULL,
            deleted_by varchar(200) NOT NULL,
            deleted_at timestamptz NOT NULL DEFAULT now(),
            changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            CONSTRAINT pk_data_value_tombstone PRIMARY KEY (value_id)
        )
        """
    )
    op.create_index(
        "ix_data_value_tombstone_changed_xid_value_id", "data_value_tombstone", ["changed_xid", "value_id"]
    )
    op.create_index(
        "ix_data_value_tombstone_region_code",
        "data_value_tombstone",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_table("data_value_tombstone")
    op.drop_index("ix_data_value_changed_xid_id", table_name="data_value")
    op.execute("DROP TRIGGER data_value_changed_xid ON data_value")
    op.drop_column("data_value", "changed_xid")
    op.execute("DROP FUNCTION emplan_touch_changed_xid()")
