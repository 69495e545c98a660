"""Write a new Alembic migration for one service by comparing its tables with its migrations.

.venv/bin/python deploy/migration.py triage "add referral ledger"
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    service, message = sys.argv[1], sys.argv[2]
    migrations = ROOT / "services" / service / "migrations"
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/scratch.db"
        config = Config()
        config.set_main_option("script_location", str(migrations))
        config.attributes["database_url"] = url
        command.upgrade(config, "head")
        existing = list((migrations / "versions").glob("*.py"))
        command.revision(
            config, message=message, autogenerate=True, rev_id=f"{len(existing) + 1:04d}"
        )


if __name__ == "__main__":
    main()
