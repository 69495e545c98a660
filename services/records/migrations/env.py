"""Alembic environment for records' own database."""

from records.store import metadata
from shared.migrations import run

run(metadata)
