"""Migration steps for the messaging tables, called from each service's first migration."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from emplan_shared.messaging.tables import DROP_OUTBOX_NOTIFY, OUTBOX_NOTIFY_FUNCTION, OUTBOX_NOTIFY_TRIGGER


def create_messaging_tables() -> None:
    op.create_table(
        "outbox_event",
        sa.Column("position", sa.BigInteger(), sa.Identity(always=True), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("envelope", postgresql.JSONB(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("position", name=op.f("pk_outbox_event")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_event_id")),
    )
    op.create_index(
        "ix_outbox_event_unpublished",
        "outbox_event",
        ["position"],
        postgresql_where=sa.text("published_at IS NULL"),
    )
    op.create_table(
        "processed_event",
        sa.Column("consumer", sa.String(length=100), nullable=False),
        sa.Column("event_id", postgresql.UUID(as_uuid=False), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_processed_event")),
    )
    op.execute(OUTBOX_NOTIFY_FUNCTION)
    op.execute(OUTBOX_NOTIFY_TRIGGER)


def drop_messaging_tables() -> None:
    for statement in DROP_OUTBOX_NOTIFY:
        op.execute(statement)
    op.drop_table("processed_event")
    op.drop_index("ix_outbox_event_unpublished", table_name="outbox_event")
    op.drop_table("outbox_event")
