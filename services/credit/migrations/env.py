from services.common.alembic_env import run
from services.credit.models import Base

run(Base.metadata)
