"""Every model of the service, imported in one place for Alembic and the tests."""

from task_assignment.database import Base, messaging
from task_assignment.departments.models import Department, DepartmentChange

__all__ = ["Base", "Department", "DepartmentChange", "messaging"]
