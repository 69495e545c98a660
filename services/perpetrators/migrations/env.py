"""Alembic environment for perpetrators' own database."""

from perpetrators.store import metadata
from shared.migrations import run

run(metadata)
