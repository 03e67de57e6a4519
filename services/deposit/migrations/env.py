from services.common.alembic_env import run
from services.deposit.models import Base

run(Base.metadata)
