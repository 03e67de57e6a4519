"""Write the next alembic revision of one service by comparing its models with its history.

python -m scripts.new_migration accounts "add phone to members"
"""

import shutil
import sys
import tempfile
from pathlib import Path

from alembic import command

from services.common import config
from services.common.migrate import alembic_config, upgrade


def main(service, message):
    migrations = config.PROJECT_ROOT / "services" / service / "migrations"
    (migrations / "versions").mkdir(parents=True, exist_ok=True)
    if not (migrations / "script.py.mako").exists():
        shutil.copy(config.PROJECT_ROOT / "services/common/script.py.mako", migrations)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
        upgrade(service, url)
        command.revision(alembic_config(service, url), message=message, autogenerate=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
