"""exchange API: evaluation rounds in commit order (changed_xid); the audit trail leaves it out

Revision ID: 0005_exchange
Revises: 0004_audit
Create Date: 2026-11-23 16:00:00
"""

from collections.abc import Sequence

from alembic import op

from emplan_shared.audit import AuditedTable

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
# The round's audit triggers of 0004_audit, made again without the new column: it changes with every
# write (the exchange API's order) and says nothing about the round itself.
DIGEST = ("snapshot", "frozen_scheme", "frozen_result")
AUDIT_BEFORE = AuditedTable("evaluation_round", "evaluation_round", digest=DIGEST)
AUDIT_AFTER = AuditedTable(
    "evaluation_round", "evaluation_round", digest=DIGEST, exclude=("updated_at", "changed_xid")
)


def _audit(old: AuditedTable, new: AuditedTable) -> None:
    for statement in old.drop_statements() + new.create_statements():
        op.execute(statement)


def upgrade() -> None:
    op.execute(TOUCH)
    # Existing rows take this migration's transaction id: a first pull reads them all anyway.
    op.execute(
        "ALTER TABLE evaluation_round ADD COLUMN changed_xid xid8 NOT NULL DEFAULT pg_current_xact_id()"
    )
    op.execute(
        "CREATE TRIGGER evaluation_round_changed_xid BEFORE UPDATE ON evaluation_round"
        " FOR EACH ROW EXECUTE FUNCTION emplan_touch_changed_xid()"
    )
    op.create_index("ix_evaluation_round_changed_xid_id", "evaluation_round", ["changed_xid", "id"])
    _audit(AUDIT_BEFORE, AUDIT_AFTER)


def downgrade() -> None:
    _audit(AUDIT_AFTER, AUDIT_BEFORE)
    op.drop_index("ix_evaluation_round_changed_xid_id", table_name="evaluation_round")
    op.execute("DROP TRIGGER evaluation_round_changed_xid ON evaluation_round")
    op.drop_column("evaluation_round", "changed_xid")
    op.execute("DROP FUNCTION emplan_touch_changed_xid()")
