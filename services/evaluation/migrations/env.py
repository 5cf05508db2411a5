from emplan_shared.migrate import run_alembic_env
from evaluation.models import Base

run_alembic_env(Base.metadata)
