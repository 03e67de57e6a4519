from services.auth.models import Base
from services.common.alembic_env import run

run(Base.metadata)
