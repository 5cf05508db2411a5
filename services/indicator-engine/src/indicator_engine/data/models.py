from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Identity,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from emplan_shared.exchange import CURRENT_XID, Xid8
from indicator_engine.database import Base

# month 0 is the whole year: a NOT NULL key column keeps the unique key and ON CONFLICT simple.
ANNUAL = 0


class DataValue(Base):
    """The current version of one figure: element × region × year × month."""

    __tablename__ = "data_value"
    __table_args__ = (
        UniqueConstraint("element_code", "region_code", "year", "month"),
        # text_pattern_ops lets a jurisdiction filter (`region_code LIKE '1409%'`) use the index.
        Index("ix_data_value_region_code", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
        CheckConstraint("month BETWEEN 0 AND 12", name="month_range"),
        CheckConstraint("state IN ('draft', 'submitted', 'approved')", name="state_known"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No foreign key to data_element: every value is checked against the elements before it is written,
    # an element in use cannot be deleted, and the per-row key check cost a third of the bulk load.
    element_code: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(SmallInteger)
    month: Mapped[int] = mapped_column(SmallInteger, default=ANNUAL)
    value: Mapped[Decimal] = mapped_column(Numeric)
    source: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20), default="draft")
    # Set when a rule asks a person to look again (e.g. `jump`: over N times last year's value).
    review_flag: Mapped[str | None] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(Integer, default=1)
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    entered_by: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # The transaction that wrote this version (a trigger moves it on update): the exchange API's order.
    changed_xid: Mapped[int] = mapped_column(Xid8(), server_default=CURRENT_XID)


Index("ix_data_value_changed_xid_id", DataValue.changed_xid, DataValue.id)


class DataValueTombstone(Base):
    """A deleted value, for the exchange API: a peer that copied it learns that it is gone.

    Kept apart from `data_value` so that no reader of current values (roll-ups, approval checks,
    bulk rules) can count a deleted one; its last version stays in `data_value_history`."""

    __tablename__ = "data_value_tombstone"
    __table_args__ = (
        Index(
            "ix_data_value_tombstone_region_code",
            "region_code",
            postgresql_ops={"region_code": "text_pattern_ops"},
        ),
    )

    value_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    element_code: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(SmallInteger)
    month: Mapped[int] = mapped_column(SmallInteger)
    deleted_by: Mapped[str] = mapped_column(String(200))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    changed_xid: Mapped[int] = mapped_column(Xid8(), server_default=CURRENT_XID)


Index(
    "ix_data_value_tombstone_changed_xid_value_id",
    DataValueTombstone.changed_xid,
    DataValueTombstone.value_id,
)


class DataValueHistory(Base):
    """A superseded version of a value: what it was before a correction, a state change or a deletion.

    The current row plus these rows are the whole history; a deleted value lives on here only."""

    __tablename__ = "data_value_history"
    __table_args__ = (Index(None, "element_code", "region_code", "year", "month"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    value_id: Mapped[int] = mapped_column(BigInteger, index=True)  # no FK: the value may be deleted
    element_code: Mapped[str] = mapped_column(String(64))
    region_code: Mapped[str] = mapped_column(String(6))
    year: Mapped[int] = mapped_column(SmallInteger)
    month: Mapped[int] = mapped_column(SmallInteger)
    version: Mapped[int] = mapped_column(Integer)
    value: Mapped[Decimal] = mapped_column(Numeric)
    source: Mapped[str | None] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(20))
    review_flag: Mapped[str | None] = mapped_column(String(40))
    batch_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    entered_by: Mapped[str] = mapped_column(String(200))
    entered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # What replaced this version, by whom and when: corrected | submitted | approved | unapproved | deleted
    superseded_by_action: Mapped[str] = mapped_column(String(20))
    superseded_by: Mapped[str] = mapped_column(String(200))
    superseded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DataBatch(Base):
    """One bulk load (JSON, CSV or .xlsx) and its outcome; the rejected rows are in the response."""

    __tablename__ = "data_batch"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    format: Mapped[str] = mapped_column(String(10))  # json | csv | xlsx
    filename: Mapped[str | None] = mapped_column(String(255))
    partial: Mapped[bool] = mapped_column(default=False)
    rows_total: Mapped[int] = mapped_column(Integer)
    rows_loaded: Mapped[int] = mapped_column(Integer)
    rows_rejected: Mapped[int] = mapped_column(Integer)
    rows_flagged: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
