from emplan_shared.migrate import run_alembic_env
from gateway.models import Base

run_alembic_env(Base.metadata)
