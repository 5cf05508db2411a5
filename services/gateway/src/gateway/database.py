"""The service's one metadata: its own tables plus the shared messaging tables."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from emplan_shared.audit import add_audit_table
from emplan_shared.db import new_metadata
from emplan_shared.messaging.tables import add_messaging_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = add_messaging_tables(Base.metadata)
audit_log = add_audit_table(Base.metadata)
