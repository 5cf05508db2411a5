from emplan_shared.migrate import run_alembic_env
from plan_registry.models import Base

run_alembic_env(Base.metadata)
