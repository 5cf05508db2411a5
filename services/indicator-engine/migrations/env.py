from emplan_shared.migrate import run_alembic_env
from indicator_engine.models import Base

run_alembic_env(Base.metadata)
