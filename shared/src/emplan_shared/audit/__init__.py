"""The audit trail every service keeps in its own database: who changed which object, when, from
which request, and what it looked like before and after.

A service adopts it in three lines: `add_audit_table(Base.metadata)` next to its messaging tables,
`create_audit_table()` in a migration, and `@auditable("department")` on the models whose changes
are recorded. Writes are captured by a session event, so no endpoint writes audit rows by hand;
`audit_router(...)` mounts the read-only query API. The four domain services record instead
with database triggers (`AuditedTable`, `create_audit_triggers()` in a migration), which also see
their Core upserts, bulk loads and deferred columns (see `triggers`).
"""

from emplan_shared.audit.context import Actor, actor_var, current_actor, set_actor
from emplan_shared.audit.recorder import AuditSpec, auditable, record
from emplan_shared.audit.tables import AUDIT_TABLE, add_audit_table
from emplan_shared.audit.triggers import AuditedTable, add_audit_staging_tables, set_audit_context

__all__ = [
    "AUDIT_TABLE",
    "Actor",
    "AuditSpec",
    "AuditedTable",
    "actor_var",
    "add_audit_staging_tables",
    "add_audit_table",
    "auditable",
    "current_actor",
    "record",
    "set_actor",
    "set_audit_context",
]
