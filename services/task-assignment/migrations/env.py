from emplan_shared.migrate import run_alembic_env
from task_assignment.models import Base

run_alembic_env(Base.metadata)
