"""Alembic environment for intake's own database."""

from intake.store import metadata
from shared.migrations import run

run(metadata)
