"""Every model of the service, imported in one place for Alembic and the tests."""

from task_assignment.database import Base, messaging
from task_assignment.departments.models import Department, DepartmentChange
from task_assignment.tasks.models import Assignment, GroupAssignment, PlanRef, Task
from task_assignment.work import models as work_models  # noqa: F401  (reports, evidence, scan keys)

__all__ = [
    "Assignment",
    "Base",
    "Department",
    "DepartmentChange",
    "GroupAssignment",
    "PlanRef",
    "Task",
    "messaging",
]
