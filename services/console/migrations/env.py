"""Alembic environment for the console's own database."""

from console.store import metadata
from shared.migrations import run

run(metadata)
