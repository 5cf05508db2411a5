"""The service's one metadata: its own tables plus the shared messaging and audit tables."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from emplan_shared.audit import add_audit_staging_tables, add_audit_table
from emplan_shared.db import new_metadata
from emplan_shared.messaging.tables import add_messaging_tables


class Base(DeclarativeBase):
    metadata = new_metadata()


messaging = add_messaging_tables(Base.metadata)
# Written by the triggers of the `audit` migration; read through GET /api/v1/<area>/audit.
audit_log = add_audit_table(Base.metadata)
audit_staging = add_audit_staging_tables(Base.metadata)
