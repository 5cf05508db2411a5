"""audit trail: the audit_log table and the triggers that record every write of tasks, departments, reports and evidence

Revision ID: 0004_audit
Revises: 0003_work
Create Date: 2026-11-23 15:00:00
"""

from collections.abc import Sequence

from emplan_shared.audit import AuditedTable
from emplan_shared.audit.migration_ops import (
    create_audit_table,
    create_audit_triggers,
    drop_audit_table,
    drop_audit_triggers,
)

revision: str = "0004_audit"
down_revision: str | None = "0003_work"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Rows without a region of their own are placed by their task, report, plan or department.
_VIA_TASK = "(SELECT t.region_code FROM task t WHERE t.id = (j ->> 'task_id')::uuid)"
_VIA_REPORT = "(SELECT t.region_code FROM task_report r JOIN task t ON t.id = r.task_id WHERE r.id = (j ->> 'report_id')::uuid)"
_VIA_PLAN = "(SELECT p.region_code FROM task_plan p WHERE p.id = (j ->> 'plan_id')::uuid)"
_VIA_DEPARTMENT = "(SELECT d.region_code FROM department d WHERE d.id = (j ->> 'department_id')::uuid)"

# Not recorded: task_status_change and department_change (append-only histories written with the
# task or department change the trail already holds), evidence_blob (content-addressed bytes; the
# task_evidence row that points at them is recorded).
# Frozen here (not imported from the service): what this revision created is what it drops.
AUDITED = (
    AuditedTable("department", "department"),
    AuditedTable("task_plan", "task_plan"),
    AuditedTable("task", "task"),
    AuditedTable("group_assignment", "group_assignment", region=_VIA_TASK),
    AuditedTable("assignment", "assignment", region=_VIA_TASK),
    AuditedTable("task_report", "task_report", region=_VIA_TASK),
    AuditedTable("task_evidence", "task_evidence", region=_VIA_REPORT),
    AuditedTable("plan_light_rule", "plan_light_rule", keys=("plan_id",), region=_VIA_PLAN),
    AuditedTable(
        "task_overdue_notice", "task_overdue_notice", keys=("task_id", "deadline"), region=_VIA_TASK
    ),
    AuditedTable(
        "department_reminder", "department_reminder", keys=("department_id", "period"), region=_VIA_DEPARTMENT
    ),
)


def upgrade() -> None:
    create_audit_table()
    create_audit_triggers(*AUDITED)


def downgrade() -> None:
    drop_audit_triggers(*AUDITED)
    drop_audit_table()
